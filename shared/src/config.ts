// Configuration: each process parses its environment once, at start, with its own zod schema built on this base.
// process.env is read nowhere else.
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { llmModelEnv } from "./llm-models.ts";
import { secretKeyEnv } from "./webhooks/secret-box.ts";

export const baseEnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgresql:// URL" }),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: "must be a redis:// URL" }),
  /** Isolates one deployment or test run in a shared Redis. Wrap it in {braces} for Redis Cluster. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:{}_-]{1,64}$/, "letters, digits and : { } _ - only")
    .default("insights"),
  /** When set, the OpenAI client is used; when absent, the built-in offline provider. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** Any OpenAI-compatible server. */
  OPENAI_BASE_URL: z.url().optional(),
  ...llmModelEnv,
  /** How long a soft-deleted session can be restored; after that the worker purges its messages and packs. */
  SESSION_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(30),
  /** Seals webhook signing secrets (AES-256-GCM); unset: webhooks cannot be set up. 32 bytes, base64. */
  WEBHOOK_SECRET_KEY: secretKeyEnv,
  /** During a key rotation: the key secrets were sealed with until now (still decrypts; see docs/OPERATIONS.md). */
  WEBHOOK_SECRET_KEY_PREVIOUS: secretKeyEnv,
  /** true: webhooks may reach loopback, private and link-local addresses (development and tests only). */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** When set, traces are exported to this OpenTelemetry collector (OTLP/HTTP, `<url>/v1/traces`); unset: off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
});

/**
 * For the developer commands (`npm start`, the CLI): loads `.env`, or on a fresh clone `.env.example`, whose
 * defaults point at this machine's services. Variables already set win (loadEnvFile never overrides). The
 * services themselves never fall back to the example file. Returns the file used, or null.
 */
export function loadLocalEnv(dir = "."): string | null {
  for (const file of [".env", ".env.example"]) {
    const full = path.join(dir, file);
    if (existsSync(full)) {
      process.loadEnvFile(full);
      return file;
    }
  }
  return null;
}

/**
 * Parses the environment (after loading `.env` from the working directory, if there is one). On a bad or missing
 * value it prints one line naming every failing variable and stops the process: a service that starts half
 * configured fails later, somewhere less obvious.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  if (env === process.env && existsSync(".env")) process.loadEnvFile(".env");
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join(".");
    return env[name] === undefined ? `${name} is missing` : `${name} ${issue.message}`;
  });
  process.stderr.write(`config: ${problems.join("; ")} (set it in the environment or in .env; see .env.example)\n`);
  process.exit(1);
}
