// The OpenAPI 3.1 document of every declared route (api/src/routes.ts), served at GET /openapi.json. Built by hand
// over zod's own z.toJSONSchema, which the libraries (zod-openapi, zod-to-openapi) wrap too: the statuses, headers
// and security below are derived from each declaration's access, inputs and method (api/src/http/route.ts), which
// those libraries would still need spelled out per route.
import { z } from "zod";
import { errorStatus, type ErrorCode } from "../http/app-error.ts";
import { RESPONSE_HEADERS, readsJsonBody, type Access, type Route } from "../http/route.ts";

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

function parametersOf(schema: z.ZodType, where: "path" | "query" | "header") {
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

const ref = (section: string, name: string) => ({ $ref: `#/components/${section}/${name}` });
const requestIdHeader = { "X-Request-Id": ref("headers", "XRequestId") };

/** A GET answered through Express's res.send carries a weak ETag and answers a matching If-None-Match with 304. */
const isConditional = (route: Route) => route.method === "get" && Boolean(route.handle) && Boolean(route.responses[200]);

function declaredResponse(route: Route, status: number) {
  const spec = route.responses[status]!;
  const named = [...(spec.headers ?? []), ...(status === 200 && isConditional(route) ? (["ETag"] as const) : [])];
  const headers = { ...requestIdHeader, ...Object.fromEntries(named.map((name) => [name, RESPONSE_HEADERS[name]])) };
  const content = spec.body
    ? { "application/json": { schema: outputSchema(spec.body) } }
    : spec.contentType
      ? { [spec.contentType]: { schema: { type: "string" } } }
      : undefined;
  return { description: spec.description, headers, ...(content ? { content } : {}) };
}

/** The error codes a route can answer: those its path, inputs, body parsing and access imply, and its own. */
function errorCodesOf(route: Route): Set<ErrorCode> {
  const codes = new Set<ErrorCode>(route.errors ?? []);
  if (route.params || route.query || route.headers || route.body || readsJsonBody(route)) codes.add("VALIDATION_FAILED");
  if (readsJsonBody(route)) codes.add("PAYLOAD_TOO_LARGE");
  if (route.access !== "public") codes.add("UNAUTHENTICATED");
  // Every bearer route refuses someone: the service token (member, admin, user routes), members (admin routes),
  // user tokens (service routes); ops routes, operators not listed.
  if (route.access !== "public" && route.access !== "metrics") codes.add("FORBIDDEN");
  if (route.path.includes("{")) codes.add("NOT_FOUND");
  if (route.path.startsWith("/v1/")) codes.add("RATE_LIMITED");
  return codes;
}

function responsesOf(route: Route) {
  const responses: Record<string, unknown> = {};
  for (const status of Object.keys(route.responses).map(Number)) responses[status] = declaredResponse(route, status);
  if (isConditional(route)) responses[304] = ref("responses", "NotModified");
  const codes = [...errorCodesOf(route)].sort((a, b) => errorStatus[a] - errorStatus[b]);
  for (const code of codes) {
    responses[errorStatus[code]] ??= code === "RATE_LIMITED" ? ref("responses", "RateLimited") : ref("responses", "Error");
  }
  // INTERNAL (500) and UNAVAILABLE (503, a database outage) can come from any route.
  responses.default = ref("responses", "Error");
  return responses;
}

/** What each kind of caller means, in words, at the end of an operation's description. */
const ACCESS_NOTES: Partial<Record<Access, string>> = {
  admin: "Workspace admins (OWNER or ADMIN) only.",
  adminOrService: "Workspace admins (OWNER or ADMIN) or the host's service token.",
  service: "The host's service token only; user tokens get 403.",
  user: "A user token; the service token gets 403.",
};

const security: Record<Access, Array<Record<string, string[]>>> = {
  public: [],
  // Optional: {} means "no credentials" is also accepted (when METRICS_TOKEN is unset).
  metrics: [{ metricsToken: [] }, {}],
  ops: [{ bearerAuth: [] }, { opsCookie: [] }],
  member: [{ bearerAuth: [] }],
  admin: [{ bearerAuth: [] }],
  adminOrService: [{ bearerAuth: [] }],
  service: [{ bearerAuth: [] }],
  user: [{ bearerAuth: [] }],
};

function operationOf(route: Route) {
  const parameters = [
    ...(route.params ? parametersOf(route.params, "path") : []),
    ...(route.query ? parametersOf(route.query, "query") : []),
    ...(route.headers ? parametersOf(route.headers, "header") : []),
    ...(isConditional(route) ? [ref("parameters", "IfNoneMatch")] : []),
    ref("parameters", "XRequestId"),
  ];
  const admin = route.access === "admin" || route.access === "adminOrService";
  const description = [route.description, ACCESS_NOTES[route.access]].filter(Boolean).join(" ");
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(description ? { description } : {}),
    tags: [route.tag],
    ...(admin ? { "x-admin-only": true } : {}),
    security: security[route.access],
    parameters,
    ...(route.body ? { requestBody: { required: true, content: { [bodyContentType(route)]: { schema: inputSchema(route.body) } } } } : {}),
    responses: responsesOf(route),
  };
}

