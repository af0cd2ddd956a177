import { z } from "zod";
import { packMetricsSchema } from "@insights/shared/insights/shapes";
import { id, isoDateOrDateTime, isoRangeEnd } from "../http/common.schema.ts";
import { pageQuery } from "../http/pagination.ts";
import { campaignCap } from "../preferences/preferences.schema.ts";

const windowInput = z.discriminatedUnion("preset", [
  z.strictObject({ preset: z.enum(["LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS"]) }),
  z
    .strictObject({ preset: z.literal("CUSTOM"), from: isoDateOrDateTime, to: isoRangeEnd })
    .refine((w) => w.from < w.to, { message: "from must be before to", path: ["to"] }),
]);

export const requestPackBody = z.strictObject({
  window: windowInput.optional(),
  campaignIds: z.array(id).max(200).optional(),
  campaignCap: campaignCap.optional(),
});

export const recomputePackBody = z.strictObject({
  /** Re-extract every lead, not only those whose thread changed. */
  force: z.boolean().default(false),
});

/** A context pack as the API returns it: the contract's shape, plus provider, model, generation and failures. */
export const packResponse = z.object({
  id: z.string(),
  sessionId: z.string(),
  /** Canonical string of the normalised scope: the same scope written differently gives the same key. */
  scopeKey: z.string(),
  scope: z.object({
    window: z.object({ preset: z.enum(["LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS", "CUSTOM"]), from: z.date(), to: z.date() }),
    campaignIds: z.array(z.string()),
    campaignCap: z.number().int(),
  }),
  status: z.enum(["PENDING", "RUNNING", "COMPLETE", "FAILED", "CANCELLED"]),
  progress: z.object({
    stage: z.enum(["QUEUED", "SELECTING", "EXTRACTING", "SYNTHESIZING", "DONE"]),
    totalLeads: z.number().int(),
    processedLeads: z.number().int(),
    cachedLeads: z.number().int(),
    failedLeads: z.number().int(),
    percent: z.number().int(),
  }),
  synthesis: z.string().nullable(),
  /** Leads by outcome and by campaign, reply and positive rates, counts; null until the pack completes. */
  metrics: packMetricsSchema.nullable(),
  /** "openai" or "offline" (the built-in extractive provider). */
  provider: z.string().nullable(),
  model: z.string().nullable(),
  usage: z.object({ llmCalls: z.number().int(), inputTokens: z.number().int(), outputTokens: z.number().int() }),
  /** Bumped by every restart and recompute. */
  generation: z.number().int(),
  /** A thread in scope changed after the pack completed, or its relative window has moved on. */
  stale: z.boolean(),
  error: z.string().nullable(),
  /** The first few leads that could not be summarized, and why. */
  failures: z.array(z.object({ leadId: z.string(), error: z.string().nullable() })),
  createdAt: z.date(),
  startedAt: z.date().nullable(),
  completedAt: z.date().nullable(),
});
export type PackResponse = z.output<typeof packResponse>;

export const listPacksQuery = z.object(pageQuery);
export const packPage = z.object({ packs: z.array(packResponse), nextCursor: z.string().nullable() });
export type PackPage = z.output<typeof packPage>;

export const deletedPackResponse = z.object({ id: z.string(), sessionId: z.string(), deletedAt: z.date() });
export type DeletedPackResponse = z.output<typeof deletedPackResponse>;
