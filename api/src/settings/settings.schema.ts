import { z } from "zod";
import { MODEL_NAME } from "@insights/shared/llm-models";

export const REASONING_EFFORTS = ["low", "medium", "high"] as const;

export const patchSettingsBody = z
  .strictObject({
    /** One of the deployment's LLM_ALLOWED_MODELS (checked by the service); null: the deployment's LLM_MODEL. */
    insightsChatModel: z.string().regex(MODEL_NAME, "must be a model name").nullable(),
    insightsChatReasoningEffort: z.enum(REASONING_EFFORTS),
    insightsChatEnableCampaignChanges: z.boolean(),
    insightsChatEnableExperimentWrites: z.boolean(),
    insightsChatEnableFollowupPauses: z.boolean(),
  })
  .partial()
  .refine((value) => Object.keys(value).length > 0, { message: "name at least one setting to change" });

export const settingsResponse = z.object({
  /** The model this workspace's work runs on: its own choice, or the deployment's LLM_MODEL. */
  insightsChatModel: z.string(),
  /** True when the workspace has not chosen a model (or chose one the deployment no longer allows). */
  insightsChatModelIsDefault: z.boolean(),
  /** What an admin may set `insightsChatModel` to (the deployment's LLM_ALLOWED_MODELS). */
  allowedModels: z.array(z.string()),
  insightsChatReasoningEffort: z.string(),
  insightsChatEnableCampaignChanges: z.boolean(),
  insightsChatEnableExperimentWrites: z.boolean(),
  insightsChatEnableFollowupPauses: z.boolean(),
  updatedAt: z.date(),
});
export type SettingsResponse = z.output<typeof settingsResponse>;
