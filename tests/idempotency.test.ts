// Idempotency-Key on POST sessions, messages and packs: a repeat replays the first answer and creates nothing, the
// same key with another body is a conflict, and identical requests sent at once create one thing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { createLogger } from "@insights/shared/logger";
import { purgeExpiredSessions } from "@insights/worker/maintenance/purge-sessions.handler";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;

beforeAll(async () => {
  ws = await h.seed({ leads: 3 });
});
afterAll(() => h.close());

const newKey = () => `key-${randomUUID()}`;
const post = (path: string, body: object, key?: string, token = ws.tokens.member) => {
  const req = h.http.post(path).set(bearer(token));
  return key ? req.set("Idempotency-Key", key).send(body) : req.send(body);
};

async function newSession(): Promise<string> {
  const res = await post(`${ws.base}/insights/sessions`, {});
  return res.body.id as string;
}

/** A session with a COMPLETE pack, so a question also gets a PENDING reply (and a job). */
async function sessionWithCompletePack(): Promise<string> {
  const sessionId = await newSession();
  const pack = await post(`${ws.base}/insights/sessions/${sessionId}/packs`, { window: { preset: "LAST_30_DAYS" } });
  await h.db.insightContextPack.update({
    where: { id: pack.body.id },
    data: { status: "COMPLETE", stage: "DONE", completedAt: new Date() },
  });
  return sessionId;
}

const auditCount = (sessionId?: string) =>
  h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId, ...(sessionId ? { sessionId } : {}) } });

describe("a repeat with the same key and body", () => {
  it("gets the first session back, status and body, and creates no second one", async () => {
    const key = newKey();
    const before = await h.db.insightChatSession.count({ where: { clientId: ws.workspaceId } });
    const first = await post(`${ws.base}/insights/sessions`, { title: "Once" }, key);
    const again = await post(`${ws.base}/insights/sessions`, { title: "Once" }, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(await h.db.insightChatSession.count({ where: { clientId: ws.workspaceId } })).toBe(before + 1);
  });

  it("gets the first question and reply back, with no second message, audit event or reply job", async () => {
    const sessionId = await sessionWithCompletePack();
    const key = newKey();
    const path = `${ws.base}/insights/sessions/${sessionId}/messages`;
    const first = await post(path, { content: "Who replied?" }, key);
    expect(first.status).toBe(201);
    expect(first.body.reply).toMatchObject({ status: "PENDING" });
    const events = await auditCount(sessionId);
    const jobs = await h.queues.replies.getJobCounts();

    const again = await post(path, { content: "Who replied?" }, key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await h.db.insightChatMessage.count({ where: { sessionId } })).toBe(2);
    expect(await auditCount(sessionId)).toBe(events);
    expect(await h.queues.replies.getJobCounts()).toEqual(jobs);
  });

  it("gets the first pack answer (202) back, even after the pack moved on", async () => {
    const sessionId = await newSession();
    const key = newKey();
    const path = `${ws.base}/insights/sessions/${sessionId}/packs`;
    const first = await post(path, { window: { preset: "LAST_7_DAYS" } }, key);
    expect(first.status).toBe(202);
    const again = await post(path, { window: { preset: "LAST_7_DAYS" } }, key);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    // Without the key the same request finds the existing pack: 200.
    expect((await post(path, { window: { preset: "LAST_7_DAYS" } })).status).toBe(200);
  });

  it("counts as the same however its JSON is written", async () => {
    const sessionId = await newSession();
    const key = newKey();
    const path = `${ws.base}/insights/sessions/${sessionId}/packs`;
    const first = await post(path, { window: { preset: "LAST_7_DAYS" }, campaignCap: 5 }, key);
    const again = await h.http
      .post(path)
      .set(bearer(ws.tokens.member))
      .set("Idempotency-Key", key)
      .set("Content-Type", "application/json")
      .send('{"campaignCap":5,"window":{"preset":"LAST_7_DAYS"}}');
    expect(again.status).toBe(first.status);
    expect(again.body).toEqual(first.body);
  });
});

describe("the same key", () => {
  it("with another body is a 409 that creates nothing", async () => {
    const key = newKey();
    await post(`${ws.base}/insights/sessions`, { title: "First" }, key).expect(201);
    const before = await h.db.insightChatSession.count({ where: { clientId: ws.workspaceId } });
    const other = await post(`${ws.base}/insights/sessions`, { title: "Second" }, key);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("CONFLICT");
    // On another route too.
    const sessionId = await newSession();
    const elsewhere = await post(`${ws.base}/insights/sessions/${sessionId}/messages`, { content: "hi" }, key);
    expect(elsewhere.status).toBe(409);
    expect(await h.db.insightChatMessage.count({ where: { sessionId } })).toBe(0);
    expect(await h.db.insightChatSession.count({ where: { clientId: ws.workspaceId } })).toBe(before + 1);
  });

  it("is another user's own: each gets their own answer", async () => {
    const key = newKey();
    const mine = await post(`${ws.base}/insights/sessions`, { title: "Shared key" }, key, ws.tokens.member);
    const theirs = await post(`${ws.base}/insights/sessions`, { title: "Shared key" }, key, ws.tokens.admin);
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it("is free again after a request that failed, so the retry can succeed", async () => {
    const sessionId = await newSession();
    await h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.owner)).expect(200);
    const key = newKey();
    const path = `${ws.base}/insights/sessions/${sessionId}/messages`;
    // An admin still sees the deleted session, and may not write to it until it is restored.
    expect((await post(path, { content: "Still there?" }, key, ws.tokens.owner)).status).toBe(409);
    await h.http.post(`${ws.base}/insights/sessions/${sessionId}/restore`).set(bearer(ws.tokens.owner)).expect(200);
    expect((await post(path, { content: "Still there?" }, key, ws.tokens.owner)).status).toBe(201);
  });

  it("starts over after 24 hours, and the worker's sweep drops it", async () => {
    const key = newKey();
    const first = await post(`${ws.base}/insights/sessions`, { title: "Yesterday" }, key);
    const dayAgo = new Date(Date.now() - 24 * 3600_000 - 1000);
    await h.db.idempotencyKey.update({ where: { userId_key: { userId: ws.users.member.id, key } }, data: { createdAt: dayAgo } });
    const later = await post(`${ws.base}/insights/sessions`, { title: "Yesterday" }, key);
    expect(later.status).toBe(201);
    expect(later.body.id).not.toBe(first.body.id);

    const other = newKey();
    await post(`${ws.base}/insights/sessions`, { title: "Old" }, other).expect(201);
    await h.db.idempotencyKey.update({ where: { userId_key: { userId: ws.users.member.id, key: other } }, data: { createdAt: dayAgo } });
    await purgeExpiredSessions({ db: h.db, logger: createLogger("idempotency-test", "silent"), retentionDays: 30 });
    expect(await h.db.idempotencyKey.count({ where: { userId: ws.users.member.id, key: other } })).toBe(0);
    expect(await h.db.idempotencyKey.count({ where: { userId: ws.users.member.id, key } })).toBe(1);
  });

  it("is taken over when its first request died before answering", async () => {
    const key = newKey();
    // As a crashed API process leaves it: claimed two minutes ago, no answer stored.
    await h.db.idempotencyKey.create({
      data: {
        userId: ws.users.member.id,
        key,
        clientId: ws.workspaceId,
        fingerprint: "whatever",
        createdAt: new Date(Date.now() - 120_000),
      },
    });
    const res = await post(`${ws.base}/insights/sessions`, { title: "After a crash" }, key);
    expect(res.status).toBe(201);
    expect((await post(`${ws.base}/insights/sessions`, { title: "After a crash" }, key)).body.id).toBe(res.body.id);
  });

  it("must be printable ASCII, at most 255 characters", async () => {
    const res = await post(`${ws.base}/insights/sessions`, {}, "x".repeat(256));
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ path: "headers.Idempotency-Key" })]);
  });
});

