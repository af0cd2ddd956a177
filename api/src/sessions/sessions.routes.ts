import { INSIGHTS_PATH, sessionPath, workspaceParams } from "../http/common.schema.ts";
import { idempotencyHeaders, idempotent } from "../http/idempotency.ts";
import { defineRoute } from "../http/route.ts";
import { createSessionBody, listSessionsQuery, renameSessionBody, sessionPage, sessionResponse } from "./sessions.schema.ts";
import * as sessions from "./sessions.service.ts";

const SESSION = `${INSIGHTS_PATH}/sessions/{sessionId}`;

export const sessionsRoutes = [
  defineRoute({
    operationId: "createSession",
    method: "post",
    path: `${INSIGHTS_PATH}/sessions`,
    summary: "Open an insights session",
    tag: "insights",
    access: "member",
    params: workspaceParams,
    headers: idempotencyHeaders,
    body: createSessionBody,
    responses: { 201: { description: "The new session (or, for a repeated Idempotency-Key, the first answer)", body: sessionResponse } },
    errors: ["CONFLICT"],
    handle: async ({ body, headers, caller, req, res }, { db }) =>
      idempotent(db, { req, res, key: headers["Idempotency-Key"] }, { ...caller, input: body }, async () => ({
        status: 201 as const,
        body: await sessions.createSession(db, caller, body),
      })),
  }),
  defineRoute({
    operationId: "listSessions",
    method: "get",
    path: `${INSIGHTS_PATH}/sessions`,
    summary: "Sessions, newest first (admins may include deleted ones)",
    tag: "insights",
    access: "member",
    params: workspaceParams,
    query: listSessionsQuery,
    responses: { 200: { description: "A page of sessions", body: sessionPage } },
    handle: async ({ query, caller }, { db }) => ({ status: 200, body: await sessions.listSessions(db, caller, query) }),
  }),
  defineRoute({
    operationId: "getSession",
    method: "get",
    path: SESSION,
    summary: "One session",
    tag: "insights",
    access: "member",
    params: sessionPath,
    responses: { 200: { description: "The session", body: sessionResponse } },
    handle: async ({ params, caller }, { db }) => ({ status: 200, body: await sessions.getSession(db, caller, params.sessionId) }),
  }),
  defineRoute({
    operationId: "renameSession",
    method: "patch",
    path: SESSION,
    summary: "Rename a session",
    tag: "insights",
    access: "member",
    params: sessionPath,
    body: renameSessionBody,
    responses: { 200: { description: "The renamed session", body: sessionResponse } },
    errors: ["CONFLICT"],
    handle: async ({ params, body, caller }, { db, live }) => ({
      status: 200,
      body: await sessions.renameSession(db, live, caller, params.sessionId, body.title),
    }),
  }),
  defineRoute({
    operationId: "deleteSession",
    method: "delete",
    path: SESSION,
    summary: "Soft-delete a session and cancel its running packs",
    tag: "insights",
    access: "admin",
    params: sessionPath,
    responses: { 200: { description: "The session, with deletedAt", body: sessionResponse } },
    errors: ["CONFLICT"],
    handle: async ({ params, caller }, { db, jobs, live }) => ({
      status: 200,
      body: await sessions.deleteSession(db, jobs, live, caller, params.sessionId),
    }),
  }),
  defineRoute({
    operationId: "restoreSession",
    method: "post",
    path: `${SESSION}/restore`,
    summary: "Restore a soft-deleted session",
    tag: "insights",
    access: "admin",
    params: sessionPath,
    responses: { 200: { description: "The restored session", body: sessionResponse } },
    errors: ["CONFLICT"],
    handle: async ({ params, caller }, { db, live, sessionRetentionDays }) => ({
      status: 200,
      body: await sessions.restoreSession(db, live, caller, params.sessionId, sessionRetentionDays),
    }),
  }),
];
