// What the middleware chain learns about a request, typed once: the request id, the caller, and the caller's
// membership in the workspace the path names.
import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { WorkspaceRole } from "@insights/shared/db/client";
import type { Principal } from "../auth/jwt.ts";
import { AppError } from "./app-error.ts";

/** A member's role in the workspace the path names; a service token acts in it with `role: "SERVICE"`. */
export interface Membership {
  workspaceId: string;
  role: WorkspaceRole | "SERVICE";
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      /** Set by `authenticate`. */
      principal?: Principal;
      /** Set by `authenticate` for user tokens only. */
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

/**
 * Only valid behind `authenticate` and `requireWorkspaceAccess`. Refuses a service token: every route that reads or
 * writes chat data takes its caller from here, so a route nobody opened to the service stays closed to it.
 */
export function callerOf(req: Request): Caller {
  const { membership, userId } = req;
  if (req.principal?.kind === "service") throw new AppError("FORBIDDEN", "a service token cannot use this route");
  if (!membership || !userId || membership.role === "SERVICE") {
    throw new Error("callerOf used on a route without the workspace access guard");
  }
  return {
    workspaceId: membership.workspaceId,
    userId,
    isAdmin: membership.role === "OWNER" || membership.role === "ADMIN",
  };
}

/** Who an audit event names: a member, or the host's backend (`userId: null`, recorded as a SERVICE actor). */
export interface Actor {
  workspaceId: string;
  userId: string | null;
}

/** For the routes open to workspace admins and to the service token alike (behind `requireAdminOrService`). */
export function actorOf(req: Request): Actor {
  const { membership } = req;
  if (!membership) throw new Error("actorOf used on a route without the workspace access guard");
  if (membership.role === "SERVICE") return { workspaceId: membership.workspaceId, userId: null };
  return { workspaceId: membership.workspaceId, userId: callerOf(req).userId };
}
