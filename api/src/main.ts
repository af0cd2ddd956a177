// The API process: wires config, clients and shutdown, then serves createApi().
import type { Server } from "node:http";
import { createDb } from "@insights/shared/db/client";
import { createLogger } from "@insights/shared/logger";
import { modelPolicyOf } from "@insights/shared/llm-models";
import { createRedis } from "@insights/shared/redis";
import { startTracing } from "@insights/shared/tracing";
import { webhookSettingsOf } from "@insights/shared/webhooks/secret-box";
import { createApi } from "./app.ts";
import { loadApiConfig } from "./config.ts";

const SHUTDOWN_GRACE_MS = 10_000;

const config = loadApiConfig();
const logger = createLogger("api", config.LOG_LEVEL);
// Before the queues are built: they take their tracing hook at construction.
const tracing = await startTracing("insights-api", { endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
const db = createDb(config.DATABASE_URL);
// Fail fast: with Redis down, writes that need the queue answer 503 instead of hanging (reads keep working).
const redis = createRedis(config.REDIS_URL, { role: "api", failFast: true });
redis.on("error", (err) => logger.warn({ err: err.message }, "redis connection error"));
const api = createApi(
  { db, redis, redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, logger },
  {
    jwtSecret: config.AUTH_JWT_SECRET,
    opsAdmins: config.OPS_ADMINS,
    sessionRetentionDays: config.SESSION_RETENTION_DAYS,
    models: modelPolicyOf(config),
    webhooks: webhookSettingsOf(config),
    metricsToken: config.METRICS_TOKEN,
    rateLimit: { readsPerWindow: config.RATE_LIMIT_READS_PER_MINUTE, writesPerWindow: config.RATE_LIMIT_WRITES_PER_MINUTE },
    live: {
      keepAliveMs: config.LIVE_KEEPALIVE_MS,
      maxStreamMs: config.LIVE_MAX_STREAM_MS,
      maxStreamsPerUser: config.LIVE_MAX_STREAMS_PER_USER,
      maxBufferedBytes: config.LIVE_MAX_BUFFERED_BYTES,
      accessCheckMs: config.LIVE_ACCESS_CHECK_MS,
    },
  },
);

const server: Server = api.app.listen(config.PORT, () => {
  logger.info({ port: config.PORT }, `API listening on http://localhost:${config.PORT}`);
});
server.on("error", (err: NodeJS.ErrnoException) => {
  logger.fatal(err.code === "EADDRINUSE" ? `port ${config.PORT} is in use; stop the other process or set PORT` : err.message);
  process.exit(1);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "draining requests");
  // Event streams never end by themselves: close them first (their clients resume on another process).
  await api.liveHub.close();
  // Stop accepting connections and let in-flight requests finish; idle keep-alive sockets are closed now.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await closed;
  clearTimeout(timer);
  await Promise.allSettled([db.$disconnect(), api.close(), tracing?.shutdown()]);
  await redis.quit().catch(() => undefined);
  logger.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
