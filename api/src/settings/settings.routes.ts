import { INSIGHTS_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { patchSettingsBody, settingsResponse } from "./settings.schema.ts";
import * as settings from "./settings.service.ts";

export const settingsRoutes = [
  defineRoute({
    operationId: "getSettings",
    method: "get",
    path: `${INSIGHTS_PATH}/settings`,
    summary: "The workspace's insights settings",
    tag: "insights",
    access: "member",
    params: workspaceParams,
    responses: { 200: { description: "The settings", body: settingsResponse } },
    handle: async ({ caller }, deps) => ({ status: 200, body: await settings.getSettings(deps, caller) }),
  }),
  defineRoute({
    operationId: "updateSettings",
    method: "patch",
    path: `${INSIGHTS_PATH}/settings`,
    summary: "Change the workspace's insights settings",
    tag: "insights",
    access: "admin",
    params: workspaceParams,
    body: patchSettingsBody,
    responses: { 200: { description: "The settings after the change", body: settingsResponse } },
    handle: async ({ body, caller }, deps) => ({ status: 200, body: await settings.updateSettings(deps, caller, body) }),
  }),
];
