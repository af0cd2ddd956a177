/** Every error code a client can receive, with its HTTP status. */
export const errorStatus = {
  /** The request body, query or path failed validation; `details.fields` names each failing field. */
  VALIDATION_FAILED: 400,
  /** No bearer token, or one that is forged, expired or malformed. */
  UNAUTHENTICATED: 401,
  /** A member asked for an admin-only action. */
  FORBIDDEN: 403,
  /** The resource does not exist, or the caller is not a member of its workspace (never told apart). */
  NOT_FOUND: 404,
  /** The request is valid but the resource's state forbids it (e.g. restoring a session that is not deleted). */
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** A dependency (PostgreSQL or Redis) is down; retry later. */
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface FieldError {
  /** Dotted path into the request part, e.g. `body.leads.3.messages.0.sentAt`. */
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.status = errorStatus[code];
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);

export function validationFailed(fields: FieldError[]): AppError {
  const summary = fields.map((f) => `${f.path}: ${f.message}`).join("; ");
  return new AppError("VALIDATION_FAILED", `invalid request: ${summary}`, { fields });
}
