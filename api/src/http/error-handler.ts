import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "@insights/shared/logger";
import { isDatabaseUnavailable } from "@insights/shared/db/unavailable";
import { AppError, validationFailed } from "./app-error.ts";

/** Turns anything thrown into the contract's error shape. Unknown errors are logged and never shown. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const error = toAppError(err);
    if (error.status >= 500) {
      logger.error({ err, requestId: req.id, method: req.method, path: req.path }, "request failed");
    }
    if (res.headersSent) return;
    res.status(error.status).json({
      error: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
        requestId: req.id,
      },
    });
  };
}

export const routeNotFound: RequestHandler = (req) => {
  throw new AppError("NOT_FOUND", `no route for ${req.method} ${req.path}`);
};

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // body-parser and Express's router mark their own failures with `type` and/or an HTTP `status`.
  const httpError = err as { type?: string; status?: number; limit?: number; expose?: boolean; message?: string };
  if (httpError?.type === "entity.too.large") {
    return new AppError("PAYLOAD_TOO_LARGE", `request body is larger than ${httpError.limit} bytes`);
  }
  if (httpError?.type === "entity.parse.failed") {
    return validationFailed([{ path: "body", message: "is not valid JSON" }]);
  }
  if (httpError?.type === "encoding.unsupported" || httpError?.type === "charset.unsupported") {
    return validationFailed([{ path: "body", message: "has an unsupported encoding" }]);
  }
  if (typeof httpError?.status === "number" && httpError.status >= 400 && httpError.status < 500) {
    // e.g. a body whose Content-Encoding lies, or a path with malformed percent-encoding.
    const where = httpError.type ? "body" : "path";
    return validationFailed([{ path: where, message: `could not be read (${httpError.expose ? httpError.message : "malformed"})` }]);
  }
  if (isDatabaseUnavailable(err)) {
    return new AppError("UNAVAILABLE", "the database is unavailable; retry shortly");
  }
  if (referencedRowIsGone(err)) {
    return new AppError("NOT_FOUND", "what this request writes into no longer exists (it was just deleted)");
  }
  return new AppError("INTERNAL", "internal error; quote the requestId when reporting it");
}

/**
 * A write refused by a foreign key: the row it belongs to (a workspace offboarded, a session purged) was deleted
 * after the request's checks passed, e.g. while another API process still cached the caller's membership. Prisma's
 * P2003, or the driver adapter's kind for the same (raw statements).
 */
function referencedRowIsGone(err: unknown): boolean {
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } } | undefined;
  return e?.code === "P2003" || e?.meta?.driverAdapterError?.cause?.kind === "ForeignKeyConstraintViolation";
}
