import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "@insights/shared/logger";
import { purgeExpiredSessions } from "@insights/worker/maintenance/purge-sessions.handler";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
afterAll(() => h.close());
const DAY_MS = 24 * 3600_000;
const purge = () => purgeExpiredSessions({ db: h.db, logger: createLogger("retention-test", "silent"), retentionDays: 30 });

/** A session with a message and a pack, soft-deleted `daysAgo` days ago. */
async function deletedSession(ws: TestWorkspace, daysAgo: number) {
  const session = await h.http
    .post(`${ws.base}/insights/sessions`)
    .set(bearer(ws.tokens.member))
    .send({ title: `deleted ${daysAgo}d ago` });
  const id = session.body.id as string;
  await h.http.post(`${ws.base}/insights/sessions/${id}/messages`).set(bearer(ws.tokens.member)).send({ content: "hello" }).expect(201);
  const pack = await h.http.post(`${ws.base}/insights/sessions/${id}/packs`).set(bearer(ws.tokens.member)).send({});
  await h.http.delete(`${ws.base}/insights/sessions/${id}`).set(bearer(ws.tokens.admin)).expect(200);
  await h.db.insightChatSession.update({ where: { id }, data: { deletedAt: new Date(Date.now() - daysAgo * DAY_MS) } });
  return { id, packId: pack.body.id as string };
}

describe("retention", () => {
  it("refuses to restore a session whose restore period has ended", async () => {
    const ws = await h.seed();
    const { id } = await deletedSession(ws, 31);
    const res = await h.http.post(`${ws.base}/insights/sessions/${id}/restore`).set(bearer(ws.tokens.admin));
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/restore period of 30 days has ended/);
  });

  it("purges an expired session with its messages and packs, keeps its audit trail, and audits the purge", async () => {
    const ws = await h.seed();
    const expired = await deletedSession(ws, 31);
    const recent = await deletedSession(ws, 29);
    const live = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const auditBefore = await h.db.insightChatAuditEvent.findMany({ where: { sessionId: expired.id }, orderBy: { createdAt: "asc" } });
    expect(auditBefore.map((e) => e.action)).toEqual(["MESSAGE_CREATED", "SESSION_DELETED"]);

    await purge();

    expect(await h.db.insightChatSession.findUnique({ where: { id: expired.id } })).toBeNull();
    expect(await h.db.insightChatMessage.count({ where: { sessionId: expired.id } })).toBe(0);
    expect(await h.db.insightContextPack.count({ where: { sessionId: expired.id } })).toBe(0);
    // The trail outlives what it records: every earlier event is intact, ids included, and the purge is recorded.
    const auditAfter = await h.db.insightChatAuditEvent.findMany({ where: { sessionId: expired.id }, orderBy: { createdAt: "asc" } });
    expect(auditAfter.slice(0, 2)).toEqual(auditBefore);
    expect(auditAfter[2]).toMatchObject({
      action: "SESSION_PURGED",
      actorType: "SYSTEM",
      actorId: null,
      sessionId: expired.id,
      details: expect.objectContaining({ purgedMessages: 1, purgedPackIds: [expired.packId] }),
    });
    const listed = await h.http.get(`${ws.base}/insights/audit-events?action=SESSION_PURGED`).set(bearer(ws.tokens.admin));
    expect(listed.body.events).toEqual([expect.objectContaining({ sessionId: expired.id, actor: { type: "SYSTEM" } })]);

    // Still within its period, and live sessions, are untouched.
    expect(await h.db.insightChatSession.findUnique({ where: { id: recent.id } })).not.toBeNull();
    expect(await h.db.insightChatMessage.count({ where: { sessionId: recent.id } })).toBe(1);
    expect(await h.db.insightChatSession.findUnique({ where: { id: live.body.id } })).not.toBeNull();
  });

  it("purges each expired session once, however often it runs", async () => {
    const ws = await h.seed();
    const expired = await deletedSession(ws, 40);
    await Promise.all([purge(), purge()]);
    await purge();
    expect(await h.db.insightChatAuditEvent.count({ where: { sessionId: expired.id, action: "SESSION_PURGED" } })).toBe(1);
  });
});
