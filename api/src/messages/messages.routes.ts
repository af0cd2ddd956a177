import { INSIGHTS_PATH, sessionPath } from "../http/common.schema.ts";
import { idempotencyHeaders, idempotent } from "../http/idempotency.ts";
import { defineRoute } from "../http/route.ts";
import { createdMessages, createMessageBody, listMessagesQuery, messagePage } from "./messages.schema.ts";
import * as messages from "./messages.service.ts";

const MESSAGES = `${INSIGHTS_PATH}/sessions/{sessionId}/messages`;

export const messagesRoutes = [
  defineRoute({
    operationId: "listMessages",
    method: "get",
    path: MESSAGES,
    summary: "A session's messages, oldest first",
    tag: "insights",
    access: "member",
    params: sessionPath,
    query: listMessagesQuery,
    responses: { 200: { description: "A page of messages", body: messagePage } },
    handle: async ({ params, query, caller }, { db }) => ({
      status: 200,
      body: await messages.listMessages(db, caller, params.sessionId, query),
    }),
  }),
  defineRoute({
    operationId: "createMessage",
    method: "post",
    path: MESSAGES,
    summary: "Ask a question; a worker answers it from the session's COMPLETE pack",
    tag: "insights",
    access: "member",
    params: sessionPath,
    headers: idempotencyHeaders,
    body: createMessageBody,
    responses: { 201: { description: "The question and its pending reply", body: createdMessages } },
    errors: ["CONFLICT", "UNAVAILABLE"],
    handle: async ({ params, body, headers, caller, req, res }, deps) =>
      idempotent(deps.db, { req, res, key: headers["Idempotency-Key"] }, { ...caller, input: body }, async () => ({
        status: 201 as const,
        body: await messages.createUserMessage(deps, caller, params.sessionId, body),
      })),
  }),
];
