import { INSIGHTS_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { usageQuery, usageResponse } from "./usage.schema.ts";
import { getUsage } from "./usage.service.ts";

export const usageRoutes = [
  defineRoute({
    operationId: "getUsage",
    method: "get",
    path: `${INSIGHTS_PATH}/usage`,
    summary: "LLM usage and savings over a range (default: the last 30 days)",
    tag: "insights",
    access: "admin",
    params: workspaceParams,
    query: usageQuery,
    responses: { 200: { description: "Spent and saved tokens, in total, by kind and by day", body: usageResponse } },
    handle: async ({ query, caller }, { db }) => ({ status: 200, body: await getUsage(db, caller, query) }),
  }),
];
