// The audit log: one event for every admin action and every message created, naming who did it; nothing for a
// refused change; filterable, paginated newest first, and private to its workspace.
import { afterAll, describe, expect, it } from "vitest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
afterAll(() => h.close());

interface AuditEventDto {
  id: string;
  workspaceId: string;
  action: string;
  actor: { type: string; id?: string };
  sessionId: string | null;
  packId: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

/** A workspace of its own per test, seeded without leads so its audit log starts empty. */
async function freshWorkspace(): Promise<TestWorkspace> {
  const ws = await h.seed({ leads: 0 });
  expect(await h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId } })).toBe(0);
  return ws;
}

async function listEvents(ws: TestWorkspace, query: Record<string, string | number> = {}, token = ws.tokens.owner) {
  const res = await h.http.get(`${ws.base}/insights/audit-events`).query(query).set(bearer(token));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { events: AuditEventDto[]; nextCursor: string | null };
}

async function createSession(ws: TestWorkspace, token = ws.tokens.member): Promise<string> {
  const res = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(token)).send({});
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function postMessage(ws: TestWorkspace, sessionId: string, token: string, content = "Who replied?") {
  const res = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(token)).send({ content });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.message as { id: string };
}

async function deleteSession(ws: TestWorkspace, sessionId: string, token = ws.tokens.admin) {
  const res = await h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(token));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** The only event of the workspace, asserted to be the only one both in the listing and in the database. */
async function onlyEvent(ws: TestWorkspace): Promise<AuditEventDto> {
  const { events } = await listEvents(ws);
  expect(events).toHaveLength(1);
  expect(await h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId } })).toBe(1);
  return events[0]!;
}

