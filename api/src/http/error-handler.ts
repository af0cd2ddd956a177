import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "@insights/shared/logger";
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
  // body-parser marks its own failures with `type` and `status`.
  const parserError = err as { type?: string; status?: number; limit?: number };
  if (parserError?.type === "entity.too.large") {
    return new AppError("PAYLOAD_TOO_LARGE", `request body is larger than ${parserError.limit} bytes`);
  }
  if (parserError?.type === "entity.parse.failed") {
    return validationFailed([{ path: "body", message: "is not valid JSON" }]);
  }
  if (parserError?.type === "encoding.unsupported" || parserError?.type === "charset.unsupported") {
    return validationFailed([{ path: "body", message: "has an unsupported encoding" }]);
  }
  if (isDatabaseUnavailable(err)) {
    return new AppError("UNAVAILABLE", "the database is unavailable; retry shortly");
  }
  return new AppError("INTERNAL", "internal error; quote the requestId when reporting it");
}

const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "57P01", "57P03"]);

function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown; name?: string } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === "string" && UNAVAILABLE_CODES.has(e.code)) return true;
    if (e.name === "DriverAdapterError" || e.name === "PrismaClientInitializationError") {
      const text = String((e as { message?: string }).message ?? "");
      if (/ECONNREFUSED|connect|terminat/i.test(text)) return true;
    }
    e = e.cause as typeof e;
  }
  return false;
}
