// Workspace isolation: an id that lives in workspace B is never readable or writable through workspace A's path,
// even by A's owner. Every route of the shared table that takes an id is tried with B's live id through A; the answer
// is the 404 of an id that exists nowhere, and B's rows are exactly as they were.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Response } from "supertest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { ROUTES } from "./support/routes.ts";

const h = createHarness();
let a: TestWorkspace;
let b: TestWorkspace;

beforeAll(async () => {
  [a, b] = await Promise.all([h.seed({ leads: 3 }), h.seed({ leads: 3 })]);
});
afterAll(() => h.close());

function send(method: string, path: string, token: string, body?: object): Promise<Response> {
  const req = h.http[method as "get"](path).set(bearer(token));
  return body ? req.send(body) : req;
}

/**
 * Every row that belongs to a workspace, read straight from the database: its own row, and its rows in every table
 * with a `clientId` column (a table added later is covered without a change here).
 */
async function snapshotOf(workspaceId: string): Promise<Record<string, string[]>> {
  const tables = await h.db.$queryRaw<Array<{ table: string }>>`
    SELECT table_name AS "table" FROM information_schema.columns
    WHERE table_schema = current_schema() AND column_name = 'clientId' ORDER BY table_name`;
  const rowsOf = async (sql: string) => (await h.db.$queryRawUnsafe<Array<{ row: string }>>(sql, workspaceId)).map((r) => r.row);
  const snapshot: Record<string, string[]> = { Client: await rowsOf(`SELECT t::text AS "row" FROM "Client" t WHERE "id" = $1`) };
  for (const { table } of tables) {
    snapshot[table] = await rowsOf(`SELECT t::text AS "row" FROM "${table}" t WHERE "clientId" = $1 ORDER BY 1`);
  }
  return snapshot;
}

/** The path's resource id (campaign, lead, session or pack), swapped for one that exists in no workspace. */
const ID_SEGMENT = /\/(campaigns|leads|sessions|packs)\/([^/?]+)/;
const withMissingId = (path: string) => path.replace(ID_SEGMENT, (_match, kind: string) => `/${kind}/no-such-${kind}`);

