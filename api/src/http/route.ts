// One declaration per route, beside its handler. A route's declaration says everything about it once: method,
// path, the zod schemas of its params, query, headers, body and responses, who may call it and what else it can
// answer. The Express router (api/src/http/mount-routes.ts), the guards, GET /openapi.json (api/src/ops/openapi.ts),
// the request log's and metrics' route label and the tests' route table (tests/support/routes.ts) all read it.
//
// Adding a route: declare it with `defineRoute` in its feature's `*.routes.ts` and add it to that file's exported
// list (a new feature adds its list to api/src/routes.ts); give the tests one fixture in tests/support/routes.ts
// (the compiler asks for it); write its own test. For example:
//
//   export const getWidget = defineRoute({
//     operationId: "getWidget", method: "get", path: `${INSIGHTS}/widgets/{widgetId}`,
//     summary: "One widget", tag: "insights", access: "member",
//     params: workspaceParams.extend({ widgetId: id }),
//     responses: { 200: { description: "The widget", body: widgetResponse } },
//     errors: ["CONFLICT"],
//     handle: async ({ params, caller }, { db }) => ({ status: 200, body: await widgets.get(db, caller, params.widgetId) }),
//   });
//
// What the declaration derives, so a route never states it twice: path parameters make 404 possible; any input
// schema makes 400 possible; `access` gives 401/403, the guards and the OpenAPI security; a POST/PUT/PATCH under
// /v1 parses JSON up to `bodyLimit` (413 beyond it); /v1 routes are rate limited (429 with Retry-After); a GET that
// answers JSON gets a weak ETag and answers a matching If-None-Match with 304 (Express does this for every body it
// sends). Every response carries X-Request-Id.
//
// Beyond JSON: a response with a `contentType` (text/event-stream, text/plain, text/html) is written by the handler
// itself through `ctx.res`, and the handler returns nothing. A route that hands a whole subtree to another app
// (Bull Board) gives `mount` instead of `handle`. Request headers (e.g. `Idempotency-Key`) are a zod object in
// `headers`, parsed like the rest. A route outside /v1/workspaces/{workspaceId} simply has another path: the
// membership guard runs only when the path names a workspace.
import type { Request, RequestHandler, Response } from "express";
import { z } from "zod";
import type { AppDeps } from "../app.ts";
import type { LiveEvents } from "../live/live-events.ts";
import type { ApiMetrics } from "../ops/metrics.ts";
import type { ErrorCode } from "./app-error.ts";
import type { MembershipCache } from "../auth/membership-cache.ts";
import type { PackBodyCache } from "../packs/pack-body-cache.ts";
import { actorOf, callerOf, type Actor, type Caller } from "./request-context.ts";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/**
 * Who may call a route; each kind is one entry of `accessGuards` (mount-routes.ts) and of the OpenAPI security
 * table (openapi.ts), so a new kind is one member here and one entry in each, which the compiler asks for. Two kinds
 * of bearer token exist (auth/jwt.ts): a user's, and the host backend's service token; `member` and `admin` routes
 * refuse the service token (403), `service` routes refuse every user token (403).
 */
export type Access =
  /** Anyone: health, readiness, this document. */
  | "public"
  /** `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set; open otherwise. */
  | "metrics"
  /** An operator named in OPS_ADMINS: bearer token or the cookie /admin/queues/login sets. */
  | "ops"
  /** A signed-in user (bearer JWT); under /v1/workspaces/{workspaceId}, a member of that workspace. */
  | "member"
  /** Like member, and the workspace's OWNER or an ADMIN: members get 403. */
  | "admin"
  /** A workspace's admin, or the host's service token (ingestion, erasure): members get 403. */
  | "adminOrService"
  /** The host's service token only (provisioning): every user token gets 403. */
  | "service"
  /** Any user token, about its own user (GET /v1/me): the service token gets 403. */
  | "user";

export type RouteTag = "operations" | "identity" | "provisioning" | "ingestion" | "insights";

/** Response headers a route may name; X-Request-Id is on every response and need not be named. */
export const RESPONSE_HEADERS = {
  ETag: { description: "Weak validator of the body; send it back as If-None-Match", schema: { type: "string" } },
  Location: { description: "Where the redirect leads", schema: { type: "string" } },
  "Set-Cookie": { description: "The operator cookie for Bull Board (HttpOnly, SameSite=Strict)", schema: { type: "string" } },
} as const;
export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

export interface ResponseSpec {
  description: string;
  /** The JSON body's schema, as the API sends it (dates as ISO strings). */
  body?: z.ZodType;
  /** A body that is not JSON (the handler writes it through `ctx.res`). */
  contentType?: string;
  headers?: readonly ResponseHeader[];
}
export type Responses = { readonly [status: number]: ResponseSpec };

type Schema = z.ZodType | undefined;
type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<P extends Schema, Q extends Schema, B extends Schema, H extends Schema> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
  headers: Parsed<H>;
  /** The member calling, in the workspace of the path (member and admin routes under a workspace only). */
  readonly caller: Caller;
  /** Who acts on an adminOrService route: the admin, or the service (`userId: null`). */
  readonly actor: Actor;
  req: Request;
  res: Response;
}

/** What a JSON handler returns: one of its declared statuses with that status's body. */
export type Reply<R extends Responses> = {
  [S in keyof R]: R[S] extends { body: z.ZodType } ? { status: S; body: z.output<R[S]["body"]> } : never;
}[keyof R];

