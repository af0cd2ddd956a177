// GET /openapi.json: built from one table of every route the app serves, with the zod schemas each route parses
// its params, query and body with. tests/openapi.test.ts walks the Express router and fails when a served route is
// missing here (or a listed one is not served), so the table cannot drift from the app.
import { Router } from "express";
import { z } from "zod";
import { auditEventPage, listAuditEventsQuery } from "../audit/audit.schema.ts";
import { errorStatus, type ErrorCode } from "../http/app-error.ts";
import { packParams, sessionParams, workspaceParams } from "../http/common.schema.ts";
import { ingestionResponse, leadInsightResponse, leadParams, leadsBatchBody } from "../leads/leads.schema.ts";
import { campaignParams, campaignResponse, putCampaignBody } from "../campaigns/campaigns.schema.ts";
import { createMessageBody, listMessagesQuery, messageResponse } from "../messages/messages.schema.ts";
import { deletedPackResponse, packResponse, recomputePackBody, requestPackBody } from "../packs/packs.schema.ts";
import { preferencesResponse, putPreferencesBody } from "../preferences/preferences.schema.ts";
import { createSessionBody, listSessionsQuery, renameSessionBody, sessionResponse } from "../sessions/sessions.schema.ts";
import { patchSettingsBody, settingsResponse } from "../settings/settings.schema.ts";
import { usageQuery } from "../usage/usage.schema.ts";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** How a route authenticates its caller. */
export type RouteAuth =
  /** `Authorization: Bearer <JWT>` and membership of the workspace in the path. */
  | "bearer"
  /** An operator named in OPS_ADMINS: bearer token, or the cookie the Bull Board login link sets. */
  | "ops"
  /** `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set; open otherwise. */
  | "metrics"
  | "none";

export interface RouteSpec {
  method: HttpMethod;
  /** The full path, parameters written `{name}` as in OpenAPI. */
  path: string;
  operationId: string;
  summary: string;
  tag: "operations" | "ingestion" | "insights";
  auth: RouteAuth;
  /** Workspace admins (OWNER, ADMIN) only: members get 403. */
  adminOnly?: boolean;
  params?: z.ZodObject;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The success status. */
  status: number;
  /** The success body's schema; routes without one are described as a JSON object. */
  response?: z.ZodType;
  /** Content type of the success body, when it is not JSON. */
  produces?: string;
  /** Error codes this route answers beyond those its auth and inputs imply. */
  errors?: ErrorCode[];
  /** Other statuses it answers, with what each means. */
  otherResponses?: Record<number, string>;
}

const WS = "/v1/workspaces/{workspaceId}";

// Response bodies that wrap the resources' own schemas.
const sessionPage = z.object({ sessions: z.array(sessionResponse), nextCursor: z.string().nullable() });
const messagePage = z.object({ messages: z.array(messageResponse), nextCursor: z.string().nullable() });
const createdMessages = z.object({ message: messageResponse, reply: messageResponse.nullable() });
const packList = z.object({ packs: z.array(packResponse) });
const INSIGHTS = `${WS}/insights`;

// Path parameters, as the routers parse them (workspace routers merge the workspace's params into their own).
const sessionPath = workspaceParams.extend(sessionParams.shape);
const packPath = workspaceParams.extend(packParams.shape);
const leadPath = workspaceParams.extend(leadParams.shape);
const campaignPath = workspaceParams.extend(campaignParams.shape);