describe("every admin action and every message writes exactly one event", () => {
  it("records a session deletion as SESSION_DELETED by the admin who deleted it", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    await deleteSession(ws, sessionId, ws.tokens.admin);

    const event = await onlyEvent(ws);
    expect(event).toMatchObject({
      workspaceId: ws.workspaceId,
      action: "SESSION_DELETED",
      actor: { type: "USER", id: ws.users.admin.id },
      sessionId,
    });
  });

  it("records a session restore as SESSION_RESTORED by the admin who restored it", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    await deleteSession(ws, sessionId, ws.tokens.owner);

    const res = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/restore`).set(bearer(ws.tokens.admin));
    expect(res.status).toBe(200);

    const { events } = await listEvents(ws, { action: "SESSION_RESTORED" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "SESSION_RESTORED", actor: { type: "USER", id: ws.users.admin.id }, sessionId });
    expect(await h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId } })).toBe(2);
  });

  it("records a settings change as SETTINGS_UPDATED by the admin who made it", async () => {
    const ws = await freshWorkspace();
    const res = await h.http
      .patch(`${ws.base}/insights/settings`)
      .set(bearer(ws.tokens.admin))
      .send({ insightsChatReasoningEffort: "high" });
    expect(res.status).toBe(200);

    const event = await onlyEvent(ws);
    expect(event).toMatchObject({ action: "SETTINGS_UPDATED", actor: { type: "USER", id: ws.users.admin.id }, sessionId: null });
  });

  it("records a campaign push as CAMPAIGN_UPSERTED by the admin who pushed it", async () => {
    const ws = await freshWorkspace();
    const res = await h.http.put(`${ws.base}/campaigns/cmp-audit`).set(bearer(ws.tokens.admin)).send({ name: "Audit me" });
    expect(res.status).toBe(200);

    const event = await onlyEvent(ws);
    expect(event).toMatchObject({ action: "CAMPAIGN_UPSERTED", actor: { type: "USER", id: ws.users.admin.id }, sessionId: null });
  });

  it("records a leads batch as LEADS_INGESTED by the admin who sent it", async () => {
    const ws = await freshWorkspace();
    const res = await h.http
      .post(`${ws.base}/leads/batch`)
      .set(bearer(ws.tokens.admin))
      .send({
        leads: [
          { id: "lead-a1", messages: [{ id: "m1", direction: "OUTBOUND", body: "hi", sentAt: "2026-10-01T10:00:00Z" }] },
          { id: "lead-a2", messages: [] },
        ],
      });
    expect(res.status, JSON.stringify(res.body)).toBe(200);

    const event = await onlyEvent(ws);
    expect(event).toMatchObject({ action: "LEADS_INGESTED", actor: { type: "USER", id: ws.users.admin.id }, sessionId: null });
  });

  it("records a message as MESSAGE_CREATED by the member who wrote it, in its session", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws, ws.tokens.owner);
    const message = await postMessage(ws, sessionId, ws.tokens.member);

    const event = await onlyEvent(ws);
    expect(event).toMatchObject({ action: "MESSAGE_CREATED", actor: { type: "USER", id: ws.users.member.id }, sessionId });
    expect(event.details).toMatchObject({ messageId: message.id });
  });

  it("writes no event for creating or renaming a session, which are not admin actions", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    const res = await h.http.patch(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.member)).send({ title: "Renamed" });
    expect(res.status).toBe(200);

    expect((await listEvents(ws)).events).toEqual([]);
  });
});

describe("filters", () => {
  it("lists only the events of the session named by sessionId", async () => {
    const ws = await freshWorkspace();
    const [a, b] = [await createSession(ws), await createSession(ws)];
    await postMessage(ws, a, ws.tokens.member, "one");
    await postMessage(ws, b, ws.tokens.member, "two");
    await postMessage(ws, a, ws.tokens.admin, "three");
    await deleteSession(ws, a);

    const { events } = await listEvents(ws, { sessionId: a });
    const expected = await h.db.insightChatAuditEvent.findMany({
      where: { clientId: ws.workspaceId, sessionId: a },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    });
    expect(expected).toHaveLength(3);
    expect(events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(events.every((e) => e.sessionId === a)).toBe(true);
  });

  it("lists only the events of the action named by action", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    await postMessage(ws, sessionId, ws.tokens.member);
    await deleteSession(ws, sessionId);
    await h.http.patch(`${ws.base}/insights/settings`).set(bearer(ws.tokens.owner)).send({ insightsChatEnableFollowupPauses: true });

    const { events } = await listEvents(ws, { action: "SESSION_DELETED" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "SESSION_DELETED", sessionId });
    expect((await listEvents(ws)).events).toHaveLength(3);
  });

  it("combines sessionId and action filters", async () => {
    const ws = await freshWorkspace();
    const [a, b] = [await createSession(ws), await createSession(ws)];
    await postMessage(ws, a, ws.tokens.member);
    await postMessage(ws, b, ws.tokens.member);
    await deleteSession(ws, a);
    await deleteSession(ws, b);

    const { events } = await listEvents(ws, { sessionId: b, action: "MESSAGE_CREATED" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "MESSAGE_CREATED", sessionId: b });
  });
});

describe("pagination", () => {
  it("returns every event exactly once, newest first, across pages of 2", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    for (let i = 0; i < 4; i++) await postMessage(ws, sessionId, ws.tokens.member, `question ${i}`);
    await h.http.put(`${ws.base}/campaigns/cmp-p`).set(bearer(ws.tokens.admin)).send({ name: "P" });
    await deleteSession(ws, sessionId);

    const seen: AuditEventDto[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await listEvents(ws, { limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.events.length).toBeLessThanOrEqual(2);
      seen.push(...page.events);
      cursor = page.nextCursor;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (cursor);

    const stored = await h.db.insightChatAuditEvent.findMany({
      where: { clientId: ws.workspaceId },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    });
    expect(stored).toHaveLength(6);
    expect(pages).toBe(3);
    expect(seen.map((e) => e.id)).toEqual(stored.map((e) => e.id));
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    const times = seen.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    // The newest event is the deletion, made last.
    expect(seen[0]!.action).toBe("SESSION_DELETED");
  });

  it("paginates a filtered listing within the filter", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    for (let i = 0; i < 3; i++) await postMessage(ws, sessionId, ws.tokens.member, `q${i}`);
    await h.http.put(`${ws.base}/campaigns/cmp-f`).set(bearer(ws.tokens.admin)).send({ name: "F" });

    const first = await listEvents(ws, { limit: 2, action: "MESSAGE_CREATED" });
    expect(first.events).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await listEvents(ws, { limit: 2, action: "MESSAGE_CREATED", cursor: first.nextCursor! });
    expect(second.events).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect([...first.events, ...second.events].every((e) => e.action === "MESSAGE_CREATED")).toBe(true);
  });
});

describe("a refused change writes no event", () => {
  it("writes none when restoring a session that is not deleted (409)", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    const res = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/restore`).set(bearer(ws.tokens.admin));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("CONFLICT");
    expect((await listEvents(ws)).events).toEqual([]);
  });

  it("writes none when deleting a session that is already deleted (409)", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    await deleteSession(ws, sessionId);
    const res = await h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.owner));
    expect(res.status).toBe(409);
    expect((await listEvents(ws)).events.map((e) => e.action)).toEqual(["SESSION_DELETED"]);
  });

  it("writes none when a member tries to delete a session (403)", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    const res = await h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.member));
    expect(res.status).toBe(403);
    expect((await listEvents(ws)).events).toEqual([]);
  });

  it("writes none when a member tries to change settings (403)", async () => {
    const ws = await freshWorkspace();
    const res = await h.http.patch(`${ws.base}/insights/settings`).set(bearer(ws.tokens.member)).send({ insightsChatModel: "x" });
    expect(res.status).toBe(403);
    expect((await listEvents(ws)).events).toEqual([]);
  });

  it("writes none for a bad settings body (400)", async () => {
    const ws = await freshWorkspace();
    const res = await h.http
      .patch(`${ws.base}/insights/settings`)
      .set(bearer(ws.tokens.admin))
      .send({ insightsChatReasoningEffort: "extreme" });
    expect(res.status).toBe(400);
    expect((await listEvents(ws)).events).toEqual([]);
  });

  it("writes none for a message to a deleted session (409)", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    await deleteSession(ws, sessionId);
    const res = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.admin))
      .send({ content: "hi" });
    expect(res.status).toBe(409);
    expect((await listEvents(ws)).events.map((e) => e.action)).toEqual(["SESSION_DELETED"]);
  });

  it("writes none for a leads batch naming an unknown campaign (400)", async () => {
    const ws = await freshWorkspace();
    const res = await h.http
      .post(`${ws.base}/leads/batch`)
      .set(bearer(ws.tokens.admin))
      .send({ leads: [{ id: "lead-x", campaignId: "no-such-campaign", messages: [] }] });
    expect(res.status).toBe(400);
    expect((await listEvents(ws)).events).toEqual([]);
  });
});

