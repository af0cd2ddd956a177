// Routes parse each part of a request through one of these and hand the *parsed* value on; nothing downstream
// reads req.body or req.query raw.
import type { Request } from "express";
import type { z } from "zod";
import { validationFailed, type FieldError } from "./app-error.ts";

type Part = "body" | "query" | "params" | "headers";

function parsePart<S extends z.ZodType>(part: Part, schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields: FieldError[] = result.error.issues.map((issue) => ({
    path: [part, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  throw validationFailed(fields);
}

export const parseBody = <S extends z.ZodType>(schema: S, req: Request): z.infer<S> => parsePart("body", schema, req.body ?? {});
export const parseQuery = <S extends z.ZodType>(schema: S, req: Request): z.infer<S> => parsePart("query", schema, req.query);
export const parseParams = <S extends z.ZodType>(schema: S, req: Request): z.infer<S> => parsePart("params", schema, req.params);
/** Reads each header the schema names (case-insensitively), so the schema sees `{"Idempotency-Key": ...}`. */
export const parseHeaders = <S extends z.ZodType>(schema: S, req: Request): z.infer<S> => {
  const names = "shape" in schema ? Object.keys((schema as unknown as z.ZodObject).shape) : [];
  return parsePart("headers", schema, Object.fromEntries(names.map((name) => [name, req.get(name)])));
};