/** Every route the app serves. Bull Board's own pages and API under /admin/queues are listed as the one entry. */
export const API_ROUTES: RouteSpec[] = [
  // Operations.
  { method: "get", path: "/healthz", operationId: "health", summary: "The process is up", tag: "operations", auth: "none", status: 200 },
  {
    method: "get",
    path: "/readyz",
    operationId: "readiness",
    summary: "PostgreSQL and Redis answer",
    tag: "operations",
    auth: "none",
    status: 200,
    otherResponses: { 503: "Not ready: `checks` names the dependency that does not answer" },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics (text exposition format)",
    tag: "operations",
    auth: "metrics",
    status: 200,
    produces: "text/plain; version=0.0.4",
  },
  { method: "get", path: "/openapi.json", operationId: "openApi", summary: "This document", tag: "operations", auth: "none", status: 200 },
  {
    method: "get",
    path: "/admin/queues/login",
    operationId: "bullBoardLogin",
    summary: "Trades an operator's token for the Bull Board cookie, then redirects to the dashboard",
    tag: "operations",
    auth: "ops",
    query: z.object({ token: z.string() }),
    status: 303,
  },
  {
    method: "get",
    path: "/admin/queues",
    operationId: "bullBoard",
    summary: "Bull Board, the queue dashboard (OPS_ADMINS only; its pages and API live under this path)",
    tag: "operations",
    auth: "ops",
    status: 200,
    produces: "text/html",
  },

  // Ingestion.
  {
    method: "put",
    path: `${WS}/campaigns/{campaignId}`,
    operationId: "putCampaign",
    response: campaignResponse,
    summary: "Create or rename a campaign (upsert by the host's id)",
    tag: "ingestion",
    auth: "bearer",
    adminOnly: true,
    params: campaignPath,
    body: putCampaignBody,
    status: 200,
  },
  {
    method: "post",
    path: `${WS}/leads/batch`,
    operationId: "ingestLeads",
    response: ingestionResponse,
    summary: "Upsert up to 500 leads with their whole threads",
    tag: "ingestion",
    auth: "bearer",
    adminOnly: true,
    params: workspaceParams,
    body: leadsBatchBody,
    status: 200,
    errors: ["PAYLOAD_TOO_LARGE"],
  },
  {
    method: "get",
    path: `${WS}/leads/{leadId}/insight`,
    operationId: "getLeadInsight",
    response: leadInsightResponse,
    summary: "A lead's cached conversation insight",
    tag: "insights",
    auth: "bearer",
    params: leadPath,
    status: 200,
  },

  // Sessions.
  {
    method: "post",
    path: `${INSIGHTS}/sessions`,
    operationId: "createSession",
    response: sessionResponse,
    summary: "Open an insights session",
    tag: "insights",
    auth: "bearer",
    params: workspaceParams,
    body: createSessionBody,
    status: 201,
  },
  {
    method: "get",
    path: `${INSIGHTS}/sessions`,
    operationId: "listSessions",
    response: sessionPage,
    summary: "Sessions, newest first (admins may include deleted ones)",
    tag: "insights",
    auth: "bearer",
    params: workspaceParams,
    query: listSessionsQuery,
    status: 200,
  },
  {
    method: "get",
    path: `${INSIGHTS}/sessions/{sessionId}`,
    operationId: "getSession",
    response: sessionResponse,
    summary: "One session",
    tag: "insights",
    auth: "bearer",
    params: sessionPath,
    status: 200,
  },
  {
    method: "patch",
    path: `${INSIGHTS}/sessions/{sessionId}`,
    operationId: "renameSession",
    response: sessionResponse,
    summary: "Rename a session",
    tag: "insights",
    auth: "bearer",
    params: sessionPath,
    body: renameSessionBody,
    status: 200,
    errors: ["CONFLICT"],
  },
  {
    method: "delete",
    path: `${INSIGHTS}/sessions/{sessionId}`,
    operationId: "deleteSession",
    response: sessionResponse,
    summary: "Soft-delete a session and cancel its running packs",
    tag: "insights",
    auth: "bearer",
    adminOnly: true,
    params: sessionPath,
    status: 200,
    errors: ["CONFLICT"],
  },
  {
    method: "post",
    path: `${INSIGHTS}/sessions/{sessionId}/restore`,
    operationId: "restoreSession",
    response: sessionResponse,
    summary: "Restore a soft-deleted session",
    tag: "insights",
    auth: "bearer",
    adminOnly: true,
    params: sessionPath,
    status: 200,
    errors: ["CONFLICT"],
  },

  // Messages.
  {
    method: "get",
    path: `${INSIGHTS}/sessions/{sessionId}/messages`,
    operationId: "listMessages",
    response: messagePage,
    summary: "A session's messages, oldest first",
    tag: "insights",
    auth: "bearer",
    params: sessionPath,
    query: listMessagesQuery,
    status: 200,
  },
  {
    method: "post",
    path: `${INSIGHTS}/sessions/{sessionId}/messages`,
    operationId: "createMessage",
    response: createdMessages,
    summary: "Ask a question; a worker answers it from the session's COMPLETE pack",
    tag: "insights",
    auth: "bearer",
    params: sessionPath,
    body: createMessageBody,
    status: 201,
    errors: ["CONFLICT", "UNAVAILABLE"],
  },

  // Packs.
  {
    method: "post",
    path: `${INSIGHTS}/sessions/{sessionId}/packs`,
    operationId: "requestPack",
    response: packResponse,
    summary: "Request a context pack (202 new or restarted, 200 the existing pack of that scope)",
    tag: "insights",
    auth: "bearer",
    params: sessionPath,
    body: requestPackBody,
    status: 202,
    otherResponses: { 200: "The existing pack of this scope (no second job)" },
    errors: ["CONFLICT", "UNAVAILABLE"],
  },
  {
    method: "get",
    path: `${INSIGHTS}/sessions/{sessionId}/packs`,
    operationId: "listPacks",
    response: packList,
    summary: "A session's packs, newest first",
    tag: "insights",
    auth: "bearer",
    params: sessionPath,
    status: 200,
  },
  {
    method: "get",
    path: `${INSIGHTS}/packs/{packId}`,
    operationId: "getPack",
    response: packResponse,
    summary: "One pack with its progress (ETag; If-None-Match answers 304)",
    tag: "insights",
    auth: "bearer",
    params: packPath,
    status: 200,
    otherResponses: { 304: "Not modified: If-None-Match matched the ETag" },
  },
  {
    method: "post",
    path: `${INSIGHTS}/packs/{packId}/recompute`,
    operationId: "recomputePack",
    response: packResponse,
    summary: "Recompute a finished pack (only changed threads unless force)",
    tag: "insights",
    auth: "bearer",
    adminOnly: true,
    params: packPath,
    body: recomputePackBody,
    status: 202,
    errors: ["CONFLICT", "UNAVAILABLE"],
  },
  {
    method: "delete",
    path: `${INSIGHTS}/packs/{packId}`,
    operationId: "deletePack",
    response: deletedPackResponse,
    summary: "Cancel a pack's work and remove it",
    tag: "insights",
    auth: "bearer",
    adminOnly: true,
    params: packPath,
    status: 200,
  },

  // Preferences, settings, audit, usage.
  {
    method: "get",
    path: `${INSIGHTS}/preferences`,
    operationId: "getPreferences",
    response: preferencesResponse,
    summary: "The caller's own pack defaults in this workspace",
    tag: "insights",
    auth: "bearer",
    params: workspaceParams,
    status: 200,
  },
  {
    method: "put",
    path: `${INSIGHTS}/preferences`,
    operationId: "putPreferences",
    response: preferencesResponse,
    summary: "Save the caller's own pack defaults",
    tag: "insights",
    auth: "bearer",
    params: workspaceParams,
    body: putPreferencesBody,
    status: 200,
  },
  {
    method: "get",
    path: `${INSIGHTS}/settings`,
    operationId: "getSettings",
    response: settingsResponse,
    summary: "The workspace's insights settings",
    tag: "insights",
    auth: "bearer",
    params: workspaceParams,
    status: 200,
  },
  {
    method: "patch",
    path: `${INSIGHTS}/settings`,
    operationId: "updateSettings",
    response: settingsResponse,
    summary: "Change the workspace's insights settings",
    tag: "insights",
    auth: "bearer",
    adminOnly: true,
    params: workspaceParams,
    body: patchSettingsBody,
    status: 200,
  },
  {
    method: "get",
    path: `${INSIGHTS}/audit-events`,
    operationId: "listAuditEvents",
    response: auditEventPage,
    summary: "Audit events, newest first",
    tag: "insights",
    auth: "bearer",
    adminOnly: true,
    params: workspaceParams,
    query: listAuditEventsQuery,
    status: 200,
  },
  {
    method: "get",
    path: `${INSIGHTS}/usage`,
    operationId: "getUsage",
    summary: "LLM usage and savings over a range (default: the last 30 days)",
    tag: "insights",
    auth: "bearer",
    adminOnly: true,
    params: workspaceParams,
    query: usageQuery,
    status: 200,
  },
];

