import { z } from "zod";

export const REASONING_EFFORTS = ["low", "medium", "high"] as const;

export const patchSettingsBody = z
  .strictObject({
    insightsChatModel: z.string().regex(/^[A-Za-z0-9._:/-]{1,100}$/, "must be a model name"),
    insightsChatReasoningEffort: z.enum(REASONING_EFFORTS),
    insightsChatEnableCampaignChanges: z.boolean(),
    insightsChatEnableExperimentWrites: z.boolean(),
    insightsChatEnableFollowupPauses: z.boolean(),
  })
  .partial()
  .refine((value) => Object.keys(value).length > 0, { message: "name at least one setting to change" });

export const settingsResponse = z.object({
  insightsChatModel: z.string(),
  insightsChatReasoningEffort: z.string(),
  insightsChatEnableCampaignChanges: z.boolean(),
  insightsChatEnableExperimentWrites: z.boolean(),
  insightsChatEnableFollowupPauses: z.boolean(),
  updatedAt: z.date(),
});
export type SettingsResponse = z.output<typeof settingsResponse>;
