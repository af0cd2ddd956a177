// The two access guards every workspace route goes through (the phase note's requireClientAccess and
// requireClientAdminAccess). Not a member → 404, exactly as if the workspace did not exist.
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Db } from "@insights/shared/db/client";
import { AppError } from "../http/app-error.ts";
import { id } from "../http/common.schema.ts";
import { verifyToken } from "./jwt.ts";
import { cachedMembershipLookup } from "./membership-cache.ts";

export const bearerTokenOf = (req: Request): string | undefined =>
  /^Bearer ([^\s]+)$/i.exec(req.get("authorization") ?? "")?.[1];

// Browsers' EventSource cannot set headers, so the live events route alone also takes `?access_token=`. The request
// log and the error log never print a query string, so the token never reaches a log line.
const EVENTS_ROUTE = /^\/workspaces\/[^/]+\/insights\/sessions\/[^/]+\/events\/?$/;
const queryTokenOf = (req: Request): string | undefined =>
  req.method === "GET" && EVENTS_ROUTE.test(req.path) && typeof req.query.access_token === "string" ? req.query.access_token : undefined;

export function authenticate(secret: string): RequestHandler {
  return async (req, _res, next) => {
    const token = bearerTokenOf(req) ?? queryTokenOf(req);
    if (!token) throw new AppError("UNAUTHENTICATED", "send Authorization: Bearer <token>");
    const userId = await verifyToken(secret, token);
    if (!userId) throw new AppError("UNAUTHENTICATED", "the bearer token is invalid or expired");
    req.userId = userId;
    next();
  };
}

/** Loads the caller's membership in `:workspaceId`. */
export function requireWorkspaceAccess(db: Db): RequestHandler {
  const roleOf = cachedMembershipLookup(db);
  return async (req, _res, next) => {
    // An id that cannot exist is answered like any workspace the caller is not in.
    const parsed = id.safeParse(req.params.workspaceId);
    const role = parsed.success && req.userId ? await roleOf(parsed.data, req.userId) : null;
    if (!parsed.success || !role) throw new AppError("NOT_FOUND", "workspace not found");
    req.membership = { workspaceId: parsed.data, role };
    next();
  };
}

/** Runs after `requireWorkspaceAccess`; refuses members. */
export const requireWorkspaceAdminAccess: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  const role = req.membership?.role;
  if (role !== "OWNER" && role !== "ADMIN") {
    throw new AppError("FORBIDDEN", "this action needs a workspace admin");
  }
  next();
};
