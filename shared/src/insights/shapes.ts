// Shapes the worker writes into JSON columns and the API sends back as they are: declared once here, so the
// worker's code and the API's OpenAPI document cannot disagree about them.
import { z } from "zod";
import { ConversationInsightOutcome } from "../db/client.ts";

const rate = z.number().min(0).max(1).describe("A share between 0 and 1, rounded to 3 decimals");

/** A pack's metrics, computed in SQL over the run's summarized leads before synthesis. */
export const packMetricsSchema = z.object({
  /** Which provider summarized the leads ("openai" or "offline"). */
  provider: z.string(),
  counts: z.object({
    total: z.number().int(),
    summarized: z.number().int(),
    extracted: z.number().int(),
    cached: z.number().int(),
    failed: z.number().int(),
  }),
  /** Summarized leads by outcome; outcomes no lead had are left out. */
  byOutcome: z.partialRecord(z.enum(ConversationInsightOutcome), z.number().int()),
  byCampaign: z.array(
    z.object({
      campaignId: z.string().nullable(),
      campaignName: z.string().nullable(),
      leads: z.number().int(),
      replied: z.number().int(),
      positive: z.number().int(),
      replyRate: rate,
      positiveRate: rate,
    }),
  ),
  replyRate: rate,
  positiveRate: rate,
});
export type PackMetrics = z.infer<typeof packMetricsSchema>;

/** The actions an answer may suggest, each behind its workspace toggle. This service executes none of them. */
export const ACTION_TYPES = ["CAMPAIGN_CHANGE", "EXPERIMENT_WRITE", "FOLLOWUP_PAUSE"] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const suggestedActionSchema = z.object({
  type: z.enum(ACTION_TYPES),
  title: z.string().min(1).max(200),
  rationale: z.string().max(1000),
  campaignId: z.string().max(128).nullable(),
  leadIds: z.array(z.string().max(128)).max(50),
});
export type SuggestedAction = z.infer<typeof suggestedActionSchema>;
