// Every route the app serves, in the order Express tries them. Each is declared once beside its handler (see
// api/src/http/route.ts for how to add one); the router, /openapi.json, the request log's route label and the
// tests' route table all read this list.
import { z } from "zod";
import { auditRoutes } from "./audit/audit.routes.ts";
import { campaignsRoutes } from "./campaigns/campaigns.routes.ts";
import { defineRoute, type Route } from "./http/route.ts";
import { leadsRoutes } from "./leads/leads.routes.ts";
import { liveRoutes } from "./live/live.routes.ts";
import { meRoutes } from "./me/me.routes.ts";
import { messagesRoutes } from "./messages/messages.routes.ts";
import { bullBoardRoutes } from "./ops/bull-board.ts";
import { metricsRoute } from "./ops/metrics.ts";
import { buildOpenApiDocument } from "./ops/openapi.ts";
import { opsRoutes } from "./ops/ops.routes.ts";
import { packsRoutes } from "./packs/packs.routes.ts";
import { preferencesRoutes } from "./preferences/preferences.routes.ts";
import { provisioningRoutes } from "./provisioning/provisioning.routes.ts";
import { sessionsRoutes } from "./sessions/sessions.routes.ts";
import { settingsRoutes } from "./settings/settings.routes.ts";
import { usageRoutes } from "./usage/usage.routes.ts";
import { webClientRoutes } from "./web/web-client.ts";
import { webhooksRoutes } from "./webhooks/webhooks.routes.ts";

// Built on first request: the routes are fixed for the life of the process.
let document: ReturnType<typeof buildOpenApiDocument> | undefined;

const openApiRoute = defineRoute({
  operationId: "openApi",
  method: "get",
  path: "/openapi.json",
  summary: "This document",
  tag: "operations",
  access: "public",
  responses: { 200: { description: "The OpenAPI 3.1 document", body: z.record(z.string(), z.unknown()) } },
  handle: () => ({ status: 200, body: (document ??= buildOpenApiDocument(ALL_ROUTES)) }),
});

/** Health, metrics, this document, the queue dashboard and the web client. */
export const OPERATIONS_ROUTES = [...opsRoutes, metricsRoute, openApiRoute, ...bullBoardRoutes, ...webClientRoutes] satisfies Route[];

/** The product's API, under /v1. */
export const API_ROUTES = [
  ...meRoutes,
  ...provisioningRoutes,
  ...campaignsRoutes,
  ...leadsRoutes,
  ...sessionsRoutes,
  ...liveRoutes,
  ...messagesRoutes,
  ...packsRoutes,
  ...preferencesRoutes,
  ...settingsRoutes,
  ...auditRoutes,
  ...usageRoutes,
  ...webhooksRoutes,
] satisfies Route[];

export const ALL_ROUTES: readonly Route[] = [...OPERATIONS_ROUTES, ...API_ROUTES];
