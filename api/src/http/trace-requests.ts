// One SERVER span per request, named by its route pattern, continuing the caller's trace when it sent a W3C
// `traceparent`. Everything the request does (its queries, the jobs it enqueues) runs inside that span's context,
// so an enqueued job carries this trace to the worker. With tracing off the tracer is a no-op.
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Request, RequestHandler } from "express";
import { tracer, tracingStarted } from "@insights/shared/tracing";

export const traceRequests =
  (routeLabelOf: (req: Request) => string): RequestHandler =>
  (req, res, next) => {
    // Tracing off: every span would be a no-op, so skip making one (and the context, the bindings, the listener).
    if (!tracingStarted()) return next();
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer().startSpan(req.method, { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method } }, parent);
    const active = trace.setSpan(parent, span);
    // Body parsing resumes from the socket's events: bound, their callbacks stay inside this request's context.
    context.bind(active, req);
    context.bind(active, res);
    res.once("close", () => {
      const route = routeLabelOf(req);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ "http.route": route, "http.response.status_code": res.statusCode, "insights.request_id": req.id });
      if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(active, next);
  };
