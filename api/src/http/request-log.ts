// One log line per request, when it ends: request id, method, route pattern, status and duration. Mounted right
// after assignRequestId, so the line carries the same requestId as the response header and any error logged for it.
import type { Request, RequestHandler } from "express";
import type { Logger } from "@insights/shared/logger";
import { routeLabeler, type Route } from "./route.ts";

const ROUTE_LABEL = Symbol("routeLabel");

/** Probes and scrapes arrive every few seconds; their lines are debug so they do not drown the rest. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

export function logRequests(logger: Logger, routeLabelOf: (req: Request) => string): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once("close", () => {
      const route = routeLabelOf(req);
      const level = res.statusCode >= 500 ? "warn" : QUIET_ROUTES.has(route) ? "debug" : "info";
      // A level the logger drops costs nothing beyond this check.
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        requestId: req.id,
        method: req.method,
        route,
        path: pathOf(req),
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...(res.writableFinished ? {} : { aborted: true }),
        ...(req.userId ? { userId: req.userId } : {}),
        ...(req.principal?.kind === "service" ? { service: req.principal.name } : {}),
        ...(req.membership ? { workspaceId: req.membership.workspaceId } : {}),
      };
      logger[level](line, level === "warn" ? "request failed" : "request");
    });
    next();
  };
}

/**
 * The route pattern of a request (`/v1/workspaces/{workspaceId}/insights/sessions`), never its raw path: safe for
 * log fields and metric labels, whether or not the request got as far as its route.
 */
export function requestRouteLabeler(routes: readonly Route[]): (req: Request) => string {
  const labelOf = routeLabeler(routes);
  // The log, the metrics and the trace each ask when the response closes: one look-up per request serves all three
  // (kept on the request itself: a WeakMap entry per request would cost the garbage collector more than the look-up).
  return (req) => {
    const labelled = req as Request & { [ROUTE_LABEL]?: string };
    labelled[ROUTE_LABEL] ??= labelOf(req.method, pathOf(req));
    return labelled[ROUTE_LABEL];
  };
}

// originalUrl, because routers rewrite req.url while they run; without the query string (cursors, tokens).
const pathOf = (req: Request) => req.originalUrl.split("?")[0] ?? "/";
