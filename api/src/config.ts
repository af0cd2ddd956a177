import { z } from "zod";
import { baseEnvSchema, loadConfig } from "@insights/shared/config";

export const apiEnvSchema = baseEnvSchema.extend({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  AUTH_JWT_SECRET: z.string().min(32, "must be at least 32 characters (HS256 needs a strong key)"),
  /** Who may open Bull Board (/admin/queues): comma-separated user ids or emails. Unset: nobody. */
  OPS_ADMINS: z
    .string()
    .default("")
    .transform((list) => list.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)),
  /** Per-user budgets on /v1, per minute: reads are GET/HEAD, writes POST/PUT/PATCH/DELETE. 0: no limit. */
  RATE_LIMIT_READS_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  RATE_LIMIT_WRITES_PER_MINUTE: z.coerce.number().int().min(0).default(120),
  /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`; unset, /metrics is open (no tenant data). */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
});

export type ApiConfig = z.infer<typeof apiEnvSchema>;

export const loadApiConfig = (env?: NodeJS.ProcessEnv): ApiConfig => loadConfig(apiEnvSchema, env);
