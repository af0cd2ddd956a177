import { recordAuditEvent } from "../audit/audit.service.ts";
import { WORKSPACE_PATH, workspaceParams } from "../http/common.schema.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import { defineRoute } from "../http/route.ts";
import { campaignPage, campaignPath, campaignResponse, listCampaignsQuery, putCampaignBody } from "./campaigns.schema.ts";

const CAMPAIGN_FIELDS = { id: true, name: true, createdAt: true, updatedAt: true } as const;

export const campaignsRoutes = [
  /** What a scope can name: members pick a pack's campaigns from this list. */
  defineRoute({
    operationId: "listCampaigns",
    method: "get",
    path: `${WORKSPACE_PATH}/campaigns`,
    summary: "The workspace's campaigns, oldest first",
    tag: "insights",
    access: "member",
    params: workspaceParams,
    query: listCampaignsQuery,
    responses: { 200: { description: "A page of campaigns", body: campaignPage } },
    handle: async ({ query: { cursor, limit }, caller }, { db }) => {
      const rows = await db.campaign.findMany({
        where: { clientId: caller.workspaceId, ...afterCursor(cursor, "asc") },
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        take: limit + 1,
        select: CAMPAIGN_FIELDS,
      });
      const page = toPage(rows, limit);
      return { status: 200, body: { campaigns: page.items, nextCursor: page.nextCursor } };
    },
  }),
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
