import { Router } from "express";
import type { Db } from "@insights/shared/db/client";
import { requireWorkspaceAdminAccess } from "../auth/guards.ts";
import { callerOf } from "../http/request-context.ts";
import { parseQuery } from "../http/validate.ts";
import { usageQuery } from "./usage.schema.ts";
import { getUsage } from "./usage.service.ts";

export function usageRoutes(db: Db): Router {
  const router = Router({ mergeParams: true });
  router.get("/usage", requireWorkspaceAdminAccess, async (req, res) => {
    const range = parseQuery(usageQuery, req);
    res.json(await getUsage(db, callerOf(req), range));
  });
  return router;
}