/** The shape of every error body. */
const errorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    requestId: z.string(),
  }),
});

type JsonSchema = Record<string, unknown>;

/** Request schemas describe what a client sends (`io: "input"`): before defaults, coercions and transforms. */
function inputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return json;
}

function parametersOf(schema: z.ZodType, where: "path" | "query") {
  const json = inputSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property as { description?: string };
    return {
      name,
      in: where,
      required: where === "path" || (json.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

const errorRef = { $ref: "#/components/responses/Error" };

/** Response schemas describe what the API sends (`io: "output"`); Date fields travel as ISO date-time strings. */
function outputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    io: "output",
    unrepresentable: "any",
    override: (ctx) => {
      if (ctx.zodSchema._zod.def.type === "date") Object.assign(ctx.jsonSchema, { type: "string", format: "date-time" });
    },
  }) as JsonSchema;
  return json;
}

function successResponse(route: RouteSpec) {
  if (route.status === 303) return { description: "Redirect", headers: { Location: { schema: { type: "string" } } } };
  const type = route.produces ?? "application/json";
  const schema = route.response ? outputSchema(route.response) : { type: type === "application/json" ? "object" : "string" };
  return { description: "Success", content: { [type]: { schema } } };
}

function responsesOf(route: RouteSpec) {
  const codes = new Set<ErrorCode>(route.errors ?? []);
  if (route.params || route.query || route.body) codes.add("VALIDATION_FAILED");
  if (route.auth === "bearer" || route.auth === "ops" || route.auth === "metrics") codes.add("UNAUTHENTICATED");
  if (route.adminOnly || route.auth === "ops") codes.add("FORBIDDEN");
  if (route.path.includes("{")) codes.add("NOT_FOUND");
  if (route.auth === "bearer") codes.add("RATE_LIMITED");
  const responses: Record<string, unknown> = { [route.status]: successResponse(route) };
  for (const [status, description] of Object.entries(route.otherResponses ?? {})) responses[status] = { description };
  for (const code of [...codes].sort((a, b) => errorStatus[a] - errorStatus[b])) responses[errorStatus[code]] = errorRef;
  return responses;
}

