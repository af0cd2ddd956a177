// The Express router for a list of declared routes: per route, its JSON body parser, the guards its `access` names,
// then its handler, which gets the parsed params, query, headers and body. Everything under /v1 has already been
// authenticated and rate limited by app.ts, before any body is read.
import express, { Router, type Request, type RequestHandler } from "express";
import type { z } from "zod";
import {
  refuseService,
  requireAdminOrService,
  requireService,
  requireUser,
  requireWorkspaceAccess,
  requireWorkspaceAdminAccess,
} from "../auth/guards.ts";
import { createMembershipCache } from "../auth/membership-cache.ts";
import { createPackBodyCache } from "../packs/pack-body-cache.ts";
import { requireOpsAdmin } from "../ops/bull-board.ts";
import { requireMetricsToken } from "../ops/metrics.ts";
import { contextOf, expressPath, namesWorkspace, readsJsonBody, type Access, type Route, type RouteDeps } from "./route.ts";
import { parseBody, parseHeaders, parseParams, parseQuery } from "./validate.ts";

/** Every body but the ingestion batch's is small; a form carries one field or two. */
const DEFAULT_BODY_LIMIT = "256kb";
const FORM_BODY_LIMIT = "16kb";

export function mountRoutes(routes: readonly Route[], appDeps: Omit<RouteDeps, "memberships" | "packBodies">): Router {
  // One membership cache per app, shared by the guard and the handlers: provisioning forgets the entries it
  // changes, so the process that made a change sees it at once.
  const deps: RouteDeps = { ...appDeps, memberships: createMembershipCache(appDeps.db), packBodies: createPackBodyCache() };
  const guards = accessGuards(deps);
  const router = Router();
  for (const route of routes) {
    const chain = [...bodyParserOf(route), ...guards[route.access](route)];
    if (route.mount) router.use(route.path, ...chain, route.mount(deps));
    else router[route.method](expressPath(route.path), ...chain, handlerOf(route, deps));
  }
  return router;
}

function bodyParserOf(route: Route): RequestHandler[] {
  if (route.bodyType === "form") return [express.urlencoded({ extended: false, limit: route.bodyLimit ?? FORM_BODY_LIMIT })];
  return readsJsonBody(route) ? [express.json({ limit: route.bodyLimit ?? DEFAULT_BODY_LIMIT })] : [];
}

/** The guards of each kind of caller, built once per app (the membership lookup keeps a cache). */
function accessGuards(deps: RouteDeps): Record<Access, (route: Route) => RequestHandler[]> {
  const workspaceAccess = requireWorkspaceAccess(deps.db, deps.memberships);
  const inWorkspace = (route: Route) => {
    if (!namesWorkspace(route)) throw new Error(`${route.operationId}: which workspace? The path names none`);
    return workspaceAccess;
  };
  const opsAdmin = requireOpsAdmin(deps);
  const metricsToken = requireMetricsToken(deps.metricsToken);
  return {
    public: () => [],
    metrics: () => [metricsToken],
    ops: () => [opsAdmin],
    // Chat data is the members': the service token is refused before anything else is looked at.
    member: (route) => [refuseService, ...(namesWorkspace(route) ? [workspaceAccess] : [])],
    admin: (route) => [refuseService, inWorkspace(route), requireWorkspaceAdminAccess],
    adminOrService: (route) => [inWorkspace(route), requireAdminOrService],
    service: () => [requireService],
    user: () => [requireUser],
  };
}

function handlerOf(route: Route, deps: RouteDeps): RequestHandler {
  const parse = <S extends z.ZodType | undefined>(schema: S, parser: (s: z.ZodType, req: Request) => unknown, req: Request) =>
    schema ? parser(schema, req) : undefined;
  return async (req, res) => {
    const context = Object.assign(contextOf(req, res), {
      params: parse(route.params, parseParams, req),
      query: parse(route.query, parseQuery, req),
      headers: parse(route.headers, parseHeaders, req),
      body: parse(route.body, parseBody, req),
    });
    const reply = (await route.handle!(context, deps)) as { status: number; body: unknown } | undefined;
    if (reply) res.status(reply.status).json(reply.body);
  };
}
