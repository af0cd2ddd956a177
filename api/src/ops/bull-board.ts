// Bull Board at /admin/queues, for the people who operate the service. It shows every workspace's jobs, so it is
// not for workspace admins: only users named in OPS_ADMINS get in. Tools send `Authorization: Bearer <jwt>`; a
// person signs in at /admin/queues/login, whose form POSTs the token (never in a URL, where it would land in
// history and proxy logs) and trades it for an HttpOnly cookie; /admin/queues/logout drops it. A browser that is
// refused gets a page it can act on (the form, or a way to switch user); every other client the usual JSON error.
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Request, RequestHandler, Response } from "express";
import { z } from "zod";
import type { Db } from "@insights/shared/db/client";
import type { JobQueues } from "@insights/shared/jobs/job-queues";
import { bearerTokenOf } from "../auth/guards.ts";
import { verifyToken } from "../auth/jwt.ts";
import { AppError } from "../http/app-error.ts";
import { defineRoute } from "../http/route.ts";
import { forbiddenPage, loginPage, sendPage } from "./ops-pages.ts";

export const BULL_BOARD_PATH = "/admin/queues";
const LOGIN_PATH = `${BULL_BOARD_PATH}/login`;
const LOGOUT_PATH = `${BULL_BOARD_PATH}/logout`;
const COOKIE = "insights_ops_token";

export interface BullBoardDeps {
  db: Db;
  queues: JobQueues;
  jwtSecret: string;
  /** User ids or emails allowed in. Empty: nobody is. */
  opsAdmins: string[];
}

/** The form's field, never refused by parsing: a missing or odd token is answered by the page, like a wrong one. */
const tokenField = z.object({ token: z.string().optional().catch(undefined) });
const page = (description: string) => ({ description, contentType: "text/html" });

const logout = {
  summary: "Clears the Bull Board cookie and redirects to the sign-in page",
  tag: "operations",
  access: "public",
  path: LOGOUT_PATH,
  responses: { 303: { description: "To the sign-in page, with the cookie cleared", headers: ["Location", "Set-Cookie"] } },
  handle: ({ req, res }: { req: Request; res: Response }) => {
    res.clearCookie(COOKIE, cookieOptions(req));
    res.redirect(303, LOGIN_PATH);
  },
} as const;

// The sign-in and sign-out routes come before the dashboard's mount, which would otherwise take their paths too.
export const bullBoardRoutes = [
  defineRoute({
    operationId: "bullBoardLoginPage",
    method: "get",
    path: LOGIN_PATH,
    summary: "The Bull Board sign-in page: a form that POSTs a token",
    description: "A token in the query (the old sign-in link) is refused with 400 and sets nothing.",
    tag: "operations",
    access: "public",
    query: tokenField,
    responses: { 200: page("The sign-in form"), 400: page("The form again: tokens are not taken from a URL") },
    handle: ({ query, res }) => {
      const problem = query.token === undefined ? undefined : "Tokens are no longer accepted in the link: paste it below.";
      sendPage(res, problem ? 400 : 200, loginPage(LOGIN_PATH, problem));
    },
  }),
  defineRoute({
    operationId: "bullBoardLogin",
    method: "post",
    path: LOGIN_PATH,
    summary: "Trades an operator's token (form field `token`) for the Bull Board cookie, then redirects to the dashboard",
    tag: "operations",
    access: "public",
    body: tokenField,
    bodyType: "form",
    responses: {
      303: { description: "To the dashboard, with the cookie set", headers: ["Location", "Set-Cookie"] },
      401: page("The form again, saying why: no token, or an invalid or expired one"),
      403: page("The form again: the token's user is not in OPS_ADMINS"),
    },
    handle: async ({ body, req, res }, deps) => {
      const token = body.token?.trim() ?? "";
      try {
        await authorizeOpsAdmin(deps, token);
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        return sendPage(res, err.status, loginPage(LOGIN_PATH, err.message));
      }
      // Scoped to the board, unreadable by scripts, never sent by another site, and over HTTPS only when served so.
      res.cookie(COOKIE, token, cookieOptions(req));
      res.redirect(303, BULL_BOARD_PATH);
    },
  }),
  defineRoute({ ...logout, operationId: "bullBoardLogout", method: "post" }),
  // GET too: Bull Board's own menu can only link. Signing someone out is all a forged request could do.
  defineRoute({ ...logout, operationId: "bullBoardLogoutLink", method: "get", summary: "The same as POST /admin/queues/logout" }),
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
      createBullBoard({
        queues: Object.values(queues).map((queue) => new BullMQAdapter(queue)),
        serverAdapter,
        options: { uiConfig: { boardTitle: "Insights queues", miscLinks: [{ text: "Sign out", url: LOGOUT_PATH }] } },
      });
      return serverAdapter.getRouter() as RequestHandler;
    },
  }),
];

const cookieOptions = (req: Request) => ({ httpOnly: true, sameSite: "strict" as const, path: BULL_BOARD_PATH, secure: req.secure });

/** The guard of `access: "ops"`: a bearer token or the sign-in cookie of a user named in OPS_ADMINS. */
export function requireOpsAdmin(deps: BullBoardDeps): RequestHandler {
  return async (req, res, next) => {
    try {
      await authorizeOpsAdmin(deps, tokenOf(req));
    } catch (err) {
      // A person's browser navigating to the board gets a page; Bull Board's own API calls and tools get JSON.
      if (!(err instanceof AppError) || err.status >= 500 || bearerTokenOf(req) || req.accepts(["json", "html"]) !== "html") throw err;
      return sendPage(res, err.status, err.status === 401 ? loginPage(LOGIN_PATH, err.message) : forbiddenPage(LOGOUT_PATH, err.message));
    }
    next();
  };
}

async function authorizeOpsAdmin(deps: BullBoardDeps, token: string): Promise<void> {
  if (!token) throw new AppError("UNAUTHENTICATED", `sign in at ${LOGIN_PATH}, or send Authorization: Bearer <token>`);
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
