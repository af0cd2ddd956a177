import { Router } from "express";
import type { z } from "zod";
import type { Db } from "@insights/shared/db/client";
import { requireWorkspaceAdminAccess } from "../auth/guards.ts";
import { recordAuditEvent } from "../audit/audit.service.ts";
import { callerOf } from "../http/request-context.ts";
import { parseBody, parseParams } from "../http/validate.ts";
import { campaignParams, campaignResponse, putCampaignBody } from "./campaigns.schema.ts";


/** Ingestion: the host application pushes its campaigns. Upsert by the host's id. */
export function campaignsRoutes(db: Db): Router {
  const router = Router({ mergeParams: true });

  router.put("/campaigns/:campaignId", requireWorkspaceAdminAccess, async (req, res) => {
    const { campaignId } = parseParams(campaignParams, req);
    const { name } = parseBody(putCampaignBody, req);
    const caller = callerOf(req);
    const campaign = await db.$transaction(async (tx) => {
      const row = await tx.campaign.upsert({
        where: { clientId_id: { clientId: caller.workspaceId, id: campaignId } },
        create: { clientId: caller.workspaceId, id: campaignId, name },
        update: { name },
      });
      await recordAuditEvent(tx, caller, { action: "CAMPAIGN_UPSERTED", details: { campaignId, name } });
      return row;
    });
    const body: z.output<typeof campaignResponse> = {
      id: campaign.id,
      name: campaign.name,
      createdAt: campaign.createdAt,
      updatedAt: campaign.updatedAt,
    };
    res.json(body);
  });

  return router;
}
