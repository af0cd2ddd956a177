// The access guards every /v1 route goes through (the phase note's requireClientAccess and
// requireClientAdminAccess). Not a member → 404, exactly as if the workspace did not exist.
//
// Two kinds of caller: members (user tokens) and the host's backend (the service token). The service may only
// provision and ingest; a route that does not name it in a guard refuses it (see `callerOf`).
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Db } from "@insights/shared/db/client";
import { bearerTokenIn } from "@insights/shared/secrets";
import { AppError } from "../http/app-error.ts";
import { id } from "../http/common.schema.ts";
import { createTokenVerifier, type Principal } from "./jwt.ts";
import type { MembershipCache } from "./membership-cache.ts";

export const bearerTokenOf = (req: Request): string | undefined => bearerTokenIn(req.get("authorization"));

// Browsers' EventSource cannot set headers, so the live events route alone also takes `?access_token=`. The request
// log and the error log never print a query string, so the token never reaches a log line.
const EVENTS_ROUTE = /^\/workspaces\/[^/]+\/insights\/sessions\/[^/]+\/events\/?$/;
const queryTokenOf = (req: Request): string | undefined =>
  req.method === "GET" && EVENTS_ROUTE.test(req.path) && typeof req.query.access_token === "string" ? req.query.access_token : undefined;

export function authenticate(secret: string): RequestHandler {
  const tokens = createTokenVerifier(secret);
  const admit = (req: Request, principal: Principal | null, next: NextFunction) => {
    if (!principal) throw new AppError("UNAUTHENTICATED", "the bearer token is invalid or expired");
    req.principal = principal;
    if (principal.kind === "user") req.userId = principal.userId;
    next();
  };
  return (req, _res, next) => {
    const token = bearerTokenOf(req) ?? queryTokenOf(req);
    if (!token) throw new AppError("UNAUTHENTICATED", "send Authorization: Bearer <token>");
    // A token this process verified before costs a map lookup (until it expires), not an HMAC, and no await.
    const cached = tokens.cached(token);
    if (cached) return admit(req, cached, next);
    return tokens.verify(token).then((principal) => admit(req, principal, next));
  };
}

/**
 * Loads the caller's membership in `:workspaceId`. The service token reaches every workspace that exists (it
 * provisions them); what it may do there is each route's guard's business.
 */
export function requireWorkspaceAccess(db: Db, memberships: MembershipCache): RequestHandler {
  const lookUp = async (req: Request, workspaceId: string, next: NextFunction) => {
    if (req.principal?.kind === "service") {
      const exists = await db.client.findUnique({ where: { id: workspaceId }, select: { id: true } });
      if (!exists) throw new AppError("NOT_FOUND", "workspace not found");
      req.membership = { workspaceId, role: "SERVICE" };
      return next();
    }
    const role = req.userId ? await memberships.roleOf(workspaceId, req.userId) : null;
    if (!role) throw new AppError("NOT_FOUND", "workspace not found");
    req.membership = { workspaceId, role };
    next();
  };
  return (req, _res, next) => {
    // An id that cannot exist is answered like any workspace the caller is not in.
    const parsed = id.safeParse(req.params.workspaceId);
    if (!parsed.success) throw new AppError("NOT_FOUND", "workspace not found");
    const workspaceId = parsed.data;
    // A member whose membership this process holds fresh goes on without waiting (same bound: membership-cache.ts).
    const cached = req.userId && req.principal?.kind === "user" ? memberships.cachedRoleOf(workspaceId, req.userId) : undefined;
    if (cached) {
      req.membership = { workspaceId, role: cached };
      return next();
    }
    return lookUp(req, workspaceId, next);
  };
}

const isAdminRole = (role: string | undefined) => role === "OWNER" || role === "ADMIN";

/** Runs after `requireWorkspaceAccess`; refuses members and the service token. */
export const requireWorkspaceAdminAccess: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  if (!isAdminRole(req.membership?.role)) throw new AppError("FORBIDDEN", "this action needs a workspace admin");
  next();
};

/** Runs after `requireWorkspaceAccess`: ingestion and erasure, for a workspace admin or the host's backend. */
export const requireAdminOrService: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  const role = req.membership?.role;
  if (!isAdminRole(role) && role !== "SERVICE") {
    throw new AppError("FORBIDDEN", "this action needs a workspace admin or the service token");
  }
  next();
};

/** Chat data (sessions, messages, packs, audit events, ...) is for members only, never for the service token. */
export const refuseService: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  if (req.principal?.kind === "service") throw new AppError("FORBIDDEN", "a service token cannot read or write chat data");
  next();
};

/** Provisioning: the service token only; a user token gets 403 whatever its memberships. */
export const requireService: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  if (req.principal?.kind !== "service") throw new AppError("FORBIDDEN", "provisioning needs the service token");
  next();
};

/** Routes about the calling user themself. */
export const requireUser: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  if (req.principal?.kind !== "user") throw new AppError("FORBIDDEN", "this route needs a user token");
  next();
};
