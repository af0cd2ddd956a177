// Bull Board at /admin/queues, for the people who operate the service. It shows every workspace's jobs, so it is
// not for workspace admins: only users named in OPS_ADMINS get in. A browser can't send a bearer header, so
// `/admin/queues/login?token=<jwt>` trades a (preferably short-lived) token for an HttpOnly cookie.
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Request, RequestHandler } from "express";
import { z } from "zod";
import type { Db } from "@insights/shared/db/client";
import type { JobQueues } from "@insights/shared/jobs/job-queues";
import { bearerTokenOf } from "../auth/guards.ts";
import { verifyToken } from "../auth/jwt.ts";
import { AppError } from "../http/app-error.ts";
import { defineRoute } from "../http/route.ts";

export const BULL_BOARD_PATH = "/admin/queues";
const COOKIE = "insights_ops_token";

export interface BullBoardDeps {
  db: Db;
  queues: JobQueues;
  jwtSecret: string;
  /** User ids or emails allowed in. Empty: nobody is. */
  opsAdmins: string[];
}

export const bullBoardRoutes = [
  // Before the dashboard's mount, which would otherwise take this path too.
  defineRoute({
    operationId: "bullBoardLogin",
    method: "get",
    path: `${BULL_BOARD_PATH}/login`,
    summary: "Trades an operator's token for the Bull Board cookie, then redirects to the dashboard",
    description: "The token travels in the query because a browser cannot send a bearer header.",
    tag: "operations",
    access: "public",
    // Anything but one token (none, or several) is refused like a wrong one: 401.
    query: z.object({ token: z.string().optional().catch(undefined) }),
    responses: { 303: { description: "To the dashboard, with the cookie set", headers: ["Location", "Set-Cookie"] } },
    errors: ["UNAUTHENTICATED", "FORBIDDEN"],
    handle: async ({ query, req, res }, deps) => {
      const token = query.token ?? "";
      await authorizeOpsAdmin(deps, token);
      res.cookie(COOKIE, token, { httpOnly: true, sameSite: "strict", path: BULL_BOARD_PATH, secure: req.secure });
      res.redirect(303, BULL_BOARD_PATH);
    },
  }),
  defineRoute({
    operationId: "bullBoard",
    method: "get",
    path: BULL_BOARD_PATH,
    summary: "Bull Board, the queue dashboard (OPS_ADMINS only; its pages and API live under this path)",
    tag: "operations",
    access: "ops",
    responses: { 200: { description: "The dashboard", contentType: "text/html" } },
    mount: ({ queues }) => {
      const serverAdapter = new ExpressAdapter().setBasePath(BULL_BOARD_PATH);
      createBullBoard({ queues: Object.values(queues).map((queue) => new BullMQAdapter(queue)), serverAdapter });
      return serverAdapter.getRouter() as RequestHandler;
    },
  }),
];

/** The guard of `access: "ops"`: a bearer token or the login cookie of a user named in OPS_ADMINS. */
export function requireOpsAdmin(deps: BullBoardDeps): RequestHandler {
  return async (req, _res, next) => {
    await authorizeOpsAdmin(deps, tokenOf(req));
    next();
  };
}

async function authorizeOpsAdmin(deps: BullBoardDeps, token: string): Promise<void> {
  if (!token) throw new AppError("UNAUTHENTICATED", "send Authorization: Bearer <token>, or open /admin/queues/login?token=<token>");
  const userId = await verifyToken(deps.jwtSecret, token);
  if (!userId) throw new AppError("UNAUTHENTICATED", "the token is invalid or expired");
  const user = await deps.db.user.findUnique({ where: { id: userId }, select: { id: true, email: true } });
  if (!user || !(deps.opsAdmins.includes(user.id) || deps.opsAdmins.includes(user.email.toLowerCase()))) {
    throw new AppError("FORBIDDEN", "the queue dashboard is for operators listed in OPS_ADMINS");
  }
}

function tokenOf(req: Request): string {
  const bearer = bearerTokenOf(req);
  if (bearer) return bearer;
  const cookie = (req.get("cookie") ?? "").split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`));
  return cookie ? decodeURIComponent(cookie.slice(COOKIE.length + 1)) : "";
}