describe("concurrent admin actions", () => {
  it("writes one event when two admins delete the same session at once", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    const results = await Promise.all(
      [ws.tokens.admin, ws.tokens.owner].map((token) => h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(token))),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const { events } = await listEvents(ws, { action: "SESSION_DELETED" });
    expect(events).toHaveLength(1);
    const winner = results.find((r) => r.status === 200)!;
    expect(events[0]!.actor.id).toBe(winner.body.deletedById);
  });

  it("writes one event when two admins restore the same session at once", async () => {
    const ws = await freshWorkspace();
    const sessionId = await createSession(ws);
    await deleteSession(ws, sessionId);
    const results = await Promise.all(
      [ws.tokens.admin, ws.tokens.owner].map((token) =>
        h.http.post(`${ws.base}/insights/sessions/${sessionId}/restore`).set(bearer(token)),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await listEvents(ws, { action: "SESSION_RESTORED" })).events).toHaveLength(1);
  });
});

describe("workspace isolation", () => {
  it("never shows one workspace's events in another's listing", async () => {
    const [ws, other] = await Promise.all([freshWorkspace(), freshWorkspace()]);
    const sessionId = await createSession(ws);
    await postMessage(ws, sessionId, ws.tokens.member);
    await deleteSession(ws, sessionId);
    await h.http.put(`${ws.base}/campaigns/cmp-iso`).set(bearer(ws.tokens.owner)).send({ name: "Iso" });

    expect((await listEvents(ws)).events).toHaveLength(3);
    expect((await listEvents(other)).events).toEqual([]);
  });

  it("finds nothing when filtering by another workspace's session id", async () => {
    const [ws, other] = await Promise.all([freshWorkspace(), freshWorkspace()]);
    const sessionId = await createSession(ws);
    await postMessage(ws, sessionId, ws.tokens.member);

    expect((await listEvents(other, { sessionId })).events).toEqual([]);
  });
});
