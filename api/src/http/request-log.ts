// One log line per request, when it ends: request id, method, route pattern, status and duration. Mounted right
// after assignRequestId, so the line carries the same requestId as the response header and any error logged for it.
import type { Request, RequestHandler } from "express";
import type { Logger } from "@insights/shared/logger";
import { routeLabeler, type Route } from "./route.ts";

/** Probes and scrapes arrive every few seconds; their lines are debug so they do not drown the rest. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

export function logRequests(logger: Logger, routeLabelOf: (req: Request) => string): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once("close", () => {
      const route = routeLabelOf(req);
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
      if (res.statusCode >= 500) logger.warn(line, "request failed");
      else if (QUIET_ROUTES.has(route)) logger.debug(line, "request");
      else logger.info(line, "request");
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
  // The log, the metrics and the trace each ask when the response closes: one look-up per request serves all three.
  const labels = new WeakMap<Request, string>();
  return (req) => {
    let label = labels.get(req);
    if (label === undefined) labels.set(req, (label = labelOf(req.method, pathOf(req))));
    return label;
  };
}

// originalUrl, because routers rewrite req.url while they run; without the query string (cursors, tokens).
const pathOf = (req: Request) => req.originalUrl.split("?")[0] ?? "/";
