// Deletion wins every race. Each race below is run ROUNDS times, its requests fired together with a small stagger
// that moves from round to round, against a real worker whose LLM is slow enough that no work can finish by
// itself before the delete. Whatever the interleaving, a request either happened before the delete (and the delete
// cancelled it and named it in its audit event) or was refused after it; nothing of a deleted session completes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Response } from "supertest";
import { signToken } from "@insights/api/auth/jwt";
import { createLogger } from "@insights/shared/logger";
import { purgeExpiredSessions } from "@insights/worker/maintenance/purge-sessions.handler";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { createIsolatedDatabase } from "./support/database.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { bearer, createHarness, TEST_JWT_SECRET, type Harness, type TestWorkspace } from "./support/harness.ts";
import { fakeLlmProvider, startTestWorker, waitFor } from "./support/worker-harness.ts";

const ROUNDS = 50;
const DAY_MS = 24 * 3600_000;

let h: Harness;
let ws: TestWorkspace;
let fake: FakeLlm;
let worker: WorkerRuntime;
let dropDatabase: () => Promise<void>;
/** A COMPLETE pack built for real, copied into each round's session (a pack to recompute, delete, or answer from). */
let template: Awaited<ReturnType<Harness["db"]["insightContextPack"]["findUniqueOrThrow"]>>;

