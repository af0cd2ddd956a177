import { z } from "zod";
import { baseEnvSchema, loadConfig } from "@insights/shared/config";
import { checkModelPolicy } from "@insights/shared/llm-models";

export const apiEnvSchema = baseEnvSchema.extend({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  AUTH_JWT_SECRET: z.string().min(32, "must be at least 32 characters (HS256 needs a strong key)"),
  /** Who may open Bull Board (/admin/queues): comma-separated user ids or emails. Unset: nobody. */
  OPS_ADMINS: z
    .string()
    .default("")
    .transform((list) =>
      list
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  /** Per-user budgets on /v1, per minute: reads are GET/HEAD, writes POST/PUT/PATCH/DELETE. 0: no limit. */
  RATE_LIMIT_READS_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  RATE_LIMIT_WRITES_PER_MINUTE: z.coerce.number().int().min(0).default(120),
  /** Live session events (SSE): a comment line at least this often, so proxies keep an idle stream open. */
  LIVE_KEEPALIVE_MS: z.coerce.number().int().min(100).max(15_000).default(15_000),
  /** An event stream is closed after this long; its client resumes (spreads streams over new API processes). */
  LIVE_MAX_STREAM_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(30 * 60_000),
  /** Open event streams one user may hold on one API process; the next one is refused with 429. */
  LIVE_MAX_STREAMS_PER_USER: z.coerce.number().int().min(1).default(10),
  /** Bytes a stream may have waiting for a slow client for 5 s (4× at once) before it is closed; the client resumes. */
  LIVE_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024),
  /** How often open streams re-check that their user is still a member and the session is still visible. */
  LIVE_ACCESS_CHECK_MS: z.coerce.number().int().min(100).default(3_000),
  /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`; unset, /metrics is open (no tenant data). */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
});

export type ApiConfig = z.infer<typeof apiEnvSchema>;

export const loadApiConfig = (env?: NodeJS.ProcessEnv): ApiConfig => loadConfig(apiEnvSchema.superRefine(checkModelPolicy), env);
