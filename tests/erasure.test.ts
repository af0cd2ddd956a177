// Erasure, checked from outside: after a lead is erased no table holds its text and no later model request sees it;
// after a workspace is offboarded no row of it remains; audit events still refuse every other UPDATE and DELETE.
// The fake LLM quotes what it is shown (as a real one would), so a lead's text reaches summaries, syntheses and
// answers before erasure, and the checks below have something to find if erasure missed it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { signServiceToken } from "@insights/api/auth/jwt";
import { createRedis } from "@insights/shared/redis";
import { bearer, createHarness, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";
import type { RecordedRequest } from "./support/fake-llm.ts";
import { ROUTES } from "./support/routes.ts";
import { useFakeModelWorker, waitFor } from "./support/worker-harness.ts";

const { h, fake } = await useFakeModelWorker();
const sql = new pg.Client({ connectionString: inject("databaseUrl") });
const redis = createRedis(inject("redisUrl"), { role: "erasure-test" });
let service: string;

const MARKS = /MARK-[a-z0-9-]+/g;
const marksIn = (request: RecordedRequest) => [...new Set(request.text.match(MARKS) ?? [])].sort();

/** A model that repeats every marked phrase it was shown, and cites every lead it was shown. */
function quotingModel() {
  fake.respond("lead_insight", (req) => ({
    outcome: "INTERESTED",
    sentiment: "positive",
    summary: `Said: ${marksIn(req).join(", ")}`,
    keyFacts: marksIn(req),
    objections: [],
    nextStep: null,
  }));
  fake.respond("pack_synthesis", (req) => ({ synthesis: `Overview quoting ${marksIn(req).join(", ")}` }));
  fake.respond("chat_answer", (req) => ({
    answer: `Answer quoting ${marksIn(req).join(", ")}`,
    citedLeadIds: [...new Set(req.text.match(/lead-(keep|forget)-[a-z0-9]+/g) ?? [])],
    suggestedActions: [],
  }));
}

beforeAll(async () => {
  await sql.connect();
  service = await signServiceToken(TEST_JWT_SECRET);
});
afterAll(async () => {
  await sql.end();
  await redis.quit();
});

async function contentOf(key: string): Promise<unknown> {
  switch (await redis.type(key)) {
    case "stream":
      return redis.xrange(key, "-", "+");
    case "hash":
      return redis.hgetall(key);
    case "list":
      return redis.lrange(key, 0, -1);
    case "zset":
      return redis.zrange(key, "0", "-1");
    case "set":
      return redis.smembers(key);
    default:
      return redis.get(key);
  }
}

/** Every key under this file's Redis prefix (live logs, queues, their hashes) whose content contains `needle`. */
async function redisKeysHolding(needle: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${h.prefix}:*`, "COUNT", 500);
    cursor = next;
    for (const key of keys) {
      const content = await contentOf(key);
      if (JSON.stringify(content).includes(needle)) found.push(key);
    }
  } while (cursor !== "0");
  return found;
}

/** Every row of every table, as text, that contains `needle`: table name → count. */
async function tablesHolding(needle: string): Promise<Record<string, number>> {
  const { rows: tables } = await sql.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
  const found: Record<string, number> = {};
  for (const { tablename } of tables) {
    const { rows } = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM "${tablename}" t WHERE t::text LIKE $1`, [`%${needle}%`]);
    if (Number(rows[0]!.n) > 0) found[tablename] = Number(rows[0]!.n);
  }
  return found;
}

async function waitForPack(ws: TestWorkspace, packId: string, generation?: number) {
  return waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member));
      const done = res.body.status === "COMPLETE" && (generation === undefined || res.body.generation === generation);
      return done ? res.body : undefined;
    },
    { what: `pack ${packId} to complete` },
  );
}

async function ask(ws: TestWorkspace, sessionId: string, content: string) {
  const asked = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.member)).send({ content });
  expect(asked.status).toBe(201);
  return waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.member));
      const reply = (res.body.messages as Array<{ id: string; status: string; content: string; citedLeadIds: string[] }>).find(
        (m) => m.id === asked.body.reply.id,
      );
      return reply?.status === "COMPLETE" ? reply : undefined;
    },
    { what: "the reply" },
  );
}