/** What a handler may use: the app's dependencies, the per-app metrics and membership cache. */
export interface RouteDeps extends AppDeps {
  metrics: ApiMetrics;
  /** Publishes to the sessions' live event logs after a change commits. */
  live: LiveEvents;
  /** The workspace guard's cache; provisioning forgets what it changes, so its own process sees it at once. */
  memberships: MembershipCache;
  /** `GET /packs/:id` bodies per version tag, so polls of an unchanged pack are not rebuilt. */
  packBodies: PackBodyCache;
}

interface RouteFields<P extends Schema, Q extends Schema, B extends Schema, H extends Schema, R extends Responses> {
  /** Unique; names the operation in the OpenAPI document and in generated clients. */
  operationId: string;
  method: HttpMethod;
  /** The full path, parameters written `{name}` as in OpenAPI. */
  path: string;
  summary: string;
  description?: string;
  tag: RouteTag;
  access: Access;
  /** Every `{name}` in the path, and nothing else. */
  params?: P;
  query?: Q;
  /** Request headers, by their canonical names (`Idempotency-Key`). */
  headers?: H;
  body?: B;
  /** `form`: the body is an HTML form's (application/x-www-form-urlencoded), parsed on any path; JSON otherwise. */
  bodyType?: "form";
  /** Largest JSON body accepted (body-parser syntax); 256kb unless set. */
  bodyLimit?: string;
  /** Success and other non-error statuses. */
  responses: R;
  /** Error codes this route answers beyond those its path, inputs and access imply. */
  errors?: readonly ErrorCode[];
}

export interface RouteDeclaration<
  Id extends string,
  P extends Schema,
  Q extends Schema,
  B extends Schema,
  H extends Schema,
  R extends Responses,
> extends RouteFields<P, Q, B, H, R> {
  operationId: Id;
  /** Answers the request: returns a reply to send as JSON, or nothing when it answered through `ctx.res`. */
  handle?: (ctx: RouteContext<P, Q, B, H>, deps: RouteDeps) => Reply<R> | void | Promise<Reply<R> | void>;
  /** Instead of `handle`: an app serving every path under `path`, built once per app. */
  mount?: (deps: RouteDeps) => RequestHandler;
}

/**
 * A declared route with its schema types erased: what the router, the document and the tests iterate over. The
 * operationId stays literal, so the tests' fixtures can be a record the compiler checks for completeness.
 */
export interface Route<Id extends string = string> extends RouteFields<Schema, Schema, Schema, Schema, Responses> {
  operationId: Id;
  handle?(ctx: RouteContext<Schema, Schema, Schema, Schema>, deps: RouteDeps): unknown;
  mount?(deps: RouteDeps): RequestHandler;
}

export function defineRoute<
  const Id extends string,
  P extends Schema = undefined,
  Q extends Schema = undefined,
  B extends Schema = undefined,
  H extends Schema = undefined,
  const R extends Responses = Responses,
>(route: RouteDeclaration<Id, P, Q, B, H, R>): Route<Id> {
  const named = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  const declared = route.params instanceof z.ZodObject ? Object.keys(route.params.shape).sort() : [];
  if (named.join() !== declared.join()) {
    throw new Error(`${route.operationId}: params declares [${declared}] but the path names [${named}]`);
  }
  if (Boolean(route.handle) === Boolean(route.mount)) throw new Error(`${route.operationId}: give handle or mount`);
  return route as Route<Id>;
}

/** The route's own caller, read lazily: only member and admin routes under a workspace have one. */
export function contextOf(
  req: Request,
  res: Response,
): Pick<RouteContext<Schema, Schema, Schema, Schema>, "caller" | "actor" | "req" | "res"> {
  return {
    get caller() {
      return callerOf(req);
    },
    get actor() {
      return actorOf(req);
    },
    req,
    res,
  };
}

/** `/v1/workspaces/{workspaceId}` → `/v1/workspaces/:workspaceId`. */
export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");

/** Whether a request under this route passes through the workspace membership guard. */
export const namesWorkspace = (route: Pick<Route, "path">) => route.path.includes("{workspaceId}");

/** Whether the route reads a JSON body (and so can answer 413). */
export const readsJsonBody = (route: Pick<Route, "method" | "path">) =>
  route.path.startsWith("/v1/") && (route.method === "post" || route.method === "put" || route.method === "patch");

/**
 * Labels a request with its route's path pattern (`/v1/workspaces/{workspaceId}/insights/sessions`), never its raw
 * path: what request logs and metrics use, so no id ever lands in a label. HEAD is served by GET routes; a mounted
 * app's pages share its label; anything no route serves is "unmatched".
 */
export function routeLabeler(routes: readonly Route[]): (method: string, path: string) => string {
  const escapeRegExp = (s: string) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
  const compiled = routes.map((route) => {
    const pattern = escapeRegExp(route.path).replace(/\{\w+\}/g, "[^/]+");
    return {
      route,
      label: route.mount ? `${route.path}/*` : route.path,
      pattern: new RegExp(`^${pattern}${route.mount ? "(/.*)?" : "/?"}$`, "i"),
    };
  });
  return (method, path) => {
    const wanted = method.toLowerCase() === "head" ? "get" : method.toLowerCase();
    const found = compiled.find(({ route, pattern }) => (route.mount || route.method === wanted) && pattern.test(path));
    return found?.label ?? "unmatched";
  };
}
