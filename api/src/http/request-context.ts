// What the middleware chain learns about a request, typed once: the request id, the caller, and the caller's
// membership in the workspace the path names.
import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { WorkspaceRole } from "@insights/shared/db/client";

export interface Membership {
  workspaceId: string;
  role: WorkspaceRole;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      /** Set by `authenticate`. */
      userId?: string;
      /** Set by `requireWorkspaceAccess`. */
      membership?: Membership;
    }
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Honours a well-formed `X-Request-Id` from a proxy, so one id follows a request across services. */
export function assignRequestId(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.get("x-request-id");
  req.id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader("X-Request-Id", req.id);
  next();
}

/** Who is calling, in which workspace: what every service function takes first. */
export interface Caller {
  workspaceId: string;
  userId: string;
  isAdmin: boolean;
}

/** Only valid behind `authenticate` and `requireWorkspaceAccess`. */
export function callerOf(req: Request): Caller {
  const { membership, userId } = req;
  if (!membership || !userId) throw new Error("callerOf used on a route without the workspace access guard");
  return {
    workspaceId: membership.workspaceId,
    userId,
    isAdmin: membership.role === "OWNER" || membership.role === "ADMIN",
  };
}
