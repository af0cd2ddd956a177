// Ingestion: the host pushes campaigns and leads with whole threads; upserts by the host's ids, a lead's thread is
// replaced by what is sent, a batch lands entirely or not at all, and ids are scoped by workspace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;
let other: TestWorkspace;

beforeAll(async () => {
  [ws, other] = await Promise.all([h.seed({ leads: 0 }), h.seed({ leads: 0 })]);
});
afterAll(() => h.close());

interface MessageInput {
  id: string;
  direction: "INBOUND" | "OUTBOUND";
  body: string;
  sentAt: string;
}
interface LeadInput {
  id: string;
  name?: string;
  email?: string;
  campaignId?: string;
  messages: MessageInput[];
}

let counter = 0;
/** A lead id no other test uses. */
const leadId = (label: string) => `lead-${label}-${++counter}`;

async function pushLeads(leads: LeadInput[], w: TestWorkspace = ws) {
  return h.http.post(`${w.base}/leads/batch`).set(bearer(w.tokens.owner)).send({ leads });
}

async function pushLeadsOk(leads: LeadInput[], w: TestWorkspace = ws) {
  const res = await pushLeads(leads, w);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { received: number; created: number; threadsChanged: number };
}

const leadRow = (w: TestWorkspace, id: string) => h.db.lead.findUnique({ where: { clientId_id: { clientId: w.workspaceId, id } } });
const messageRows = (w: TestWorkspace, id: string) =>
  h.db.leadMessage.findMany({ where: { clientId: w.workspaceId, leadId: id }, orderBy: { sentAt: "asc" } });

const THREAD: MessageInput[] = [
  { id: "m2", direction: "INBOUND", body: "Sounds good, send pricing.", sentAt: "2026-10-02T09:30:00Z" },
  { id: "m3", direction: "OUTBOUND", body: "Pricing attached.", sentAt: "2026-10-03T14:00:00.000Z" },
  { id: "m1", direction: "OUTBOUND", body: "Hi, quick question about your fleet.", sentAt: "2026-10-01T08:00:00Z" },
];

describe("PUT campaigns/:campaignId", () => {
  it("creates a campaign the first time and renames it the second", async () => {
    const path = `${ws.base}/campaigns/cmp-upsert`;
    const created = await h.http.put(path).set(bearer(ws.tokens.admin)).send({ name: "Spring outbound" });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ id: "cmp-upsert", name: "Spring outbound" });
    const first = await h.db.campaign.findUniqueOrThrow({ where: { clientId_id: { clientId: ws.workspaceId, id: "cmp-upsert" } } });

    const renamed = await h.http.put(path).set(bearer(ws.tokens.admin)).send({ name: "Spring outbound (EU)" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: "cmp-upsert", name: "Spring outbound (EU)" });

    const rows = await h.db.campaign.findMany({ where: { clientId: ws.workspaceId, id: "cmp-upsert" } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: "Spring outbound (EU)", createdAt: first.createdAt });
  });

  it("keeps the same campaign id in two workspaces as two campaigns", async () => {
    await h.http.put(`${ws.base}/campaigns/cmp-twin`).set(bearer(ws.tokens.owner)).send({ name: "Ours" });
    await h.http.put(`${other.base}/campaigns/cmp-twin`).set(bearer(other.tokens.owner)).send({ name: "Theirs" });
    const rows = await h.db.campaign.findMany({ where: { id: "cmp-twin" }, orderBy: { name: "asc" } });
    expect(rows.map((r) => [r.clientId, r.name])).toEqual([
      [ws.workspaceId, "Ours"],
      [other.workspaceId, "Theirs"],
    ]);
  });
});