beforeAll(async () => {
  // A database of its own: the restore-versus-purge race purges every expired session of its database.
  const database = await createIsolatedDatabase();
  dropDatabase = database.drop;
  h = createHarness({ databaseUrl: database.url, logger: createLogger("races-api", "error") }); // a 500 prints its cause
  ws = await h.seed({ leads: 4 });
  fake = await startFakeLlm();
  worker = await startTestWorker(h, fakeLlmProvider(fake));
  const sessionId = await newSession();
  const pack = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/packs`).set(bearer(ws.tokens.member)).send({});
  template = await waitFor(async () => {
    const row = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.body.id } });
    return row.status === "COMPLETE" ? row : undefined;
  });
  // From here on, every LLM call takes long enough that nothing finishes between a request and a racing delete.
  fake.latencyMs = 400;
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await fake?.close();
  await h?.close();
  await dropDatabase?.();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sessionPath = (id: string) => `${ws.base}/insights/sessions/${id}`;

async function newSession(): Promise<string> {
  const res = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  expect(res.status).toBe(201);
  return res.body.id;
}

async function completePackIn(sessionId: string) {
  const { id: _id, sessionId: _s, createdAt: _c, updatedAt: _u, metrics, ...rest } = template;
  return h.db.insightContextPack.create({ data: { ...rest, metrics: metrics ?? undefined, sessionId } });
}

const deleteSession = (sessionId: string, token = ws.tokens.admin) => h.http.delete(sessionPath(sessionId)).set(bearer(token));

/** The SESSION_DELETED event, as an admin reads it from the audit log. */
async function deletionEvent(sessionId: string): Promise<{ cancelledPackIds: string[]; cancelledReplyIds: string[] }> {
  const res = await h.http
    .get(`${ws.base}/insights/audit-events`)
    .query({ sessionId, action: "SESSION_DELETED" })
    .set(bearer(ws.tokens.admin));
  expect(res.body.events).toHaveLength(1);
  return res.body.events[0].details;
}

/** Waits until no job of the harness's queues is waiting or running: whatever the worker was going to do, it did. */
async function workerIdle(): Promise<void> {
  await waitFor(
    async () => {
      const counts = await Promise.all(
        [h.queues.packs, h.queues.replies].map((q) => q.getJobCounts("active", "waiting", "delayed", "prioritized")),
      );
      return counts.every((c) => Object.values(c).every((n) => n === 0)) ? true : undefined;
    },
    { timeoutMs: 60_000, what: "the worker to finish every job" },
  );
}

function expectRefusedAsMissing(res: Response) {
  expect(res.status, JSON.stringify(res.body)).toBe(404);
  expect(res.body.error).toMatchObject({ code: "NOT_FOUND", requestId: expect.any(String) });
}

describe("a session delete racing", () => {
  it(`pack requests with new scopes: each pack is cancelled and named by the delete, or refused (${ROUNDS} rounds)`, {
    timeout: 180_000,
  }, async () => {
    const rounds: Array<{ sessionId: string; requests: Response[] }> = [];
    const [c1, c2, c3] = ws.campaignIds;
    const scopes = [
      { window: { preset: "LAST_7_DAYS" } },
      { window: { preset: "LAST_30_DAYS" }, campaignIds: [c1] },
      { window: { preset: "LAST_90_DAYS" }, campaignIds: [c2, c3] },
    ];
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = await newSession();
      const [deleted, ...requests] = await Promise.all([
        sleep(round % 6).then(() => deleteSession(sessionId)),
        ...scopes.map((body) =>
          h.http
            .post(`${sessionPath(sessionId)}/packs`)
            .set(bearer(ws.tokens.member))
            .send(body),
        ),
      ]);
      expect(deleted!.status).toBe(200);
      rounds.push({ sessionId, requests });
    }
    await workerIdle();

    let accepted = 0;
    let refused = 0;
    for (const { sessionId, requests } of rounds) {
      const event = await deletionEvent(sessionId);
      const acceptedIds = requests.filter((r) => r.status === 202).map((r) => r.body.id as string);
      for (const res of requests.filter((r) => r.status !== 202)) expectRefusedAsMissing(res);
      const packs = await h.db.insightContextPack.findMany({ where: { sessionId } });
      // Exactly the accepted packs exist, every one cancelled and named by the delete; none ran to the end.
      expect(packs.map((p) => p.id).sort()).toEqual([...acceptedIds].sort());
      expect([...event.cancelledPackIds].sort()).toEqual([...acceptedIds].sort());
      expect(packs.every((p) => p.status === "CANCELLED")).toBe(true);
      expect(await h.db.insightLlmUsage.count({ where: { kind: "SYNTHESIS", packId: { in: acceptedIds } } })).toBe(0);
      accepted += acceptedIds.length;
      refused += requests.length - acceptedIds.length;
    }
    console.info(`session delete vs pack requests: ${accepted} accepted before the delete and cancelled, ${refused} refused after it`);
  });

  it(`a recompute: the recomputed pack is cancelled and named, or the recompute is refused (${ROUNDS} rounds)`, {
    timeout: 180_000,
  }, async () => {
    const rounds: Array<{ sessionId: string; packId: string; recompute: Response }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = await newSession();
      const pack = await completePackIn(sessionId);
      const [recompute] = await Promise.all([
        h.http.post(`${ws.base}/insights/packs/${pack.id}/recompute`).set(bearer(ws.tokens.admin)).send({}),
        sleep(round % 6).then(async () => expect((await deleteSession(sessionId)).status).toBe(200)),
      ]);
      rounds.push({ sessionId, packId: pack.id, recompute: recompute! });
    }
    await workerIdle();

    let before = 0;
    for (const { sessionId, packId, recompute } of rounds) {
      const event = await deletionEvent(sessionId);
      const pack = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: packId } });
      if (recompute.status === 202) {
        before++;
        expect(event.cancelledPackIds).toEqual([packId]);
        expect(pack).toMatchObject({ status: "CANCELLED", generation: 2 });
      } else {
        // An admin still sees the deleted session: 409, "restore it first"; the pack is as it was.
        expect(recompute.status, JSON.stringify(recompute.body)).toBe(409);
        expect(event.cancelledPackIds).toEqual([]);
        expect(pack).toMatchObject({ status: "COMPLETE", generation: 1 });
      }
    }
    console.info(`session delete vs recompute: ${before} recomputes before the delete (cancelled), ${ROUNDS - before} refused`);
  });

  it(`a question: its reply is cancelled and named by the delete, or the question is refused (${ROUNDS} rounds)`, {
    timeout: 180_000,
  }, async () => {
    const rounds: Array<{ sessionId: string; question: Response }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = await newSession();
      await completePackIn(sessionId);
      const [question] = await Promise.all([
        h.http
          .post(`${sessionPath(sessionId)}/messages`)
          .set(bearer(ws.tokens.member))
          .send({ content: `Question ${round}?` }),
        sleep(round % 6).then(async () => expect((await deleteSession(sessionId)).status).toBe(200)),
      ]);
      rounds.push({ sessionId, question: question! });
    }
    await workerIdle();

    let answeredBefore = 0;
    for (const { sessionId, question } of rounds) {
      const event = await deletionEvent(sessionId);
      const replies = await h.db.insightChatMessage.findMany({ where: { sessionId, role: "ASSISTANT" } });
      if (question.status === 201) {
        answeredBefore++;
        const replyId = question.body.reply.id as string;
        expect(event.cancelledReplyIds).toEqual([replyId]);
        expect(replies).toEqual([expect.objectContaining({ id: replyId, status: "FAILED", error: "cancelled: the session was deleted" })]);
      } else {
        expectRefusedAsMissing(question);
        expect(event.cancelledReplyIds).toEqual([]);
        expect(await h.db.insightChatMessage.count({ where: { sessionId } })).toBe(0);
      }
      expect(await h.db.insightLlmUsage.count({ where: { kind: "ANSWER", messageId: { in: replies.map((r) => r.id) } } })).toBe(0);
    }
    console.info(
      `session delete vs question: ${answeredBefore} replies created before the delete (cancelled), ${ROUNDS - answeredBefore} refused`,
    );
  });
});

describe("other races decided under a lock", () => {
  it(`restore against the retention purge: the session is restored or purged, never both (${ROUNDS} rounds)`, {
    timeout: 120_000,
  }, async () => {
    let restored = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = await newSession();
      expect((await deleteSession(sessionId)).status).toBe(200);
      // Deleted 29 days ago: still restorable now, but past its period for a purge that runs two days from now.
      await h.db.insightChatSession.update({ where: { id: sessionId }, data: { deletedAt: new Date(Date.now() - 29 * DAY_MS) } });
      const purge = () =>
        purgeExpiredSessions(
          { db: h.db, logger: createLogger("race-test", "silent"), retentionDays: 30 },
          new Date(Date.now() + 2 * DAY_MS),
        );
      const [restore, purged] = await Promise.all([
        h.http.post(`${sessionPath(sessionId)}/restore`).set(bearer(ws.tokens.admin)),
        sleep(round % 6).then(purge),
      ]);
      const session = await h.db.insightChatSession.findUnique({ where: { id: sessionId } });
      const actions = (await h.db.insightChatAuditEvent.findMany({ where: { sessionId } })).map((e) => e.action);
      if (restore!.status === 200) {
        restored++;
        expect(purged!.purged).toBe(0);
        expect(session).toMatchObject({ deletedAt: null });
        expect(actions).toContain("SESSION_RESTORED");
        expect(actions).not.toContain("SESSION_PURGED");
      } else {
        expectRefusedAsMissing(restore!);
        expect(purged!.purged).toBe(1);
        expect(session).toBeNull();
        expect(actions).toContain("SESSION_PURGED");
        expect(actions).not.toContain("SESSION_RESTORED");
      }
    }
    console.info(`restore vs purge: ${restored} restored, ${ROUNDS - restored} purged`);
  });

  it(`a pack delete against a recompute: the audit event names the state the pack was deleted in (${ROUNDS} rounds)`, {
    timeout: 120_000,
  }, async () => {
    let recomputedFirst = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = await newSession();
      const pack = await completePackIn(sessionId);
      const [recompute, deleted] = await Promise.all([
        h.http.post(`${ws.base}/insights/packs/${pack.id}/recompute`).set(bearer(ws.tokens.admin)).send({}),
        sleep(round % 6).then(() => h.http.delete(`${ws.base}/insights/packs/${pack.id}`).set(bearer(ws.tokens.admin))),
      ]);
      expect(deleted!.status).toBe(200);
      const events = await h.db.insightChatAuditEvent.findMany({ where: { packId: pack.id, action: "PACK_DELETED" } });
      expect(events).toHaveLength(1);
      if (recompute!.status === 202) {
        recomputedFirst++;
        expect(events[0]!.details).toMatchObject({ generation: 2, status: expect.stringMatching(/^(PENDING|RUNNING)$/) });
      } else {
        expectRefusedAsMissing(recompute!);
        expect(events[0]!.details).toMatchObject({ generation: 1, status: "COMPLETE" });
      }
      expect(await h.db.insightContextPack.findUnique({ where: { id: pack.id } })).toBeNull();
    }
    await workerIdle();
    console.info(`pack delete vs recompute: ${recomputedFirst} recomputed first, ${ROUNDS - recomputedFirst} deleted first`);
  });
});

describe("membership checked inside the write", () => {
  it("refuses a write by a member removed a moment ago, although the access cache still knows them", async () => {
    const user = await h.db.user.create({ data: { email: `leaving+${Date.now()}@example.test` } });
    await h.db.workspaceMembership.create({ data: { clientId: ws.workspaceId, userId: user.id, role: "MEMBER" } });
    const token = await signToken(TEST_JWT_SECRET, user.id);
    // A read caches the membership; then the host removes it.
    expect((await h.http.get(`${ws.base}/insights/sessions`).set(bearer(token))).status).toBe(200);
    await h.db.workspaceMembership.delete({ where: { clientId_userId: { clientId: ws.workspaceId, userId: user.id } } });
    const sessionsBefore = await h.db.insightChatSession.count({ where: { clientId: ws.workspaceId } });

    expectRefusedAsMissing(await h.http.post(`${ws.base}/insights/sessions`).set(bearer(token)).send({}));
    expect(await h.db.insightChatSession.count({ where: { clientId: ws.workspaceId } })).toBe(sessionsBefore);
  });

  it("refuses an admin action by an admin demoted a moment ago with 403", async () => {
    const user = await h.db.user.create({ data: { email: `demoted+${Date.now()}@example.test` } });
    await h.db.workspaceMembership.create({ data: { clientId: ws.workspaceId, userId: user.id, role: "ADMIN" } });
    const token = await signToken(TEST_JWT_SECRET, user.id);
    const sessionId = await newSession();
    expect((await h.http.get(sessionPath(sessionId)).set(bearer(token))).status).toBe(200);
    await h.db.workspaceMembership.update({
      where: { clientId_userId: { clientId: ws.workspaceId, userId: user.id } },
      data: { role: "MEMBER" },
    });

    const res = await deleteSession(sessionId, token);
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(await h.db.insightChatSession.findUniqueOrThrow({ where: { id: sessionId } })).toMatchObject({ deletedAt: null });
  });
});