describe("lead erasure", () => {
  it("leaves no table holding the lead's text, rebuilds its pack paying only for synthesis, and keeps later requests clean", async () => {
    quotingModel();
    const ws = await h.seed({ leads: 0 });
    const run = randomUUID().slice(0, 8);
    const keep = { id: `lead-keep-${run}`, mark: `MARK-keep-${run}` };
    const forget = { id: `lead-forget-${run}`, mark: `MARK-forget-${run}` };
    const now = Date.now();
    const lead = (l: typeof keep) => ({
      id: l.id,
      name: `Name ${l.mark}-name`,
      email: `${l.id}@prospect.test`,
      messages: [
        { id: "m1", direction: "OUTBOUND", body: "Shall we talk?", sentAt: new Date(now - 3 * 86400_000).toISOString() },
        {
          id: "m2",
          direction: "INBOUND",
          body: `My codeword is ${l.mark}-thread, send pricing`,
          sentAt: new Date(now - 2 * 86400_000).toISOString(),
        },
      ],
    });
    await h.http
      .post(`${ws.base}/leads/batch`)
      .set(bearer(service))
      .send({ leads: [lead(keep), lead(forget)] })
      .expect(200);

    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const requested = await h.http
      .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_30_DAYS" } });
    const before = await waitForPack(ws, requested.body.id);
    expect(before.synthesis).toContain(forget.mark);
    const answered = await ask(ws, session.body.id, "Who sent a codeword?");
    expect(answered.content).toContain(forget.mark);
    expect(answered.citedLeadIds).toContain(forget.id);
    expect(Object.keys(await tablesHolding(forget.mark)).length).toBeGreaterThan(2); // the check can see the text
    expect(await redisKeysHolding(forget.mark)).toContain(h.liveLog.keyOf(session.body.id)); // so can this one
    fake.reset();
    quotingModel();

    const erased = await h.http.delete(`${ws.base}/leads/${forget.id}`).set(bearer(service));
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expect(erased.body).toMatchObject({ leadId: forget.id, rebuiltPackIds: [before.id], redactedMessageIds: [answered.id] });

    const after = await waitForPack(ws, before.id, before.generation + 1);
    expect(after.synthesis).toContain(keep.mark);
    expect(after.synthesis).not.toContain(forget.mark);
    expect(after.progress).toMatchObject({ totalLeads: 1, processedLeads: 1 });
    // Paying only for synthesis: one synthesis call, no extraction.
    expect(fake.requests.map((r) => r.task)).toEqual(["pack_synthesis"]);
    expect(after.usage.llmCalls).toBe(before.usage.llmCalls + 1);

    const later = await ask(ws, session.body.id, "And now?");
    expect(later.content).not.toContain(forget.mark);
    for (const request of fake.requests) expect(request.text).not.toContain(forget.mark);

    expect(await tablesHolding(forget.mark)).toEqual({});
    // Nor does the session's live log: a client resuming from before the erasure gets a snapshot of the clean state.
    expect(await redisKeysHolding(forget.mark)).toEqual([]);
    expect(await h.liveLog.canReplayFrom(session.body.id, "0-1")).toBe(false);
    expect(await tablesHolding(keep.mark)).not.toEqual({});
    const { rows } = await sql.query(`SELECT "id" FROM "Lead" WHERE "clientId" = $1`, [ws.workspaceId]);
    expect(rows.map((r) => r.id)).toEqual([keep.id]);

    const audit = await h.http.get(`${ws.base}/insights/audit-events?action=LEAD_ERASED`).set(bearer(ws.tokens.admin));
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0]).toMatchObject({ actor: { type: "SERVICE" }, details: { leadId: forget.id } });

    expect((await h.http.delete(`${ws.base}/leads/${forget.id}`).set(bearer(service))).status).toBe(404);
  });

  it("stops a pack run in flight and restarts it without the lead", async () => {
    const ws = await h.seed({ leads: 12 });
    fake.latencyMs = 150;
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const requested = await h.http
      .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_90_DAYS" } });
    const running = await waitFor(
      async () => {
        const res = await h.http.get(`${ws.base}/insights/packs/${requested.body.id}`).set(bearer(ws.tokens.member));
        return res.body.status === "RUNNING" && res.body.progress.totalLeads > 1 ? res.body : undefined;
      },
      { what: "the pack to be extracting" },
    );
    const rows = await h.db.insightContextPackLead.findMany({ where: { packId: running.id }, orderBy: { position: "desc" } });
    const victim = rows[0]!.leadId; // the last in line: still PENDING while the run extracts the first ones

    const erased = await h.http.delete(`${ws.base}/leads/${victim}`).set(bearer(ws.tokens.admin));
    expect(erased.status).toBe(200);
    expect(erased.body.rebuiltPackIds).toEqual([running.id]);
    fake.latencyMs = 0;
    const done = await waitForPack(ws, running.id, running.generation + 1);
    expect(done.progress.totalLeads).toBe(rows.length - 1);
    expect(await h.db.insightContextPackLead.count({ where: { packId: running.id, leadId: victim } })).toBe(0);
    expect(await h.db.leadConversationInsight.count({ where: { clientId: ws.workspaceId, leadId: victim } })).toBe(0);
    expect(await h.db.leadMessage.count({ where: { clientId: ws.workspaceId, leadId: victim } })).toBe(0);
  });

  it("is an admin's or the service's: a member gets 403 and the lead stays", async () => {
    const ws = await h.seed({ leads: 2 });
    const lead = await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId } });
    expect((await h.http.delete(`${ws.base}/leads/${lead.id}`).set(bearer(ws.tokens.member))).status).toBe(403);
    expect(await h.db.lead.count({ where: { clientId: ws.workspaceId, id: lead.id } })).toBe(1);
    expect((await h.http.delete(`${ws.base}/leads/${lead.id}`).set(bearer(ws.tokens.admin))).status).toBe(200);
    expect(await h.db.lead.count({ where: { clientId: ws.workspaceId, id: lead.id } })).toBe(0);
  });
});

