import { recordAuditEvent } from "../audit/audit.service.ts";
import { WORKSPACE_PATH } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { campaignPath, campaignResponse, putCampaignBody } from "./campaigns.schema.ts";

export const campaignsRoutes = [
  /** Ingestion: the host application pushes its campaigns (service token or an admin). Upsert by the host's id. */
  defineRoute({
    operationId: "putCampaign",
    method: "put",
    path: `${WORKSPACE_PATH}/campaigns/{campaignId}`,
    summary: "Create or rename a campaign (upsert by the host's id)",
    tag: "ingestion",
    access: "adminOrService",
    params: campaignPath,
    body: putCampaignBody,
    responses: { 200: { description: "The campaign", body: campaignResponse } },
    handle: async ({ params: { campaignId }, body: { name }, actor: caller }, { db }) => {
      const campaign = await db.$transaction(async (tx) => {
        const row = await tx.campaign.upsert({
          where: { clientId_id: { clientId: caller.workspaceId, id: campaignId } },
          create: { clientId: caller.workspaceId, id: campaignId, name },
          update: { name },
        });
        await recordAuditEvent(tx, caller, { action: "CAMPAIGN_UPSERTED", details: { campaignId, name } });
        return row;
      });
      const { id, createdAt, updatedAt } = campaign;
      return { status: 200, body: { id, name: campaign.name, createdAt, updatedAt } };
    },
  }),
];