async function newSession(ws: TestWorkspace): Promise<string> {
  const res = await send("post", `${ws.base}/insights/sessions`, ws.tokens.member, {});
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function completePack(ws: TestWorkspace): Promise<{ sessionId: string; packId: string }> {
  const sessionId = await newSession(ws);
  const res = await send("post", `${ws.base}/insights/sessions/${sessionId}/packs`, ws.tokens.member, {
    window: { preset: "LAST_90_DAYS" },
  });
  expect(res.status).toBe(202);
  await h.db.insightContextPack.update({ where: { id: res.body.id }, data: { status: "COMPLETE", stage: "DONE" } });
  return { sessionId, packId: res.body.id as string };
}

// PUT campaigns/:id upserts by the host's id, so it is not a lookup; it has its own test below.
const idRoutes = ROUTES.filter((r) => r.name.includes(":id") && r.name !== "PUT campaigns/:id");

describe.each(idRoutes)("$name", (route) => {
  it("answers A's owner 404 for B's id, exactly as for an id that exists nowhere, and changes nothing", async () => {
    const { path, body } = await route.prepare(h, b);
    const viaA = path.replace(b.base, a.base);
    expect(viaA).toMatch(ID_SEGMENT);
    const [beforeA, beforeB] = await Promise.all([snapshotOf(a.workspaceId), snapshotOf(b.workspaceId)]);

    const res = await send(route.method, viaA, a.tokens.owner, body);
    const missing = await send(route.method, withMissingId(viaA), a.tokens.owner, body);

    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(res.body.error).toMatchObject({ code: "NOT_FOUND", message: missing.body.error.message });
    expect(missing.status).toBe(404);
    expect(await snapshotOf(b.workspaceId)).toEqual(beforeB);
    expect(await snapshotOf(a.workspaceId)).toEqual(beforeA);

    // The id was live all along: the same request through B's own path succeeds.
    const own = await send(route.method, path, b.tokens.owner, body);
    expect(own.status, JSON.stringify(own.body)).toBeLessThan(300);
  });
});

describe("ids from another workspace", () => {
  it("are tried on every route of the table that takes one", () => {
    expect(idRoutes.length).toBeGreaterThanOrEqual(12);
  });

  it("creates A's own campaign when A's owner PUTs B's campaign id, leaving B's untouched", async () => {
    // B's last campaign: the other tests need B's first one to exist in B only.
    const campaignId = b.campaignIds.at(-1)!;
    const beforeB = await snapshotOf(b.workspaceId);

    const res = await send("put", `${a.base}/campaigns/${campaignId}`, a.tokens.owner, { name: "A's own" });

    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: campaignId, name: "A's own" });
    const inA = await h.db.campaign.findUniqueOrThrow({ where: { clientId_id: { clientId: a.workspaceId, id: campaignId } } });
    expect(inA.name).toBe("A's own");
    expect(await snapshotOf(b.workspaceId)).toEqual(beforeB);
  });

  it("creates A's own lead when A's batch names B's lead id, leaving B's lead and thread untouched", async () => {
    const bLead = await h.db.lead.findFirstOrThrow({ where: { clientId: b.workspaceId } });
    const beforeB = await snapshotOf(b.workspaceId);

    const res = await send("post", `${a.base}/leads/batch`, a.tokens.owner, {
      leads: [{ id: bLead.id, messages: [{ id: "m1", direction: "INBOUND", body: "A's thread", sentAt: "2026-11-01T10:00:00Z" }] }],
    });

    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const aMessages = await h.db.leadMessage.findMany({ where: { clientId: a.workspaceId, leadId: bLead.id } });
    expect(aMessages.map((m) => m.body)).toEqual(["A's thread"]);
    expect(await snapshotOf(b.workspaceId)).toEqual(beforeB);
  });

  it("refuses B's campaign as a lead's campaign in A's batch with 400, writing nothing", async () => {
    const [beforeA, beforeB] = await Promise.all([snapshotOf(a.workspaceId), snapshotOf(b.workspaceId)]);

    const res = await send("post", `${a.base}/leads/batch`, a.tokens.owner, {
      leads: [{ id: "lead-in-b-campaign", campaignId: b.campaignIds[0], messages: [] }],
    });

    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ path: "body.leads.0.campaignId" })]);
    expect(await snapshotOf(a.workspaceId)).toEqual(beforeA);
    expect(await snapshotOf(b.workspaceId)).toEqual(beforeB);
  });

  it("answers 404 when a message in A names B's COMPLETE pack, writing nothing", async () => {
    const { packId } = await completePack(b);
    const sessionId = await newSession(a);
    const [beforeA, beforeB] = await Promise.all([snapshotOf(a.workspaceId), snapshotOf(b.workspaceId)]);

    const res = await send("post", `${a.base}/insights/sessions/${sessionId}/messages`, a.tokens.owner, {
      content: "What did B's leads say?",
      packId,
    });

    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
    expect(await snapshotOf(a.workspaceId)).toEqual(beforeA);
    expect(await snapshotOf(b.workspaceId)).toEqual(beforeB);
  });

  it("refuses B's campaign ids in A's pack request with 400 naming body.campaignIds, writing nothing", async () => {
    const sessionId = await newSession(a);
    const [beforeA, beforeB] = await Promise.all([snapshotOf(a.workspaceId), snapshotOf(b.workspaceId)]);

    const res = await send("post", `${a.base}/insights/sessions/${sessionId}/packs`, a.tokens.owner, {
      window: { preset: "LAST_30_DAYS" },
      campaignIds: [b.campaignIds[0], a.campaignIds[0]],
    });

    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ path: "body.campaignIds" })]);
    expect(await snapshotOf(a.workspaceId)).toEqual(beforeA);
    expect(await snapshotOf(b.workspaceId)).toEqual(beforeB);
  });

  it("shows none of B's audit events when A's admin filters by B's session or pack id", async () => {
    const { sessionId, packId } = await completePack(b);
    await send("delete", `${b.base}/insights/sessions/${sessionId}`, b.tokens.owner);
    expect(await h.db.insightChatAuditEvent.count({ where: { clientId: b.workspaceId, sessionId } })).toBeGreaterThan(0);

    for (const filter of [`sessionId=${sessionId}`, `packId=${packId}`]) {
      const res = await send("get", `${a.base}/insights/audit-events?${filter}`, a.tokens.owner);
      expect(res.status, filter).toBe(200);
      expect(JSON.stringify(res.body), filter).not.toContain(sessionId);
      expect(JSON.stringify(res.body), filter).not.toContain(b.workspaceId);
    }
  });

  it("lists none of B's sessions in A's session list, even with includeDeleted", async () => {
    const sessionId = await newSession(b);
    const res = await send("get", `${a.base}/insights/sessions?includeDeleted=true&limit=200`, a.tokens.owner);
    expect(res.status).toBe(200);
    expect(res.body.sessions.length).toBeGreaterThan(0);
    for (const session of res.body.sessions as Array<{ id: string; workspaceId: string }>) {
      expect(session.workspaceId).toBe(a.workspaceId);
    }
    expect(JSON.stringify(res.body)).not.toContain(sessionId);
  });
});