describe("workspace offboarding", () => {
  it("removes every row of the workspace, audit events included, and then every route of it answers 404", async () => {
    const ws = await h.seed({ leads: 4 });
    const other = await h.seed({ leads: 2 });
    // A workspace with a bit of everything: a finished pack, an answer, preferences, settings, a replayable key.
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).set("Idempotency-Key", "k1").send({});
    const pack = await h.http
      .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_90_DAYS" } });
    await waitForPack(ws, pack.body.id);
    await ask(ws, session.body.id, "Anything?");
    await h.http
      .put(`${ws.base}/insights/preferences`)
      .set(bearer(ws.tokens.member))
      .send({ windowPreset: "LAST_7_DAYS", campaignCap: 3 })
      .expect(200);
    await h.http
      .patch(`${ws.base}/insights/settings`)
      .set(bearer(ws.tokens.admin))
      .send({ insightsChatEnableFollowupPauses: true })
      .expect(200);
    const otherEvents = await h.db.insightChatAuditEvent.count({ where: { clientId: other.workspaceId } });
    const liveLog = h.liveLog.keyOf(session.body.id);
    expect(await redis.xlen(liveLog)).toBeGreaterThan(0);

    expect((await h.http.delete(ws.base).set(bearer(ws.tokens.owner))).status).toBe(403);
    const res = await h.http.delete(ws.base).set(bearer(service));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: ws.workspaceId, removedMembers: 3 }); // owner, admin, member
    expect(res.body.removedAuditEvents).toBeGreaterThan(3);
    // Its sessions' live logs, which quote its conversations, are emptied too.
    expect(await redis.xlen(liveLog)).toBe(0);

    // Every table that names a workspace, and the workspace itself.
    const { rows: columns } = await sql.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'clientId'`,
    );
    expect(columns.length).toBeGreaterThan(10);
    for (const { table_name } of columns) {
      const { rows } = await sql.query(`SELECT count(*)::int AS n FROM "${table_name}" WHERE "clientId" = $1`, [ws.workspaceId]);
      expect(rows[0].n, table_name).toBe(0);
    }
    expect((await sql.query(`SELECT 1 FROM "Client" WHERE "id" = $1`, [ws.workspaceId])).rowCount).toBe(0);
    expect(await tablesHolding(ws.workspaceId)).toEqual({});
    // The other workspace is untouched.
    expect(await h.db.insightChatAuditEvent.count({ where: { clientId: other.workspaceId } })).toBe(otherEvents);

    for (const route of ROUTES) {
      const { path, body } = await route.prepare(h, other);
      const url = path.replace(other.workspaceId, ws.workspaceId);
      const req = h.http[route.method](url).set(bearer(ws.tokens.owner));
      expect((body ? await req.send(body) : await req).status, route.name).toBe(404);
    }
    expect((await h.http.get("/v1/me").set(bearer(ws.tokens.owner))).body.workspaces).toEqual([]);
    expect((await h.http.delete(ws.base).set(bearer(service))).status).toBe(404);
  });
});

describe("a workspace offboarded while another API process still caches its members", () => {
  it("answers their writes 404, never 500, and writes nothing", async () => {
    const other = createHarness(); // a second API process: its own membership cache
    try {
      const ws = await h.seed({ leads: 1 });
      const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
      // The other process has just let the member in, so it caches the membership (MEMBERSHIP_CACHE_MS).
      await other.http.get(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).expect(200);
      expect((await h.http.delete(ws.base).set(bearer(service))).status).toBe(202);

      const writes = [
        other.http
          .put(`${ws.base}/insights/preferences`)
          .set(bearer(ws.tokens.member))
          .send({ windowPreset: "LAST_7_DAYS", campaignCap: 3 }),
        other.http.patch(`${ws.base}/insights/settings`).set(bearer(ws.tokens.admin)).send({ insightsChatEnableFollowupPauses: true }),
        other.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({}),
        other.http.post(`${ws.base}/insights/sessions/${session.body.id}/messages`).set(bearer(ws.tokens.member)).send({ content: "Hi?" }),
      ];
      for (const res of await Promise.all(writes)) {
        expect(res.status, JSON.stringify(res.body)).toBe(404);
        expect(res.body.error.code).toBe("NOT_FOUND");
      }
      expect(await h.db.client.count({ where: { id: ws.workspaceId } })).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe("audit events", () => {
  let ws: TestWorkspace;
  let other: TestWorkspace;
  beforeAll(async () => {
    [ws, other] = await Promise.all([h.seed(), h.seed()]);
    for (const w of [ws, other]) {
      await h.http
        .patch(`${w.base}/insights/settings`)
        .set(bearer(w.tokens.admin))
        .send({ insightsChatEnableFollowupPauses: true })
        .expect(200);
    }
  });

  /** Runs `statement` in a transaction that first names `offboarding` (if given), always rolled back. */
  async function attempt(statement: string, params: unknown[], offboarding?: string): Promise<string> {
    await sql.query("BEGIN");
    try {
      if (offboarding) await sql.query(`SELECT set_config('insights.offboarding_workspace', $1, true)`, [offboarding]);
      await sql.query(statement, params);
      return "allowed";
    } catch (err) {
      return (err as Error).message;
    } finally {
      await sql.query("ROLLBACK");
    }
  }

  it("still refuse UPDATE, DELETE and TRUNCATE outside offboarding", async () => {
    const update = `UPDATE "InsightChatAuditEvent" SET "details" = '{}' WHERE "clientId" = $1`;
    const remove = `DELETE FROM "InsightChatAuditEvent" WHERE "clientId" = $1`;
    expect(await attempt(update, [ws.workspaceId])).toMatch(/append-only/);
    expect(await attempt(remove, [ws.workspaceId])).toMatch(/append-only/);
    expect(await attempt(`TRUNCATE "InsightChatAuditEvent"`, [])).toMatch(/append-only/);
    // Naming one workspace opens neither UPDATE nor another workspace's rows, nor TRUNCATE.
    expect(await attempt(update, [ws.workspaceId], ws.workspaceId)).toMatch(/append-only/);
    expect(await attempt(remove, [other.workspaceId], ws.workspaceId)).toMatch(/append-only/);
    expect(await attempt(`TRUNCATE "InsightChatAuditEvent"`, [], ws.workspaceId)).toMatch(/append-only/);
    // The deliberate path, for exactly its workspace (rolled back here).
    expect(await attempt(remove, [ws.workspaceId], ws.workspaceId)).toBe("allowed");
    // The setting is transaction-local: the next transaction is refused again.
    expect(await attempt(remove, [ws.workspaceId])).toMatch(/append-only/);
    expect(await h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId } })).toBeGreaterThan(0);
  });
});
