// The worker process: wires config, clients and shutdown, then runs every queue's worker. Run 1..N of them.
import { createDb } from "@insights/shared/db/client";
import { modelPolicyOf } from "@insights/shared/llm-models";
import { createLogger } from "@insights/shared/logger";
import { createRedis } from "@insights/shared/redis";
import { startTracing } from "@insights/shared/tracing";
import { webhookSettingsOf } from "@insights/shared/webhooks/secret-box";
import { loadWorkerConfig } from "./config.ts";
import { createOfflineProvider } from "./llm/offline-provider.ts";
import { createOpenAiProvider } from "./llm/openai-provider.ts";
import { createRedisRateLimiter, unlimited } from "./llm/rate-limit.ts";
import { startMetricsServer, type MetricsServer } from "./runtime/metrics-server.ts";
import { createWorkerMetrics } from "./runtime/metrics.ts";
import { DEFAULT_TUNING, startWorkers } from "./runtime/start-workers.ts";

const config = loadWorkerConfig();
const logger = createLogger("worker", config.LOG_LEVEL);
// Before the workers are built: they take their tracing hook at construction.
const tracing = await startTracing("insights-worker", { endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
const db = createDb(config.DATABASE_URL, { maxConnections: Math.max(10, config.LLM_CONCURRENCY * 2) });
const connection = createRedis(config.REDIS_URL, { role: "worker" });
const subscriber = createRedis(config.REDIS_URL, { role: "worker-cancellations" });
for (const redis of [connection, subscriber]) {
  redis.on("error", (err) => logger.warn({ err: err.message }, "redis connection error"));
}

const metrics = createWorkerMetrics();
const llm = config.OPENAI_API_KEY
  ? createOpenAiProvider({
      apiKey: config.OPENAI_API_KEY,
      baseURL: config.OPENAI_BASE_URL,
      timeoutMs: config.LLM_TIMEOUT_MS,
      retry: { maxRetries: config.LLM_MAX_RETRIES, baseDelayMs: config.LLM_RETRY_BASE_MS, maxDelayMs: config.LLM_RETRY_MAX_DELAY_MS },
      malformedRetries: config.LLM_MALFORMED_RETRIES,
      rateLimiter: config.LLM_MAX_REQUESTS_PER_MINUTE
        ? createRedisRateLimiter({
            redis: connection,
            prefix: config.QUEUE_PREFIX,
            requestsPerMinute: config.LLM_MAX_REQUESTS_PER_MINUTE,
            logger,
          })
        : unlimited,
      metrics: metrics.llm,
    })
  : createOfflineProvider();
logger.info(
  { provider: llm.name },
  llm.name === "offline" ? "no OPENAI_API_KEY: using the built-in offline provider (extractive, labelled)" : "using the OpenAI client",
);

const runtime = await startWorkers({
  db,
  connection,
  subscriber,
  prefix: config.QUEUE_PREFIX,
  llm,
  models: modelPolicyOf(config),
  logger,
  metrics,
  tuning: {
    ...DEFAULT_TUNING,
    packConcurrency: config.PACK_CONCURRENCY,
    chunkConcurrency: config.CHUNK_CONCURRENCY,
    chunkSize: config.PACK_CHUNK_SIZE,
    replyConcurrency: config.REPLY_CONCURRENCY,
    llmConcurrency: config.LLM_CONCURRENCY,
    maxLeadsPerPack: config.PACK_MAX_LEADS,
    progressIntervalMs: config.PROGRESS_INTERVAL_MS,
    reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
    retentionSweepIntervalMs: config.RETENTION_SWEEP_INTERVAL_MS,
    sessionRetentionDays: config.SESSION_RETENTION_DAYS,
    reconcileGraceMs: config.RECONCILE_GRACE_MS,
    lockDurationMs: config.JOB_LOCK_MS,
    webhookConcurrency: config.WEBHOOK_CONCURRENCY,
    webhookTimeoutMs: config.WEBHOOK_TIMEOUT_MS,
    webhookRetryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
  },
  webhooks: webhookSettingsOf(config),
});
logger.info({ prefix: config.QUEUE_PREFIX }, "worker started");

// Metrics are not worth stopping job processing for: a port clash (two workers on one host without their own
// METRICS_PORT) is logged as an error and the worker runs on without them.
let metricsServer: MetricsServer | null = null;
if (config.METRICS_PORT > 0) {
  try {
    metricsServer = await startMetricsServer({
      port: config.METRICS_PORT,
      registry: metrics.registry,
      readiness: { postgres: () => db.$queryRaw`SELECT 1`, redis: () => connection.ping() },
      token: config.METRICS_TOKEN,
      logger,
    });
    logger.info({ port: metricsServer.port }, `metrics, /healthz and /readyz on port ${metricsServer.port}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    logger.error(
      { err },
      code === "EADDRINUSE"
        ? `METRICS_PORT ${config.METRICS_PORT} is in use: give each worker on this host its own METRICS_PORT (or 0); running without metrics`
        : "could not start the metrics server; running without metrics",
    );
  }
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "stopping: releasing running packs back to the queue");
  // Releasing jobs needs Redis. If it is down, closing could wait forever; exit anyway after the grace period: the
  // jobs' locks expire and another worker resumes them.
  setTimeout(() => {
    logger.error({ graceMs: config.SHUTDOWN_TIMEOUT_MS }, "shutdown did not finish in time; exiting without it");
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS).unref();
  await runtime.close();
  await metricsServer?.close();
  await db.$disconnect();
  await Promise.allSettled([connection.quit(), subscriber.quit(), tracing?.shutdown()]);
  logger.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
