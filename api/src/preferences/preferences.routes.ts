import { Router } from "express";
import type { Db } from "@insights/shared/db/client";
import { callerOf } from "../http/request-context.ts";
import { parseBody } from "../http/validate.ts";
import { putPreferencesBody } from "./preferences.schema.ts";
import * as preferences from "./preferences.service.ts";

export function preferencesRoutes(db: Db): Router {
  const router = Router({ mergeParams: true });

  router.get("/preferences", async (req, res) => {
    res.json(await preferences.getPreferences(db, callerOf(req)));
  });

  router.put("/preferences", async (req, res) => {
    const body = parseBody(putPreferencesBody, req);
    res.json(await preferences.putPreferences(db, callerOf(req), body));
  });

  return router;
}
