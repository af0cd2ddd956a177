import { defineRoute } from "../http/route.ts";
import { meResponse } from "./me.schema.ts";
import { getMe } from "./me.service.ts";

export const meRoutes = [
  /** Who the token speaks for, and the workspaces they may open: what a client needs before anything else. */
  defineRoute({
    operationId: "getMe",
    method: "get",
    path: "/v1/me",
    summary: "The calling user and every workspace they belong to, with their role in each",
    tag: "identity",
    access: "user",
    responses: { 200: { description: "The user and their workspaces", body: meResponse } },
    errors: ["NOT_FOUND"],
    handle: async ({ req }, { db }) => ({ status: 200, body: await getMe(db, req.userId!) }),
  }),
];