const security: Record<RouteAuth, Array<Record<string, string[]>>> = {
  bearer: [{ bearerAuth: [] }],
  ops: [{ bearerAuth: [] }, { opsCookie: [] }],
  // Optional: {} means "no credentials" is also accepted (when METRICS_TOKEN is unset).
  metrics: [{ metricsToken: [] }, {}],
  none: [],
};

/** Builds the OpenAPI 3.1 document from the route table. */
export function buildOpenApiDocument(routes: RouteSpec[] = API_ROUTES) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters = [
      ...(route.params ? parametersOf(route.params, "path") : []),
      ...(route.query ? parametersOf(route.query, "query") : []),
    ];
    (paths[route.path] ??= {})[route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(route.adminOnly ? { description: "Workspace admins (OWNER or ADMIN) only.", "x-admin-only": true } : {}),
      security: security[route.auth],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? { requestBody: { required: true, content: { "application/json": { schema: inputSchema(route.body) } } } }
        : {}),
      responses: responsesOf(route),
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Insights context packs",
      version: "1",
      description:
        "Turns a sales team's lead conversations into context packs an LLM chat answers from. Every error is " +
        "`{error: {code, message, details?, requestId}}`.",
    },
    tags: [
      { name: "insights", description: "Sessions, packs, messages and their settings (any member unless marked)" },
      { name: "ingestion", description: "The host application pushes campaigns and leads (admins)" },
      { name: "operations", description: "Health, readiness, metrics, this document and the queue dashboard" },
    ],
    paths,
    components: {
      schemas: { Error: inputSchema(errorBody) },
      responses: {
        Error: {
          description: "An error; `code` says which (see the status)",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "HS256 JWT, `sub` = user id" },
        opsCookie: { type: "apiKey", in: "cookie", name: "insights_ops_token", description: "Set by /admin/queues/login" },
        metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN, when the deployment sets one" },
      },
    },
  };
}

export function openApiRoutes(): Router {
  // Built once, on first request: the table is fixed for the life of the process.
  let document: ReturnType<typeof buildOpenApiDocument> | undefined;
  const router = Router();
  router.get("/openapi.json", (_req, res) => {
    document ??= buildOpenApiDocument();
    res.json(document);
  });
  return router;
}

const compiled = API_ROUTES.map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}/?$`, "i"),
}));

/**
 * The route a request is for, by method and path (HEAD is served by GET routes): what metrics and request logs
 * label a request with, so no id ever lands in a label.
 */
export function matchRoute(method: string, path: string): RouteSpec | undefined {
  const wanted = method.toLowerCase() === "head" ? "get" : method.toLowerCase();
  return compiled.find(({ route, pattern }) => route.method === wanted && pattern.test(path))?.route;
}
