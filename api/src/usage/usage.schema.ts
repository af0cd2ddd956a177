import { z } from "zod";
import { isoDateOrDateTime, isoRangeEnd, isStorableDate } from "../http/common.schema.ts";

const DAY_MS = 24 * 3600_000;

/** Defaults to the last 30 days; at most a year per request. A date-only `to` includes that day. */
export const usageQuery = z
  .object({ from: isoDateOrDateTime.optional(), to: isoRangeEnd.optional() })
  .transform(({ from, to }) => {
    const end = to ?? new Date();
    return { from: from ?? new Date(end.getTime() - 30 * DAY_MS), to: end };
  })
  // The default `from` is derived from `to`: it must be storable too (30 days before year 1 is not).
  .refine((q) => isStorableDate(q.from), {
    message: "is too early: the default from, 30 days before it, cannot be stored; send from",
    path: ["to"],
  })
  .refine((q) => q.from < q.to, { message: "from must be before to", path: ["from"] })
  .refine((q) => q.to.getTime() - q.from.getTime() <= 366 * DAY_MS, { message: "covers at most 366 days", path: ["to"] });

const spent = z.object({ llmCalls: z.number().int(), inputTokens: z.number().int(), outputTokens: z.number().int() });
const saved = z.object({ inputTokens: z.number().int(), outputTokens: z.number().int() });

/** What the range spent (extraction, synthesis, answers) and what reusing summaries and packs saved. */
export const usageResponse = z.object({
  from: z.date(),
  to: z.date(),
  totals: spent,
  byKind: z.object({ EXTRACTION: spent, SYNTHESIS: spent, ANSWER: spent }),
  saved: saved.extend({ cachedLeadSummaries: saved, reusedPacks: saved }),
  byDay: z.array(
    z.object({
      /** YYYY-MM-DD (UTC). */
      date: z.string(),
      llmCalls: z.number().int(),
      inputTokens: z.number().int(),
      outputTokens: z.number().int(),
      savedInputTokens: z.number().int(),
      savedOutputTokens: z.number().int(),
    }),
  ),
});
export type UsageResponse = z.output<typeof usageResponse>;
