import { Router } from "express";
import type { Db } from "@insights/shared/db/client";
import { requireWorkspaceAdminAccess } from "../auth/guards.ts";
import { callerOf } from "../http/request-context.ts";
import { parseBody, parseParams } from "../http/validate.ts";
import { leadParams, leadsBatchBody } from "./leads.schema.ts";
import * as leads from "./leads.service.ts";

export function leadsRoutes(db: Db): Router {
  const router = Router({ mergeParams: true });

  /** Ingestion: the host pushes leads with their whole threads, at most 500 a call. */
  router.post("/leads/batch", requireWorkspaceAdminAccess, async (req, res) => {
    const body = parseBody(leadsBatchBody, req);
    res.json(await leads.ingestLeads(db, callerOf(req), body.leads));
  });

  router.get("/leads/:leadId/insight", async (req, res) => {
    const { leadId } = parseParams(leadParams, req);
    res.json(await leads.getLeadInsight(db, callerOf(req), leadId));
  });

  return router;
}
