import { Router } from "express";
import { requireWorkspaceAdminAccess } from "../auth/guards.ts";
import { packParams, sessionParams } from "../http/common.schema.ts";
import { callerOf } from "../http/request-context.ts";
import { parseBody, parseParams } from "../http/validate.ts";
import { recomputePackBody, requestPackBody } from "./packs.schema.ts";
import * as packs from "./packs.service.ts";

export function packsRoutes(deps: packs.PacksDeps): Router {
  const router = Router({ mergeParams: true });

  router.post("/sessions/:sessionId/packs", async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    const body = parseBody(requestPackBody, req);
    const { created, pack } = await packs.requestPack(deps, callerOf(req), sessionId, body);
    res.status(created ? 202 : 200).json(pack);
  });

  router.get("/sessions/:sessionId/packs", async (req, res) => {
    const { sessionId } = parseParams(sessionParams, req);
    res.json(await packs.listPacks(deps.db, callerOf(req), sessionId));
  });

  // Express sends a weak ETag for every JSON body and answers a matching If-None-Match with 304, so a client
  // polling an unchanged pack gets no body back.
  router.get("/packs/:packId", async (req, res) => {
    const { packId } = parseParams(packParams, req);
    res.json(await packs.getPack(deps.db, callerOf(req), packId));
  });

  router.post("/packs/:packId/recompute", requireWorkspaceAdminAccess, async (req, res) => {
    const { packId } = parseParams(packParams, req);
    const body = parseBody(recomputePackBody, req);
    res.status(202).json(await packs.recomputePack(deps, callerOf(req), packId, body));
  });

  router.delete("/packs/:packId", requireWorkspaceAdminAccess, async (req, res) => {
    const { packId } = parseParams(packParams, req);
    res.json(await packs.deletePack(deps, callerOf(req), packId));
  });

  return router;
}
