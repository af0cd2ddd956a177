import { Router } from "express";
import type { Db } from "@insights/shared/db/client";
import { requireWorkspaceAdminAccess } from "../auth/guards.ts";
import { callerOf } from "../http/request-context.ts";
import { parseQuery } from "../http/validate.ts";
import { listAuditEventsQuery } from "./audit.schema.ts";
import { listAuditEvents } from "./audit.service.ts";

export function auditRoutes(db: Db): Router {
  const router = Router({ mergeParams: true });
  router.get("/audit-events", requireWorkspaceAdminAccess, async (req, res) => {
    const query = parseQuery(listAuditEventsQuery, req);
    res.json(await listAuditEvents(db, callerOf(req), query));
  });
  return router;
}