describe("identical requests sent at once", () => {
  const ROUNDS = 25;
  const AT_ONCE = 6;

  it(`create one session (${ROUNDS} rounds of ${AT_ONCE})`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = newKey();
      const title = `Race ${round}`;
      const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => post(`${ws.base}/insights/sessions`, { title }, key)));
      expect(answers.map((a) => a.status)).toEqual(Array(AT_ONCE).fill(201));
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(await h.db.insightChatSession.count({ where: { clientId: ws.workspaceId, title } })).toBe(1);
    }
  });

  it(`create one question, one reply and their two audit events (${ROUNDS} rounds of ${AT_ONCE})`, async () => {
    const sessionId = await sessionWithCompletePack();
    const path = `${ws.base}/insights/sessions/${sessionId}/messages`;
    for (let round = 0; round < ROUNDS; round++) {
      const key = newKey();
      const events = await auditCount(sessionId);
      const messages = await h.db.insightChatMessage.count({ where: { sessionId } });
      const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => post(path, { content: `Question ${round}` }, key)));
      expect(answers.map((a) => a.status)).toEqual(Array(AT_ONCE).fill(201));
      expect(new Set(answers.map((a) => a.body.message.id)).size).toBe(1);
      expect(await h.db.insightChatMessage.count({ where: { sessionId } })).toBe(messages + 2);
      expect(await auditCount(sessionId)).toBe(events + 2);
    }
  });

  it(`create one pack, answered alike (${ROUNDS} rounds of ${AT_ONCE})`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = await newSession();
      const key = newKey();
      const path = `${ws.base}/insights/sessions/${sessionId}/packs`;
      const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => post(path, { window: { preset: "LAST_90_DAYS" } }, key)));
      expect(answers.map((a) => a.status)).toEqual(Array(AT_ONCE).fill(202));
      expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
      expect(await h.db.insightContextPack.count({ where: { sessionId } })).toBe(1);
    }
  });
});
