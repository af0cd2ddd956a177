// The tests' table of every /v1 route: the permission matrix, the bad-input, fuzzing, isolation and body-limit
// suites iterate over it. Method, path, access and query come from the route's declaration (api/src/routes.ts);
// this file adds only what a test needs: how to build a valid request, and bodies that must be refused. A route
// declared without a fixture here fails `npm run typecheck`.
import { z } from "zod";
import type { HttpMethod, Route } from "@insights/api/http/route";
import { API_ROUTES } from "@insights/api/routes";
import type { Harness, TestWorkspace } from "./harness.ts";

interface RouteFixture {
  /** Builds the path and a valid body, creating whatever the route needs first (a fresh one per call). */
  prepare: (h: Harness, ws: TestWorkspace) => Promise<{ path: string; body?: object }>;
  /** Bodies that must be refused with 400, and a field each must name. */
  badBodies?: Array<{ body: unknown; field: string }>;
}

export interface RouteCase extends RouteFixture {
  /** `GET sessions/:id/messages`: method and path under the workspace (and /insights), ids as `:id`. */
  name: string;
  method: HttpMethod;
  adminOnly: boolean;
  /** The query parameters the route reads, from its declaration. */
  queryKeys: string[];
  route: Route;
}

type OperationId = (typeof API_ROUTES)[number]["operationId"];

async function newSession(h: Harness, ws: TestWorkspace): Promise<string> {
  const res = await h.http.post(`${ws.base}/insights/sessions`).set("Authorization", `Bearer ${ws.tokens.member}`).send({});
  return res.body.id as string;
}

async function deletedSession(h: Harness, ws: TestWorkspace): Promise<string> {
  const id = await newSession(h, ws);
  await h.http.delete(`${ws.base}/insights/sessions/${id}`).set("Authorization", `Bearer ${ws.tokens.owner}`);
  return id;
}

/** A pack (no worker runs in the matrix, so it stays as the API left it unless `status` says otherwise). */
async function newPack(h: Harness, ws: TestWorkspace, status?: "COMPLETE"): Promise<string> {
  const sessionId = await newSession(h, ws);
  const res = await h.http
    .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
    .set("Authorization", `Bearer ${ws.tokens.member}`)
    .send({ window: { preset: "LAST_30_DAYS" } });
  const packId = res.body.id as string;
  if (status) await h.db.insightContextPack.update({ where: { id: packId }, data: { status, stage: "DONE" } });
  return packId;
}

/** A cached insight as a pack's extraction would leave it (packs are exercised in their own tests). */
async function leadWithInsight(h: Harness, ws: TestWorkspace): Promise<string> {
  const lead = await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId } });
  await h.db.leadConversationInsight.upsert({
    where: { clientId_leadId: { clientId: ws.workspaceId, leadId: lead.id } },
    update: {},
    create: {
      clientId: ws.workspaceId,
      leadId: lead.id,
      outcome: "INTERESTED",
      summary: { summary: "Asked for pricing." },
      threadFingerprint: lead.threadFingerprint,
      promptVersion: "test",
      model: "test-model",
      provider: "offline",
    },
  });
  return lead.id;
}

