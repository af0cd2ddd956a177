// GET /sessions/:sessionId/packs: keyset pages, newest first, like the other lists, and a fixed number of queries
// whatever the page holds (no query per pack for its staleness or its failed leads).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@insights/shared/db/client";
import { scopeHashOf } from "@insights/shared/scope/scope";
import { listPacks } from "@insights/api/packs/packs.service";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;

beforeAll(async () => {
  ws = await h.seed({ leads: 6 });
});
afterAll(() => h.close());

async function newSession(): Promise<string> {
  const res = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  return res.body.id as string;
}

/**
 * `count` packs in the session, a minute apart, each over its own custom window. Every other one is COMPLETE with
 * two failed leads, and every third COMPLETE one has a lead whose thread changed after it completed (stale).
 */
async function seedPacks(sessionId: string, count: number) {
  const leads = await h.db.lead.findMany({ where: { clientId: ws.workspaceId }, orderBy: { id: "asc" } });
  const base = Date.UTC(2026, 0, 1);
  const packs = [];
  for (let i = 0; i < count; i++) {
    const complete = i % 2 === 0;
    const completedAt = new Date(base + i * 60_000 + 30_000);
    const pack = await h.db.insightContextPack.create({
      data: {
        clientId: ws.workspaceId,
        sessionId,
        scopeKey: `custom-${i}`,
        scopeHash: scopeHashOf(`custom-${i}`),
        windowPreset: "CUSTOM",
        windowFrom: new Date(2000, 0, 1),
        windowTo: new Date(2100, 0, 1),
        campaignIds: i % 3 === 0 ? [] : [ws.campaignIds[0]!],
        campaignCap: 10,
        requestedById: ws.users.member.id,
        createdAt: new Date(base + i * 60_000),
        ...(complete ? { status: "COMPLETE", stage: "DONE", completedAt, failedLeads: 2 } : {}),
      },
    });
    if (complete) {
      await h.db.insightContextPackLead.createMany({
        data: leads.slice(0, 3).map((lead, position) => ({
          packId: pack.id,
          clientId: ws.workspaceId,
          leadId: lead.id,
          position,
          status: position < 2 ? ("FAILED" as const) : ("EXTRACTED" as const),
          error: position < 2 ? `failed ${position}` : null,
        })),
      });
    }
    packs.push(pack);
  }
  return packs;
}

describe("listing a session's packs", () => {
  it("pages newest first with a cursor, every pack once, with its failures", async () => {
    const sessionId = await newSession();
    const packs = await seedPacks(sessionId, 7);
    const seen: Array<{ id: string; failures: unknown[] }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `${ws.base}/insights/sessions/${sessionId}/packs?limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await h.http.get(url).set(bearer(ws.tokens.member));
      expect(res.status).toBe(200);
      expect(res.body.packs.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.packs);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((p) => p.id)).toEqual(packs.map((p) => p.id).reverse());
    const newestComplete = seen.find((p) => p.id === packs[6]!.id)!;
    expect(newestComplete.failures).toEqual([
      { leadId: expect.any(String), error: "failed 0" },
      { leadId: expect.any(String), error: "failed 1" },
    ]);
  });

  it("refuses a cursor it did not issue", async () => {
    const sessionId = await newSession();
    const res = await h.http.get(`${ws.base}/insights/sessions/${sessionId}/packs?cursor=nonsense`).set(bearer(ws.tokens.member));
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields[0].path).toBe("query.cursor");
  });

  it("answers with the same number of queries for 2 packs as for 40", async () => {
    let queries = 0;
    const counted = h.db.$extends({
      query: {
        async $allOperations({ args, query }) {
          queries++;
          return query(args);
        },
      },
    }) as unknown as Db;
    const caller = { workspaceId: ws.workspaceId, userId: ws.users.member.id, isAdmin: false };

    const queriesFor = async (count: number) => {
      const sessionId = await newSession();
      await seedPacks(sessionId, count);
      // A thread that changed after every pack completed: the staleness check has work to do.
      await h.db.lead.updateMany({ where: { clientId: ws.workspaceId }, data: { threadUpdatedAt: new Date(2030, 0, 1) } });
      queries = 0;
      const page = await listPacks(counted, caller, sessionId, { limit: 200 });
      expect(page.packs).toHaveLength(count);
      expect(page.packs.filter((p) => p.status === "COMPLETE").every((p) => p.stale && p.failures.length === 2)).toBe(true);
      return queries;
    };

    const few = await queriesFor(2);
    const many = await queriesFor(40);
    // The session, the page, staleness and failures: raw queries are counted too.
    expect(few).toBe(4);
    expect(many).toBe(few);
  });
});