describe("GET campaigns", () => {
  it("lists the workspace's campaigns to any member, page by page, and no other workspace's", async () => {
    await h.http.put(`${other.base}/campaigns/cmp-elsewhere`).set(bearer(other.tokens.owner)).send({ name: "Elsewhere" });
    const seen: Array<{ id: string; name: string }> = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { campaigns: Array<{ id: string; name: string }>; nextCursor: string | null } } = await h.http
        .get(`${ws.base}/campaigns`)
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(bearer(ws.tokens.member));
      expect(res.status).toBe(200);
      seen.push(...res.body.campaigns);
      cursor = res.body.nextCursor;
    } while (cursor);
    const stored = await h.db.campaign.findMany({ where: { clientId: ws.workspaceId } });
    expect(seen.map((c) => c.id).sort()).toEqual(stored.map((c) => c.id).sort());
    expect(new Set(seen.map((c) => c.id)).size).toBe(seen.length);
    expect(seen.find((c) => c.id === "cmp-elsewhere")).toBeUndefined();
  });
});

describe("POST leads/batch", () => {
  it("creates leads with their threads, lastActivityAt and messageCount", async () => {
    const a = leadId("new");
    const b = leadId("new");
    const summary = await pushLeadsOk([
      { id: a, name: "Ana B.", email: "ana@acme.example", campaignId: ws.campaignIds[0], messages: THREAD },
      { id: b, messages: [THREAD[2]!] },
    ]);
    expect(summary).toMatchObject({ received: 2, created: 2, threadsChanged: 2 });

    const row = await leadRow(ws, a);
    expect(row).toMatchObject({ name: "Ana B.", email: "ana@acme.example", campaignId: ws.campaignIds[0], messageCount: 3 });
    // THREAD is sent out of order: the newest message is not the last one sent.
    const newest = Math.max(...THREAD.map((m) => Date.parse(m.sentAt)));
    expect(row!.lastActivityAt.getTime()).toBe(newest);

    const messages = await messageRows(ws, a);
    expect(messages.map((m) => [m.id, m.direction, m.body, m.sentAt.toISOString()])).toEqual(
      [...THREAD]
        .sort((x, y) => Date.parse(x.sentAt) - Date.parse(y.sentAt))
        .map((m) => [m.id, m.direction, m.body, new Date(m.sentAt).toISOString()]),
    );
    expect(await leadRow(ws, b)).toMatchObject({ messageCount: 1, campaignId: null });
  });

  it("updates a lead's fields when it is sent again", async () => {
    const id = leadId("update");
    await pushLeadsOk([{ id, name: "Old name", campaignId: ws.campaignIds[0], messages: THREAD }]);
    const summary = await pushLeadsOk([{ id, name: "New name", campaignId: ws.campaignIds[1], messages: THREAD }]);

    expect(summary).toMatchObject({ received: 1, created: 0 });
    expect(await leadRow(ws, id)).toMatchObject({ name: "New name", campaignId: ws.campaignIds[1] });
    expect(await h.db.lead.count({ where: { clientId: ws.workspaceId, id } })).toBe(1);
  });

  it("replaces a lead's thread with the one sent again: old messages are gone", async () => {
    const id = leadId("replace");
    await pushLeadsOk([{ id, messages: THREAD }]);
    const replacement: MessageInput[] = [{ id: "n1", direction: "INBOUND", body: "Starting over.", sentAt: "2026-09-01T10:00:00Z" }];
    const summary = await pushLeadsOk([{ id, messages: replacement }]);

    expect(summary.threadsChanged).toBe(1);
    const messages = await messageRows(ws, id);
    expect(messages.map((m) => m.id)).toEqual(["n1"]);
    expect(await leadRow(ws, id)).toMatchObject({ messageCount: 1, lastActivityAt: new Date("2026-09-01T10:00:00Z") });
  });

  it("changes the fingerprint when a message's body changes", async () => {
    const id = leadId("edit");
    await pushLeadsOk([{ id, messages: THREAD }]);
    const before = (await leadRow(ws, id))!.threadFingerprint;
    const edited = THREAD.map((m) => (m.id === "m2" ? { ...m, body: "Actually, not interested." } : m));
    const summary = await pushLeadsOk([{ id, messages: edited }]);

    expect(summary.threadsChanged).toBe(1);
    expect((await leadRow(ws, id))!.threadFingerprint).not.toBe(before);
    expect((await messageRows(ws, id)).find((m) => m.id === "m2")!.body).toBe("Actually, not interested.");
  });

  it("leaves the fingerprint unchanged and reports threadsChanged: 0 for the same thread in another order", async () => {
    const id = leadId("reorder");
    await pushLeadsOk([{ id, messages: THREAD }]);
    const before = (await leadRow(ws, id))!.threadFingerprint;

    const summary = await pushLeadsOk([{ id, messages: [...THREAD].reverse() }]);

    expect(summary).toMatchObject({ received: 1, created: 0, threadsChanged: 0 });
    expect((await leadRow(ws, id))!.threadFingerprint).toBe(before);
    expect((await messageRows(ws, id)).map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
  });

  it("writes nothing at all when one lead of the batch names an unknown campaign", async () => {
    const existing = leadId("atomic-existing");
    await pushLeadsOk([{ id: existing, name: "Before", messages: THREAD }]);
    const before = {
      lead: await leadRow(ws, existing),
      messages: await messageRows(ws, existing),
      leads: await h.db.lead.count({ where: { clientId: ws.workspaceId } }),
      leadMessages: await h.db.leadMessage.count({ where: { clientId: ws.workspaceId } }),
      events: await h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId } }),
    };
    const fresh = leadId("atomic-new");

    const res = await pushLeads([
      { id: fresh, campaignId: ws.campaignIds[0], messages: THREAD },
      { id: existing, name: "After", messages: [THREAD[0]!] },
      { id: leadId("atomic-bad"), campaignId: "cmp-does-not-exist", messages: [] },
    ]);

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_FAILED");
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toContain("body.leads.2.campaignId");
    expect(await leadRow(ws, fresh)).toBeNull();
    expect(await leadRow(ws, existing)).toEqual(before.lead);
    expect(await messageRows(ws, existing)).toEqual(before.messages);
    expect(await h.db.lead.count({ where: { clientId: ws.workspaceId } })).toBe(before.leads);
    expect(await h.db.leadMessage.count({ where: { clientId: ws.workspaceId } })).toBe(before.leadMessages);
    expect(await h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId } })).toBe(before.events);
  });

  it("refuses a campaign id that exists only in another workspace", async () => {
    const res = await pushLeads([{ id: leadId("foreign"), campaignId: other.campaignIds[0], messages: [] }]);
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toContain("body.leads.0.campaignId");
  });

  it("keeps the same lead id in two workspaces as two separate leads", async () => {
    const id = leadId("twin");
    await pushLeadsOk([{ id, name: "Ours", messages: THREAD }], ws);
    await pushLeadsOk([{ id, name: "Theirs", messages: [THREAD[0]!] }], other);

    const rows = await h.db.lead.findMany({ where: { id }, orderBy: { name: "asc" } });
    expect(rows.map((r) => [r.clientId, r.name, r.messageCount])).toEqual([
      [ws.workspaceId, "Ours", 3],
      [other.workspaceId, "Theirs", 1],
    ]);
    expect((await messageRows(ws, id)).map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
    expect((await messageRows(other, id)).map((m) => m.id)).toEqual(["m2"]);
  });

  it("leaves the other workspace's lead alone when one workspace re-sends the shared id", async () => {
    const id = leadId("twin-resend");
    await pushLeadsOk([{ id, name: "Ours", messages: THREAD }], ws);
    await pushLeadsOk([{ id, name: "Theirs", messages: THREAD }], other);
    const theirs = { lead: await leadRow(other, id), messages: await messageRows(other, id) };

    const summary = await pushLeadsOk([{ id, name: "Ours again", messages: [] }], ws);

    expect(summary).toMatchObject({ created: 0, threadsChanged: 1 });
    expect(await messageRows(ws, id)).toEqual([]);
    expect(await leadRow(other, id)).toEqual(theirs.lead);
    expect(await messageRows(other, id)).toEqual(theirs.messages);
  });
});
