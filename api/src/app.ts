// Builds the Express app without listening, so tests drive exactly what main.ts serves.
import express, { Router, type Express } from "express";
import type { Db } from "@insights/shared/db/client";
import type { JobQueues } from "@insights/shared/jobs/job-queues";
import type { Logger } from "@insights/shared/logger";
import { auditRoutes } from "./audit/audit.routes.ts";
import { authenticate, requireWorkspaceAccess } from "./auth/guards.ts";
import { campaignsRoutes } from "./campaigns/campaigns.routes.ts";
import { errorHandler, routeNotFound } from "./http/error-handler.ts";
import { rateLimitPerUser, type RateLimitOptions } from "./http/rate-limit.ts";
import { assignRequestId } from "./http/request-context.ts";
import { logRequests } from "./http/request-log.ts";
import type { JobClient } from "./jobs/job-client.ts";
import { leadsRoutes } from "./leads/leads.routes.ts";
import { messagesRoutes } from "./messages/messages.routes.ts";
import { bullBoardRoutes } from "./ops/bull-board.ts";
import { createApiMetrics, metricsRoutes } from "./ops/metrics.ts";
import { openApiRoutes } from "./ops/openapi.ts";
import { opsRoutes, type ReadinessCheck } from "./ops/ops.routes.ts";
import { packsRoutes } from "./packs/packs.routes.ts";
import { preferencesRoutes } from "./preferences/preferences.routes.ts";
import { sessionsRoutes } from "./sessions/sessions.routes.ts";
import { settingsRoutes } from "./settings/settings.routes.ts";
import { usageRoutes } from "./usage/usage.routes.ts";

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
}

/** Bulk ingestion carries whole threads; every other body is small. */
const INGESTION_BODY_LIMIT = "10mb";
const BODY_LIMIT = "256kb";

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback");
  app.use(assignRequestId);
  // Per app, not per process: tests build several apps, each with its own registry.
  const metrics = createApiMetrics({ db: deps.db, queues: deps.queues });
  app.use(logRequests(deps.logger), metrics.observeRequests);
  app.use(opsRoutes(deps.readiness));
  app.use(metricsRoutes(metrics, deps.metricsToken), openApiRoutes());
  app.use(bullBoardRoutes(deps));

  const workspace = Router({ mergeParams: true });
  workspace.use(requireWorkspaceAccess(deps.db));
  workspace.use(campaignsRoutes(deps.db), leadsRoutes(deps.db));
  workspace.use(
    "/insights",
    sessionsRoutes(deps),
    packsRoutes(deps),
    messagesRoutes(deps),
    preferencesRoutes(deps.db),
    settingsRoutes(deps.db),
    auditRoutes(deps.db),
    usageRoutes(deps.db),
  );

  const v1 = Router();
  v1.use(authenticate(deps.jwtSecret));
  // Before body parsing: a caller over budget costs one Redis round trip, not a 10mb parse.
  v1.use(rateLimitPerUser(deps.rateLimit, deps.logger));
  // The larger limit applies to ingestion only; body-parser skips bodies that are already parsed.
  v1.use("/workspaces/:workspaceId/leads/batch", express.json({ limit: INGESTION_BODY_LIMIT }));
  v1.use(express.json({ limit: BODY_LIMIT }));
  v1.use("/workspaces/:workspaceId", workspace);

  app.use("/v1", v1);
  app.use(routeNotFound);
  app.use(errorHandler(deps.logger));
  return app;
}
