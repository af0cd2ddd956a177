import { INSIGHTS_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { preferencesResponse, putPreferencesBody } from "./preferences.schema.ts";
import * as preferences from "./preferences.service.ts";

export const preferencesRoutes = [
  defineRoute({
    operationId: "getPreferences",
    method: "get",
    path: `${INSIGHTS_PATH}/preferences`,
    summary: "The caller's own pack defaults in this workspace",
    tag: "insights",
    access: "member",
    params: workspaceParams,
    responses: { 200: { description: "The caller's defaults", body: preferencesResponse } },
    handle: async ({ caller }, { db }) => ({ status: 200, body: await preferences.getPreferences(db, caller) }),
  }),
  defineRoute({
    operationId: "putPreferences",
    method: "put",
    path: `${INSIGHTS_PATH}/preferences`,
    summary: "Save the caller's own pack defaults",
    tag: "insights",
    access: "member",
    params: workspaceParams,
    body: putPreferencesBody,
    responses: { 200: { description: "The saved defaults", body: preferencesResponse } },
    handle: async ({ body, caller }, { db }) => ({ status: 200, body: await preferences.putPreferences(db, caller, body) }),
  }),
];
