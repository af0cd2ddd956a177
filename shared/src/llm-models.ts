// Which model a workspace's LLM work runs on. The deployment names a default (LLM_MODEL) and the models admins may
// choose (LLM_ALLOWED_MODELS); a workspace that chose none, or chose one the operator has since withdrawn, runs on
// the default. The API refuses to store a model outside the list; the worker resolves with the same function.
import { z } from "zod";

export const MODEL_NAME = /^[A-Za-z0-9._:/-]{1,100}$/;
const DEFAULT_LLM_MODEL = "gpt-5-mini";
const modelName = z.string().regex(MODEL_NAME, "must be a model name (letters, digits and . _ : / -)");

/** Merged into the base environment schema: both processes resolve models. */
export const llmModelEnv = {
  /** The model used where a workspace has not chosen one. */
  LLM_MODEL: modelName.default(DEFAULT_LLM_MODEL),
  /** Comma-separated models admins may choose; unset: LLM_MODEL only. */
  LLM_ALLOWED_MODELS: z
    .string()
    .optional()
    .transform((list) =>
      (list ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(modelName)),
};

export interface ModelPolicy {
  defaultModel: string;
  /** Always includes the default. */
  allowedModels: string[];
}

/** What a deployment that sets neither variable runs with (the benchmarks use it). */
export const DEFAULT_MODEL_POLICY: ModelPolicy = { defaultModel: DEFAULT_LLM_MODEL, allowedModels: [DEFAULT_LLM_MODEL] };

type LlmModelEnv = { LLM_MODEL: string; LLM_ALLOWED_MODELS: string[] };

/**
 * Start-up check: a default outside a list the operator wrote is a mistake worth stopping for (it would mean
 * workspaces run on a model admins may not pick). Attach with `.superRefine` where the config is loaded.
 */
export function checkModelPolicy(env: LlmModelEnv, ctx: z.RefinementCtx): void {
  if (env.LLM_ALLOWED_MODELS.length > 0 && !env.LLM_ALLOWED_MODELS.includes(env.LLM_MODEL)) {
    ctx.addIssue({
      code: "custom",
      path: ["LLM_MODEL"],
      message: `must be one of LLM_ALLOWED_MODELS (${env.LLM_ALLOWED_MODELS.join(", ")})`,
    });
  }
}

export function modelPolicyOf(env: LlmModelEnv): ModelPolicy {
  return {
    defaultModel: env.LLM_MODEL,
    allowedModels: env.LLM_ALLOWED_MODELS.length > 0 ? env.LLM_ALLOWED_MODELS : [env.LLM_MODEL],
  };
}

/** The model a workspace's work runs on. */
export function effectiveModel(chosen: string | null | undefined, policy: ModelPolicy): string {
  return chosen && policy.allowedModels.includes(chosen) ? chosen : policy.defaultModel;
}
