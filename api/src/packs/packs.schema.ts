import { z } from "zod";
import { id, isStorableDate } from "../http/common.schema.ts";
import { campaignCap } from "../preferences/preferences.schema.ts";

/**
 * An ISO date (`2026-01-31`) or date-time with offset, kept as text here: a date-only `to` means the end of that
 * day (UTC), so the transform below needs to know which form was sent.
 */
const dateOrDateTimeText = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

const windowInput = z.discriminatedUnion("preset", [
  z.strictObject({ preset: z.enum(["LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS"]) }),
  z
    .strictObject({ preset: z.literal("CUSTOM"), from: dateOrDateTimeText, to: dateOrDateTimeText })
    .transform((w) => ({
      preset: "CUSTOM" as const,
      from: new Date(w.from),
      to: w.to.length === 10 ? new Date(new Date(w.to).getTime() + 24 * 3600_000) : new Date(w.to),
    }))
    .refine((w) => isStorableDate(w.from), { message: "must be between the years 1 and 9999 (UTC)", path: ["from"] })
    .refine((w) => isStorableDate(w.to), { message: "must be between the years 1 and 9999 (UTC)", path: ["to"] })
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