const FIXTURES: Record<OperationId, RouteFixture> = {
  putCampaign: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/campaigns/cmp-new`, body: { name: "New campaign" } }),
    badBodies: [
      { body: {}, field: "body.name" },
      { body: { name: "" }, field: "body.name" },
      { body: { name: 42 }, field: "body.name" },
      { body: { name: "ok", extra: true }, field: "body" },
    ],
  },
  ingestLeads: {
    prepare: async (_h, ws) => ({
      path: `${ws.base}/leads/batch`,
      body: {
        leads: [
          {
            id: "lead-x",
            campaignId: ws.campaignIds[0],
            messages: [{ id: "m1", direction: "OUTBOUND", body: "hello", sentAt: "2026-11-01T10:00:00Z" }],
          },
        ],
      },
    }),
    badBodies: [
      { body: {}, field: "body.leads" },
      { body: { leads: [] }, field: "body.leads" },
      {
        body: { leads: [{ id: "a", messages: [{ id: "m", direction: "SIDEWAYS", body: "x", sentAt: "2026-01-01T00:00:00Z" }] }] },
        field: "body.leads.0.messages.0.direction",
      },
      {
        body: { leads: [{ id: "a", messages: [{ id: "m", direction: "INBOUND", body: "x", sentAt: "yesterday" }] }] },
        field: "body.leads.0.messages.0.sentAt",
      },
      {
        body: {
          leads: [
            { id: "a", messages: [] },
            { id: "a", messages: [] },
          ],
        },
        field: "body.leads.1.id",
      },
      { body: { leads: [{ id: "bad id!", messages: [] }] }, field: "body.leads.0.id" },
      { body: { leads: [{ id: "a", campaignId: "no-such-campaign", messages: [] }] }, field: "body.leads.0.campaignId" },
      { body: { leads: Array.from({ length: 501 }, (_, i) => ({ id: `l${i}`, messages: [] })) }, field: "body.leads" },
    ],
  },
  getLeadInsight: {
    prepare: async (h, ws) => ({ path: `${ws.base}/leads/${await leadWithInsight(h, ws)}/insight` }),
  },
  createSession: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/sessions`, body: { title: "Pipeline review" } }),
    badBodies: [
      { body: { title: "" }, field: "body.title" },
      { body: { title: "x".repeat(201) }, field: "body.title" },
      { body: { title: 7 }, field: "body.title" },
      // A `__proto__` key arrives as an own key of the parsed body; the strict schema refuses it like any other.
      { body: JSON.parse('{"title": "x", "__proto__": {"isAdmin": true}}'), field: "body" },
    ],
  },
  listCampaigns: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/campaigns` }),
  },
  listSessions: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/sessions` }),
  },
  getSession: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/sessions/${await newSession(h, ws)}` }),
  },
  renameSession: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/sessions/${await newSession(h, ws)}`, body: { title: "Renamed" } }),
    badBodies: [
      { body: {}, field: "body.title" },
      { body: { title: "   " }, field: "body.title" },
    ],
  },
  deleteSession: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/sessions/${await newSession(h, ws)}` }),
  },
  restoreSession: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/sessions/${await deletedSession(h, ws)}/restore` }),
  },
  listMessages: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/sessions/${await newSession(h, ws)}/messages` }),
  },
  createMessage: {
    prepare: async (h, ws) => ({
      path: `${ws.base}/insights/sessions/${await newSession(h, ws)}/messages`,
      body: { content: "Which leads booked meetings?" },
    }),
    badBodies: [
      { body: {}, field: "body.content" },
      { body: { content: "" }, field: "body.content" },
      { body: { content: "x".repeat(8001) }, field: "body.content" },
      { body: { content: "hi", packId: "not valid!" }, field: "body.packId" },
    ],
  },
  requestPack: {
    prepare: async (h, ws) => ({
      path: `${ws.base}/insights/sessions/${await newSession(h, ws)}/packs`,
      body: { window: { preset: "LAST_7_DAYS" }, campaignIds: [ws.campaignIds[0]] },
    }),
    badBodies: [
      { body: { window: { preset: "LAST_YEAR" } }, field: "body.window" },
      { body: { window: { preset: "CUSTOM", from: "2026-02-01" } }, field: "body.window.to" },
      { body: { window: { preset: "CUSTOM", from: "2026-02-01", to: "2026-01-01" } }, field: "body.window.to" },
      { body: { window: { preset: "CUSTOM", from: "not a date", to: "2026-01-01" } }, field: "body.window.from" },
      { body: { campaignIds: "cmp" }, field: "body.campaignIds" },
      { body: { campaignIds: ["unknown-campaign"] }, field: "body.campaignIds" },
      { body: { campaignIds: ["a", "b", "c"], campaignCap: 2 }, field: "body.campaignIds" },
      { body: { campaignCap: 0 }, field: "body.campaignCap" },
      { body: { scope: {} }, field: "body" },
      { body: { campaignCap: "5" }, field: "body.campaignCap" },
      { body: { campaignCap: 1e308 }, field: "body.campaignCap" },
      { body: { window: [{ preset: "LAST_7_DAYS" }] }, field: "body.window" },
    ],
  },
  sessionEvents: {
    // The test harness ends event streams after a moment, so this answers like any other route here.
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/sessions/${await newSession(h, ws)}/events` }),
  },
  listPacks: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/sessions/${await newSession(h, ws)}/packs` }),
  },
  getPack: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/packs/${await newPack(h, ws)}` }),
  },
  recomputePack: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/packs/${await newPack(h, ws, "COMPLETE")}/recompute`, body: {} }),
  },
  deletePack: {
    prepare: async (h, ws) => ({ path: `${ws.base}/insights/packs/${await newPack(h, ws)}` }),
  },
  getPreferences: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/preferences` }),
  },
  putPreferences: {
    prepare: async (_h, ws) => ({
      path: `${ws.base}/insights/preferences`,
      body: { windowPreset: "LAST_7_DAYS", campaignCap: 5 },
    }),
    badBodies: [
      { body: {}, field: "body.windowPreset" },
      { body: { windowPreset: "LAST_YEAR", campaignCap: 5 }, field: "body.windowPreset" },
      { body: { windowPreset: "LAST_7_DAYS", campaignCap: 0 }, field: "body.campaignCap" },
      { body: { windowPreset: "LAST_7_DAYS", campaignCap: 1000 }, field: "body.campaignCap" },
      { body: { windowPreset: "CUSTOM", campaignCap: 5 }, field: "body.customFrom" },
      { body: { windowPreset: "CUSTOM", customFrom: "2026-02-01", customTo: "2026-01-01", campaignCap: 5 }, field: "body.customTo" },
      { body: { windowPreset: "CUSTOM", customFrom: "soon", customTo: "2026-01-01", campaignCap: 5 }, field: "body.customFrom" },
      { body: JSON.parse('{"windowPreset": "LAST_7_DAYS", "campaignCap": 5, "constructor": {"prototype": {"x": 1}}}'), field: "body" },
    ],
  },
  getSettings: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/settings` }),
  },
  updateSettings: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/settings`, body: { insightsChatReasoningEffort: "high" } }),
    badBodies: [
      { body: {}, field: "body" },
      { body: { insightsChatReasoningEffort: "extreme" }, field: "body.insightsChatReasoningEffort" },
      { body: { insightsChatEnableCampaignChanges: "yes" }, field: "body.insightsChatEnableCampaignChanges" },
      { body: { insightsChatModel: "" }, field: "body.insightsChatModel" },
      { body: JSON.parse('{"__proto__": {"insightsChatEnableCampaignChanges": true}}'), field: "body" },
    ],
  },
  getUsage: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/usage?from=2026-01-01` }),
  },
  listAuditEvents: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/audit-events` }),
  },
  eraseLead: {
    prepare: async (h, ws) => {
      const id = `erase-${Math.random().toString(36).slice(2, 10)}`;
      await h.db.lead.create({ data: { clientId: ws.workspaceId, id, lastActivityAt: new Date(), threadFingerprint: "x" } });
      return { path: `${ws.base}/leads/${id}` };
    },
  },
  putWebhook: {
    prepare: async (_h, ws) => ({
      path: `${ws.base}/insights/webhooks`,
      body: { url: "http://127.0.0.1:9/hook", events: ["pack.completed"] },
    }),
    badBodies: [
      { body: {}, field: "body.url" },
      { body: { url: "ftp://example.com/x", events: ["pack.completed"] }, field: "body.url" },
      { body: { url: "http://127.0.0.1:9/hook", events: [] }, field: "body.events" },
      { body: { url: "http://127.0.0.1:9/hook", events: ["pack.exploded"] }, field: "body.events.0" },
      { body: { url: "http://127.0.0.1:9/hook", events: ["pack.failed", "pack.failed"] }, field: "body.events" },
    ],
  },
  getWebhook: {
    prepare: async (h, ws) => ({ path: await withWebhook(h, ws) }),
  },
  removeWebhook: {
    prepare: async (h, ws) => ({ path: await withWebhook(h, ws) }),
  },
  listWebhookDeliveries: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/insights/webhooks/deliveries` }),
  },
  // The host's routes (service token; GET /v1/me for any user): HOST_ROUTES, exercised by tests/provisioning.test.ts.
  getMe: {
    prepare: async () => ({ path: "/v1/me" }),
  },
  putWorkspace: {
    prepare: async () => ({ path: `/v1/workspaces/${hostId("ws")}`, body: { name: "Provisioned" } }),
    badBodies: [
      { body: {}, field: "body.name" },
      { body: { name: "" }, field: "body.name" },
      { body: { name: "ok", extra: 1 }, field: "body" },
      { body: { name: "ok", schedulingWeight: 0 }, field: "body.schedulingWeight" },
      { body: { name: "ok", schedulingWeight: 101 }, field: "body.schedulingWeight" },
      { body: { name: "ok", schedulingWeight: 2.5 }, field: "body.schedulingWeight" },
    ],
  },
  offboardWorkspace: {
    prepare: async (h) => {
      const id = hostId("ws");
      await h.db.client.create({ data: { id, name: "To offboard" } });
      return { path: `/v1/workspaces/${id}` };
    },
  },
  putUser: {
    prepare: async () => {
      const id = hostId("user");
      return { path: `/v1/users/${id}`, body: { email: `${id}@host.test`, name: "Provisioned" } };
    },
    badBodies: [
      { body: {}, field: "body.email" },
      { body: { email: "not-an-email" }, field: "body.email" },
      { body: { email: "a@b.test", name: "" }, field: "body.name" },
    ],
  },
  putMember: {
    prepare: async (_h, ws) => ({ path: `${ws.base}/members/${ws.users.outsider.id}`, body: { role: "MEMBER" } }),
    badBodies: [
      { body: {}, field: "body.role" },
      { body: { role: "KING" }, field: "body.role" },
      { body: { role: "MEMBER", extra: 1 }, field: "body" },
    ],
  },
  removeMember: {
    prepare: async (h, ws) => {
      await h.db.workspaceMembership.upsert({
        where: { clientId_userId: { clientId: ws.workspaceId, userId: ws.users.outsider.id } },
        create: { clientId: ws.workspaceId, userId: ws.users.outsider.id, role: "MEMBER" },
        update: {},
      });
      return { path: `${ws.base}/members/${ws.users.outsider.id}` };
    },
  },
};

const hostId = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}`;

