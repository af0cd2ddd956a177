import { WORKSPACE_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { eraseLead } from "./lead-erasure.service.ts";
import { ingestionResponse, leadErasureResponse, leadInsightResponse, leadPath, leadsBatchBody } from "./leads.schema.ts";
import * as leads from "./leads.service.ts";

export const leadsRoutes = [
  defineRoute({
    operationId: "ingestLeads",
    method: "post",
    path: `${WORKSPACE_PATH}/leads/batch`,
    summary: "Upsert up to 500 leads with their whole threads",
    tag: "ingestion",
    access: "adminOrService",
    params: workspaceParams,
    body: leadsBatchBody,
    // Whole threads: the one body larger than the default.
    bodyLimit: "10mb",
    responses: { 200: { description: "What was written", body: ingestionResponse } },
    handle: async ({ body, actor }, { db }) => ({ status: 200, body: await leads.ingestLeads(db, actor, body.leads) }),
  }),
  defineRoute({
    operationId: "eraseLead",
    method: "delete",
    path: `${WORKSPACE_PATH}/leads/{leadId}`,
    summary: "Erase a lead (a prospect asked to be forgotten)",
    description:
      "Its thread, cached insight and pack rows go; every pack that held it is rebuilt without it, paying only for " +
      "synthesis; answers that cited it lose their text. A LEAD_ERASED audit event names the lead's id only.",
    tag: "ingestion",
    access: "adminOrService",
    params: leadPath,
    responses: { 200: { description: "What was erased and rebuilt", body: leadErasureResponse } },
    handle: async ({ params, actor }, deps) => ({ status: 200, body: await eraseLead(deps, actor, params.leadId) }),
  }),
  defineRoute({
    operationId: "getLeadInsight",
    method: "get",
    path: `${WORKSPACE_PATH}/leads/{leadId}/insight`,
    summary: "A lead's cached conversation insight",
    tag: "insights",
    access: "member",
    params: leadPath,
    responses: { 200: { description: "The insight", body: leadInsightResponse } },
    handle: async ({ params, caller }, { db }) => ({ status: 200, body: await leads.getLeadInsight(db, caller, params.leadId) }),
  }),
];
