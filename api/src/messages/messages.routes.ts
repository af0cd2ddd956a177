import { Router } from "express";
import type { Db } from "@insights/shared/db/client";
import type { JobClient } from "../jobs/job-client.ts";
import { sessionParams } from "../http/common.schema.ts";
import { callerOf } from "../http/request-context.ts";
import { parseBody, parseParams, parseQuery } from "../http/validate.ts";
import { createMessageBody, listMessagesQuery } from "./messages.schema.ts";
import * as messages from "./messages.service.ts";

export function messagesRoutes(deps: { db: Db; jobs: JobClient }): Router {
  const { db } = deps;
  const router = Router({ mergeParams: true });

  router.get("/sessions/:sessionId/messages", async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    const query = parseQuery(listMessagesQuery, req);
    res.json(await messages.listMessages(db, callerOf(req), sessionId, query));
  });

  router.post("/sessions/:sessionId/messages", async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    const body = parseBody(createMessageBody, req);
    res.status(201).json(await messages.createUserMessage(deps, callerOf(req), sessionId, body));
  });

  return router;
}