const bodyContentType = (route: Route) => (route.bodyType === "form" ? "application/x-www-form-urlencoded" : "application/json");

/** Builds the OpenAPI 3.1 document of the given routes. */
export function buildOpenApiDocument(routes: readonly Route[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method] = operationOf(route);
  return {
    openapi: "3.1.0",
    info: {
      title: "Insights context packs",
      version: "1",
      description:
        "Turns a sales team's lead conversations into context packs an LLM chat answers from. Every error is " +
        "`{error: {code, message, details?, requestId}}`.",
      license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
    },
    servers: [{ url: "/", description: "The API's own origin (behind whatever host serves it)" }],
    tags: [
      { name: "insights", description: "Sessions, packs, messages and their settings (any member unless marked)" },
      { name: "identity", description: "Who the bearer of a user token is" },
      { name: "provisioning", description: "The host application's backend creates workspaces, users and memberships (service token)" },
      { name: "ingestion", description: "The host application pushes campaigns and leads, and erases leads (service token or admins)" },
      { name: "operations", description: "Health, readiness, metrics, this document and the queue dashboard" },
    ],
    paths,
    components: {
      schemas: { Error: inputSchema(errorBody) },
      headers: {
        XRequestId: {
          description: "The request's id (the caller's own when it sent a well-formed one); quote it when reporting",
          schema: { type: "string" },
        },
        RetryAfter: { description: "Seconds until the budget refills", schema: { type: "integer", minimum: 0 } },
      },
      parameters: {
        XRequestId: {
          name: "X-Request-Id",
          in: "header",
          required: false,
          description: "An id to follow the request by (1-64 of A-Z a-z 0-9 . _ -); otherwise one is made up",
          schema: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
        },
        IfNoneMatch: {
          name: "If-None-Match",
          in: "header",
          required: false,
          description: "The ETag of the copy the caller holds: 304 without a body while it is still current",
          schema: { type: "string" },
        },
      },
      responses: {
        Error: {
          description: "An error; `code` says which (see the status)",
          headers: requestIdHeader,
          content: { "application/json": { schema: ref("schemas", "Error") } },
        },
        RateLimited: {
          description: "RATE_LIMITED: over the caller's budget; retry after Retry-After seconds",
          headers: { ...requestIdHeader, "Retry-After": ref("headers", "RetryAfter") },
          content: { "application/json": { schema: ref("schemas", "Error") } },
        },
        NotModified: {
          description: "Not modified: If-None-Match matched the ETag; no body",
          headers: { ...requestIdHeader, ETag: RESPONSE_HEADERS.ETag },
        },
      },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "HS256 JWT: a user token (`sub` = user id), or the host's service token (`aud: insights:service`)",
        },
        opsCookie: { type: "apiKey", in: "cookie", name: "insights_ops_token", description: "Set by /admin/queues/login" },
        metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN, when the deployment sets one" },
      },
    },
  };
}
