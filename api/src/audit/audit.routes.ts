import { INSIGHTS_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { auditEventPage, listAuditEventsQuery } from "./audit.schema.ts";
import { listAuditEvents } from "./audit.service.ts";

export const auditRoutes = [
  defineRoute({
    operationId: "listAuditEvents",
    method: "get",
    path: `${INSIGHTS_PATH}/audit-events`,
    summary: "Audit events, newest first",
    tag: "insights",
    access: "admin",
    params: workspaceParams,
    query: listAuditEventsQuery,
    responses: { 200: { description: "A page of audit events", body: auditEventPage } },
    handle: async ({ query, caller }, { db }) => ({ status: 200, body: await listAuditEvents(db, caller, query) }),
  }),
];
