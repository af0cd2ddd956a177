import { z } from "zod";
import { isoDateOrDateTime, isoRangeEnd } from "../http/common.schema.ts";
import { InsightsWindowPreset } from "@insights/shared/db/client";

/** Server-side bound on campaigns per scope: it bounds the work one pack can ask for. */
export const MAX_CAMPAIGN_CAP = 50;

export const campaignCap = z.number().int().min(1).max(MAX_CAMPAIGN_CAP);

export const putPreferencesBody = z
  .strictObject({
    windowPreset: z.enum(InsightsWindowPreset),
    customFrom: isoDateOrDateTime.nullish(),
    /** A date-only value means the end of that day (UTC), as in a pack request's window. */
    customTo: isoRangeEnd.nullish(),
    campaignCap,
  })
  .superRefine((value, ctx) => {
    if (value.windowPreset === "CUSTOM" && (!value.customFrom || !value.customTo)) {
      for (const field of ["customFrom", "customTo"] as const) {
        if (!value[field]) ctx.addIssue({ code: "custom", path: [field], message: "is required for a CUSTOM window" });
      }
    }
    if (value.customFrom && value.customTo && value.customFrom >= value.customTo) {
      ctx.addIssue({ code: "custom", path: ["customTo"], message: "must be after customFrom" });
    }
  });

/** The caller's preferences as the API returns them (`updatedAt` null: never saved, these are the defaults). */
export const preferencesResponse = z.object({
  windowPreset: z.enum(InsightsWindowPreset),
  customFrom: z.date().nullable(),
  customTo: z.date().nullable(),
  campaignCap: z.number().int(),
  updatedAt: z.date().nullable(),
});
export type PreferencesResponse = z.output<typeof preferencesResponse>;
