import { Router } from "express";
import type { Db } from "@insights/shared/db/client";
import { requireWorkspaceAdminAccess } from "../auth/guards.ts";
import { callerOf } from "../http/request-context.ts";
import { parseBody } from "../http/validate.ts";
import { patchSettingsBody } from "./settings.schema.ts";
import * as settings from "./settings.service.ts";

export function settingsRoutes(db: Db): Router {
  const router = Router({ mergeParams: true });

  router.get("/settings", async (req, res) => {
    res.json(await settings.getSettings(db, callerOf(req)));
  });

  router.patch("/settings", requireWorkspaceAdminAccess, async (req, res) => {
    const body = parseBody(patchSettingsBody, req);
    res.json(await settings.updateSettings(db, callerOf(req), body));
  });

  return router;
}
