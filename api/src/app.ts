// Builds the Express app without listening, so tests and benchmarks drive exactly what main.ts serves.
import express, { type Express } from "express";
import type { Redis } from "ioredis";
import type { Db } from "@insights/shared/db/client";
import { closeJobQueues, createJobQueues, type JobQueues } from "@insights/shared/jobs/job-queues";
import type { SessionEventLog } from "@insights/shared/live/session-events";
import type { ModelPolicy } from "@insights/shared/llm-models";
import type { Logger } from "@insights/shared/logger";
import type { ReadinessCheck } from "@insights/shared/readiness";
import type { WebhookSettings } from "@insights/shared/webhooks/secret-box";
import { authenticate } from "./auth/guards.ts";
import { errorHandler, routeNotFound } from "./http/error-handler.ts";
import { mountRoutes } from "./http/mount-routes.ts";
import { rateLimitPerUser, type RateLimitOptions } from "./http/rate-limit.ts";
import { assignRequestId } from "./http/request-context.ts";
import { logRequests, requestRouteLabeler } from "./http/request-log.ts";
import { traceRequests } from "./http/trace-requests.ts";
import { createJobClient, type JobClient } from "./jobs/job-client.ts";
import { createLiveEvents } from "./live/live-events.ts";
import { startLive, type LiveHub, type LiveLimits } from "./live/live-hub.ts";
import { createApiMetrics } from "./ops/metrics.ts";
import { ALL_ROUTES } from "./routes.ts";

export interface AppDeps {
  db: Db;
  logger: Logger;
  jwtSecret: string;
  jobs: JobClient;
  /** How long a deleted session stays restorable. */
  sessionRetentionDays: number;
  /** For Bull Board. */
  queues: JobQueues;
  /** User ids or emails (lowercase) allowed into Bull Board. */
  opsAdmins: string[];
  /** Each named dependency must answer for /readyz to be ready. */
  readiness: Record<string, ReadinessCheck>;
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`; unset, it is open (no tenant data). */
  metricsToken?: string | undefined;
  /** Per-user read and write budgets for /v1, counted in Redis. */
  rateLimit: RateLimitOptions;
  /** Live session events: the log every process appends to, and this process's open streams. */
  liveLog: SessionEventLog;
  liveHub: LiveHub;
  /** LLM_MODEL and LLM_ALLOWED_MODELS: the model a workspace runs on when it chose none, and what admins may choose. */
  models: ModelPolicy;
  /** WEBHOOK_SECRET_KEY (sealing signing secrets) and WEBHOOK_ALLOW_PRIVATE. */
  webhooks: WebhookSettings;
}

function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback");
  app.use(assignRequestId);
  // Per app, not per process: tests build several apps, each with its own registry.
  const metrics = createApiMetrics({ db: deps.db, queues: deps.queues });
  const routeLabelOf = requestRouteLabeler(ALL_ROUTES);
  app.use(traceRequests(routeLabelOf), logRequests(deps.logger, routeLabelOf), metrics.observeRequests(routeLabelOf));

  // Everything under /v1 is authenticated, then rate limited before any body is read: a caller over budget costs
  // one Redis round trip, not a 10mb parse. Each route then parses its own body (mount-routes.ts).
  app.use("/v1", authenticate(deps.jwtSecret), rateLimitPerUser(deps.rateLimit, deps.logger));
  const live = createLiveEvents({ db: deps.db, log: deps.liveLog, logger: deps.logger });
  app.use(mountRoutes(ALL_ROUTES, { ...deps, metrics, live }));

  app.use(routeNotFound);
  app.use(errorHandler(deps.logger));
  return app;
}

export interface ApiClients {
  db: Db;
  /** The API's Redis connection (fail-fast): queues, cancellation messages, rate limits and readiness use it. */
  redis: Redis;
  /** Where the live event hub opens its own reading connection. */
  redisUrl: string;
  /** The deployment's QUEUE_PREFIX. */
  prefix: string;
  logger: Logger;
}

export interface ApiSettings {
  jwtSecret: string;
  opsAdmins: string[];
  sessionRetentionDays: number;
  metricsToken?: string | undefined;
  /** The budgets; the counters use the API's Redis and prefix unless a test names others. */
  rateLimit: Omit<RateLimitOptions, "redis" | "prefix"> & Partial<RateLimitOptions>;
  /** Live event stream limits; the defaults where not given. */
  live?: Partial<LiveLimits> | undefined;
  /** LLM_MODEL and LLM_ALLOWED_MODELS. */
  models: ModelPolicy;
  webhooks: WebhookSettings;
}

export interface Api {
  app: Express;
  queues: JobQueues;
  /** Live session events: the log every process appends to, and this process's open streams. */
  liveLog: SessionEventLog;
  /** Close it first at shutdown: event streams never end by themselves (their clients resume on another process). */
  liveHub: LiveHub;
  /** Closes the queues it opened; the clients stay their owner's to close. */
  close(): Promise<void>;
}

/** The API over its clients: the one wiring that main.ts, the tests and the benchmarks share. */
export function createApi(clients: ApiClients, settings: ApiSettings): Api {
  const { db, redis, prefix, logger } = clients;
  const queues = createJobQueues(redis, prefix);
  const live = startLive({ db, redis, redisUrl: clients.redisUrl, prefix, logger, limits: settings.live });
  const app = createApp({
    ...live,
    db,
    logger,
    jwtSecret: settings.jwtSecret,
    jobs: createJobClient({ db, queues, redis, prefix, logger }),
    queues,
    opsAdmins: settings.opsAdmins,
    sessionRetentionDays: settings.sessionRetentionDays,
    models: settings.models,
    webhooks: settings.webhooks,
    readiness: { postgres: () => db.$queryRaw`SELECT 1`, redis: () => redis.ping() },
    metricsToken: settings.metricsToken,
    rateLimit: { redis, prefix, ...settings.rateLimit },
  });
  return { app, queues, ...live, close: () => closeJobQueues(queues) };
}
