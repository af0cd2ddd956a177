import { Router } from "express";
import type { Db } from "@insights/shared/db/client";
import type { JobClient } from "../jobs/job-client.ts";
import { requireWorkspaceAdminAccess } from "../auth/guards.ts";
import { sessionParams } from "../http/common.schema.ts";
import { callerOf } from "../http/request-context.ts";
import { parseBody, parseParams, parseQuery } from "../http/validate.ts";
import { createSessionBody, listSessionsQuery, renameSessionBody } from "./sessions.schema.ts";
import * as sessions from "./sessions.service.ts";

export function sessionsRoutes({ db, jobs, sessionRetentionDays }: { db: Db; jobs: JobClient; sessionRetentionDays: number }): Router {
  const router = Router({ mergeParams: true });

  router.post("/sessions", async (req, res) => {
    const body = parseBody(createSessionBody, req);
    res.status(201).json(await sessions.createSession(db, callerOf(req), body));
  });

  router.get("/sessions", async (req, res) => {
    const query = parseQuery(listSessionsQuery, req);
    res.json(await sessions.listSessions(db, callerOf(req), query));
  });

  router.get("/sessions/:sessionId", async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    res.json(await sessions.getSession(db, callerOf(req), sessionId));
  });

  router.patch("/sessions/:sessionId", async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    const { title } = parseBody(renameSessionBody, req);
    res.json(await sessions.renameSession(db, callerOf(req), sessionId, title));
  });

  router.delete("/sessions/:sessionId", requireWorkspaceAdminAccess, async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    res.json(await sessions.deleteSession(db, jobs, callerOf(req), sessionId));
  });

  router.post("/sessions/:sessionId/restore", requireWorkspaceAdminAccess, async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    res.json(await sessions.restoreSession(db, callerOf(req), sessionId, sessionRetentionDays));
  });

  return router;
}