/** Sets the workspace's webhook (again), so reading or removing it finds one. */
async function withWebhook(h: Harness, ws: TestWorkspace): Promise<string> {
  const path = `${ws.base}/insights/webhooks`;
  await h.http
    .put(path)
    .set("Authorization", `Bearer ${ws.tokens.owner}`)
    .send({ url: "http://127.0.0.1:9/hook", events: ["pack.failed"] });
  return path;
}

const nameOf = (route: Route) =>
  `${route.method.toUpperCase()} ${route.path.replace(/^\/v1\/workspaces\/\{workspaceId\}\/(insights\/)?/, "").replace(/\{\w+\}/g, ":id")}`;

const queryKeysOf = (route: Route) =>
  route.query ? Object.keys((z.toJSONSchema(route.query, { io: "input" }) as { properties?: object }).properties ?? {}) : [];

const caseOf = (route: (typeof API_ROUTES)[number]): RouteCase => ({
  name: nameOf(route),
  method: route.method,
  adminOnly: route.access === "admin" || route.access === "adminOrService",
  queryKeys: queryKeysOf(route),
  route,
  ...FIXTURES[route.operationId],
});

/** Whether members' tokens reach the route (404 for outsiders, 403 or success for members by role). */
const forMembers = (route: Route) => route.access === "member" || route.access === "admin" || route.access === "adminOrService";

/** Every route of a workspace that members call. */
export const ROUTES: RouteCase[] = API_ROUTES.filter(forMembers).map(caseOf);

/** The host backend's routes (service token) and the signed-in user's own (GET /v1/me). */
export const HOST_ROUTES: RouteCase[] = API_ROUTES.filter((route) => !forMembers(route)).map(caseOf);
