import { INSIGHTS_PATH, workspaceParams } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import {
  deliveryAttemptPage,
  listDeliveriesQuery,
  putWebhookBody,
  removedWebhookResponse,
  webhookResponse,
  webhookWithSecretResponse,
} from "./webhooks.schema.ts";
import * as webhooks from "./webhooks.service.ts";

const WEBHOOKS = `${INSIGHTS_PATH}/webhooks`;

export const webhooksRoutes = [
  defineRoute({
    operationId: "putWebhook",
    method: "put",
    path: WEBHOOKS,
    summary: "Set the workspace's webhook; the answer holds its new signing secret, shown this once",
    description: "A URL that resolves to a loopback, private, link-local or reserved address is refused (400).",
    tag: "insights",
    access: "admin",
    params: workspaceParams,
    body: putWebhookBody,
    responses: { 200: { description: "The webhook and its secret", body: webhookWithSecretResponse } },
    // CONFLICT: the deployment has no WEBHOOK_SECRET_KEY.
    errors: ["CONFLICT"],
    handle: async ({ body, caller }, deps) => ({ status: 200, body: await webhooks.putWebhook(deps, caller, body) }),
  }),
  defineRoute({
    operationId: "getWebhook",
    method: "get",
    path: WEBHOOKS,
    summary: "The workspace's webhook, without its secret",
    tag: "insights",
    access: "admin",
    params: workspaceParams,
    responses: { 200: { description: "The webhook", body: webhookResponse } },
    handle: async ({ caller }, { db }) => ({ status: 200, body: await webhooks.getWebhook(db, caller) }),
  }),
  defineRoute({
    operationId: "removeWebhook",
    method: "delete",
    path: WEBHOOKS,
    summary: "Remove the workspace's webhook; deliveries not yet made fail",
    tag: "insights",
    access: "admin",
    params: workspaceParams,
    responses: { 200: { description: "Removed", body: removedWebhookResponse } },
    handle: async ({ caller }, { db }) => ({ status: 200, body: await webhooks.removeWebhook(db, caller) }),
  }),
  defineRoute({
    operationId: "listWebhookDeliveries",
    method: "get",
    path: `${WEBHOOKS}/deliveries`,
    summary: "Every delivery attempt, newest first",
    tag: "insights",
    access: "admin",
    params: workspaceParams,
    query: listDeliveriesQuery,
    responses: { 200: { description: "A page of attempts", body: deliveryAttemptPage } },
    handle: async ({ query, caller }, { db }) => ({ status: 200, body: await webhooks.listDeliveryAttempts(db, caller, query) }),
  }),
];
