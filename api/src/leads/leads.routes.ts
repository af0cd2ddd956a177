import { WORKSPACE_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { ingestionResponse, leadInsightResponse, leadPath, leadsBatchBody } from "./leads.schema.ts";
import * as leads from "./leads.service.ts";

export const leadsRoutes = [
  defineRoute({
    operationId: "ingestLeads",
    method: "post",
    path: `${WORKSPACE_PATH}/leads/batch`,
    summary: "Upsert up to 500 leads with their whole threads",
    tag: "ingestion",
    access: "admin",
    params: workspaceParams,
    body: leadsBatchBody,
    // Whole threads: the one body larger than the default.
    bodyLimit: "10mb",
    responses: { 200: { description: "What was written", body: ingestionResponse } },
    handle: async ({ body, caller }, { db }) => ({ status: 200, body: await leads.ingestLeads(db, caller, body.leads) }),
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
