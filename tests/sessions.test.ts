// Chat sessions: shared by a workspace's members, soft-deleted and restored by admins, with their messages in order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import type { Response } from "supertest";
import { signToken } from "@insights/api/auth/jwt";
import { bearer, createHarness, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;
/** A second MEMBER of `ws`, to show sessions are shared. */
let colleague: { id: string; token: string };

beforeAll(async () => {
  ws = await h.seed({ leads: 0 });
  const user = await h.db.user.create({ data: { email: `colleague+${randomUUID()}@example.test`, name: "Colleague" } });
  await h.db.workspaceMembership.create({ data: { clientId: ws.workspaceId, userId: user.id, role: "MEMBER" } });
  colleague = { id: user.id, token: await signToken(TEST_JWT_SECRET, user.id) };
});
afterAll(() => h.close());

interface SessionDto {
  id: string;
  workspaceId: string;
  title: string;
  createdById: string;
  deletedAt: string | null;
}

const sessionsPath = () => `${ws.base}/insights/sessions`;
const sessionPath = (id: string) => `${sessionsPath()}/${id}`;

async function create(token: string, body: object = {}): Promise<SessionDto> {
  const res = await h.http.post(sessionsPath()).set(bearer(token)).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as SessionDto;
}

/** Every session the caller can list, following cursors to the end. */
async function listAll(token: string, query: Record<string, string> = {}): Promise<SessionDto[]> {
  const all: SessionDto[] = [];
  let cursor: string | null = null;
  do {
    const res: Response = await h.http
      .get(sessionsPath())
      .query({ ...query, limit: 200, ...(cursor ? { cursor } : {}) })
      .set(bearer(token));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    all.push(...res.body.sessions);
    cursor = res.body.nextCursor;
  } while (cursor);
  return all;
}

async function softDelete(id: string, token = ws.tokens.admin) {
  const res = await h.http.delete(sessionPath(id)).set(bearer(token));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res;
}

async function post(sessionId: string, token: string, content: string) {
  return h.http
    .post(`${sessionPath(sessionId)}/messages`)
    .set(bearer(token))
    .send({ content });
}

describe("create, list, get, rename", () => {
  it("creates a session with the title given, owned by the caller", async () => {
    const session = await create(ws.tokens.member, { title: "Pipeline review" });
    expect(session).toMatchObject({
      id: expect.any(String),
      workspaceId: ws.workspaceId,
      title: "Pipeline review",
      createdById: ws.users.member.id,
      deletedAt: null,
    });
  });

  it("gives a session created without a title a non-empty default title", async () => {
    const session = await create(ws.tokens.member);
    expect(session.title.trim().length).toBeGreaterThan(0);
  });

  it("lists a newly created session, newest first", async () => {
    const first = await create(ws.tokens.member, { title: "first" });
    const second = await create(ws.tokens.member, { title: "second" });
    const ids = (await listAll(ws.tokens.member)).map((s) => s.id);
    expect(ids).toContain(first.id);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
  });

  it("gets a session by id", async () => {
    const session = await create(ws.tokens.member, { title: "Look me up" });
    const res = await h.http.get(sessionPath(session.id)).set(bearer(ws.tokens.member));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: session.id, title: "Look me up" });
  });

  it("answers 404 for a session id that does not exist", async () => {
    const res = await h.http.get(sessionPath(randomUUID())).set(bearer(ws.tokens.member));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
  });

  it("renames a session, and the new title is what later reads return", async () => {
    const session = await create(ws.tokens.member, { title: "Old" });
    const res = await h.http.patch(sessionPath(session.id)).set(bearer(ws.tokens.member)).send({ title: "  New name  " });
    expect(res.status).toBe(200);
    expect(res.body.title).toBe("New name");
    const read = await h.http.get(sessionPath(session.id)).set(bearer(ws.tokens.member));
    expect(read.body.title).toBe("New name");
  });

  it("paginates the session list with every session exactly once, newest first", async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await create(ws.tokens.member, { title: `page ${i}` })).id);

    const seen: SessionDto[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await h.http
        .get(sessionsPath())
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(bearer(ws.tokens.member));
      expect(res.status).toBe(200);
      expect(res.body.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.sessions);
      cursor = res.body.nextCursor;
    } while (cursor);

    const ids = seen.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    const stored = await h.db.insightChatSession.findMany({
      where: { clientId: ws.workspaceId, deletedAt: null },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    });
    expect(ids).toEqual(stored.map((s) => s.id));
    expect(ids.filter((id) => created.includes(id))).toEqual([...created].reverse());
  });
});

describe("soft delete", () => {
  it("answers the delete with 200 and the session's deletedAt", async () => {
    const session = await create(ws.tokens.member);
    const res = await softDelete(session.id);
    expect(res.body).toMatchObject({ id: session.id, deletedById: ws.users.admin.id });
    expect(Date.parse(res.body.deletedAt)).not.toBeNaN();
  });

  it("hides a deleted session from a member's list", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    expect((await listAll(ws.tokens.member)).map((s) => s.id)).not.toContain(session.id);
  });

  it("answers a member 404 for a deleted session", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    const res = await h.http.get(sessionPath(session.id)).set(bearer(ws.tokens.member));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
  });

  it("answers a member 404 for a deleted session's messages", async () => {
    const session = await create(ws.tokens.member);
    expect((await post(session.id, ws.tokens.member, "before delete")).status).toBe(201);
    await softDelete(session.id);
    const res = await h.http.get(`${sessionPath(session.id)}/messages`).set(bearer(ws.tokens.member));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
  });

  it("still lets an admin get a deleted session", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    const res = await h.http.get(sessionPath(session.id)).set(bearer(ws.tokens.owner));
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(session.id);
    expect(res.body.deletedAt).not.toBeNull();
  });

  it("shows an admin a deleted session when they ask with includeDeleted=true", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    const listed = (await listAll(ws.tokens.admin, { includeDeleted: "true" })).find((s) => s.id === session.id);
    expect(listed).toMatchObject({ id: session.id, deletedAt: expect.any(String) });
  });

  it("leaves deleted sessions out of an admin's list unless they ask for them", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    expect((await listAll(ws.tokens.admin)).map((s) => s.id)).not.toContain(session.id);
  });

  it("refuses a member asking for includeDeleted=true with 403", async () => {
    const res = await h.http.get(sessionsPath()).query({ includeDeleted: "true" }).set(bearer(ws.tokens.member));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("FORBIDDEN");
  });

  it("answers 409 when a session is deleted a second time", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id, ws.tokens.admin);
    const res = await h.http.delete(sessionPath(session.id)).set(bearer(ws.tokens.owner));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("CONFLICT");
  });

  it("keeps who deleted it first when a second delete is refused", async () => {
    const session = await create(ws.tokens.member);
    const first = await softDelete(session.id, ws.tokens.admin);
    await h.http.delete(sessionPath(session.id)).set(bearer(ws.tokens.owner));
    const res = await h.http.get(sessionPath(session.id)).set(bearer(ws.tokens.owner));
    expect(res.body).toMatchObject({ deletedAt: first.body.deletedAt, deletedById: ws.users.admin.id });
  });

  it("answers a member 404 when posting a message to a deleted session", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    const res = await post(session.id, ws.tokens.member, "anyone there?");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
  });

  it("answers an admin 409 when posting a message to a deleted session", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    const res = await post(session.id, ws.tokens.admin, "anyone there?");
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("CONFLICT");
    expect(await h.db.insightChatMessage.count({ where: { sessionId: session.id } })).toBe(0);
  });
});

describe("renaming a deleted session", () => {
  it("answers a member 404", async () => {
    const session = await create(ws.tokens.member, { title: "Before" });
    await softDelete(session.id);
    const res = await h.http.patch(sessionPath(session.id)).set(bearer(ws.tokens.member)).send({ title: "After" });
    expect(res.status).toBe(404);
  });

  it("answers an admin 409 and keeps the title", async () => {
    const session = await create(ws.tokens.member, { title: "Before" });
    await softDelete(session.id);
    const res = await h.http.patch(sessionPath(session.id)).set(bearer(ws.tokens.admin)).send({ title: "After" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("CONFLICT");
    expect((await h.db.insightChatSession.findUniqueOrThrow({ where: { id: session.id } })).title).toBe("Before");
  });
});

describe("restore", () => {
  it("makes a restored session visible to members again, with its messages intact", async () => {
    const session = await create(ws.tokens.member);
    for (const content of ["one", "two", "three"]) expect((await post(session.id, ws.tokens.member, content)).status).toBe(201);
    await softDelete(session.id);

    const res = await h.http.post(`${sessionPath(session.id)}/restore`).set(bearer(ws.tokens.admin));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: session.id, deletedAt: null });

    expect((await listAll(ws.tokens.member)).map((s) => s.id)).toContain(session.id);
    expect((await h.http.get(sessionPath(session.id)).set(bearer(ws.tokens.member))).status).toBe(200);
    const messages = await h.http.get(`${sessionPath(session.id)}/messages`).set(bearer(ws.tokens.member));
    expect(messages.status).toBe(200);
    expect(messages.body.messages.map((m: { content: string }) => m.content)).toEqual(["one", "two", "three"]);
  });

  it("accepts messages again once a session is restored", async () => {
    const session = await create(ws.tokens.member);
    await softDelete(session.id);
    await h.http.post(`${sessionPath(session.id)}/restore`).set(bearer(ws.tokens.owner));
    expect((await post(session.id, ws.tokens.member, "back again")).status).toBe(201);
  });

  it("answers 409 when restoring a session that is not deleted", async () => {
    const session = await create(ws.tokens.member);
    const res = await h.http.post(`${sessionPath(session.id)}/restore`).set(bearer(ws.tokens.admin));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("CONFLICT");
  });
});

describe("sessions of another workspace", () => {
  it("answers 404 for every action on a session of another workspace, through one's own workspace path", async () => {
    const foreignWs = await h.seed({ leads: 0 });
    const foreign = await h.http.post(`${foreignWs.base}/insights/sessions`).set(bearer(foreignWs.tokens.member)).send({ title: "Theirs" });
    expect(foreign.status).toBe(201);
    const id = foreign.body.id as string;

    const attempts: Array<[string, () => Promise<Response>]> = [
      ["get", async () => h.http.get(sessionPath(id)).set(bearer(ws.tokens.owner))],
      ["rename", async () => h.http.patch(sessionPath(id)).set(bearer(ws.tokens.owner)).send({ title: "Mine now" })],
      ["list messages", async () => h.http.get(`${sessionPath(id)}/messages`).set(bearer(ws.tokens.owner))],
      [
        "post message",
        async () =>
          h.http
            .post(`${sessionPath(id)}/messages`)
            .set(bearer(ws.tokens.owner))
            .send({ content: "hello" }),
      ],
      ["delete", async () => h.http.delete(sessionPath(id)).set(bearer(ws.tokens.owner))],
      ["restore", async () => h.http.post(`${sessionPath(id)}/restore`).set(bearer(ws.tokens.owner))],
    ];
    for (const [label, attempt] of attempts) {
      const res = await attempt();
      expect(res.status, label).toBe(404);
      expect(res.body.error.code, label).toBe("NOT_FOUND");
    }
    const stored = await h.db.insightChatSession.findUniqueOrThrow({ where: { id } });
    expect(stored).toMatchObject({ title: "Theirs", deletedAt: null });
    expect(await h.db.insightChatMessage.count({ where: { sessionId: id } })).toBe(0);
    expect(await h.db.insightChatAuditEvent.count({ where: { clientId: ws.workspaceId, sessionId: id } })).toBe(0);
  });
});

describe("sessions are shared within the workspace", () => {
  it("lists a session one member created for another member", async () => {
    const session = await create(ws.tokens.member, { title: "Shared" });
    expect((await listAll(colleague.token)).map((s) => s.id)).toContain(session.id);
  });

  it("lets another member read a session and its messages", async () => {
    const session = await create(ws.tokens.member, { title: "Shared read" });
    expect((await post(session.id, ws.tokens.member, "from the creator")).status).toBe(201);

    const got = await h.http.get(sessionPath(session.id)).set(bearer(colleague.token));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: session.id, createdById: ws.users.member.id });
    const messages = await h.http.get(`${sessionPath(session.id)}/messages`).set(bearer(colleague.token));
    expect(messages.body.messages.map((m: { content: string }) => m.content)).toEqual(["from the creator"]);
  });

  it("lets another member post in a session they did not create", async () => {
    const session = await create(ws.tokens.member);
    const res = await post(session.id, colleague.token, "my turn");
    expect(res.status).toBe(201);
    expect(res.body.message.author.id).toBe(colleague.id);
  });
});

describe("messages", () => {
  it("answers a posted message with 201, the USER message and its author", async () => {
    const session = await create(ws.tokens.member);
    const res = await post(session.id, ws.tokens.member, "  Which leads booked meetings?  ");
    expect(res.status).toBe(201);
    expect(res.body.message).toMatchObject({
      sessionId: session.id,
      role: "USER",
      content: "Which leads booked meetings?",
      author: { id: ws.users.member.id, email: ws.users.member.email },
    });
  });

  it("lists messages oldest first, each with the member who posted it", async () => {
    const session = await create(ws.tokens.member);
    const posts = [
      { token: ws.tokens.member, userId: ws.users.member.id, content: "first" },
      { token: colleague.token, userId: colleague.id, content: "second" },
      { token: ws.tokens.admin, userId: ws.users.admin.id, content: "third" },
      { token: ws.tokens.member, userId: ws.users.member.id, content: "fourth" },
    ];
    for (const p of posts) expect((await post(session.id, p.token, p.content)).status).toBe(201);

    const res = await h.http.get(`${sessionPath(session.id)}/messages`).set(bearer(ws.tokens.member));
    expect(res.status).toBe(200);
    const listed = res.body.messages as Array<{ content: string; role: string; author: { id: string } }>;
    expect(listed.map((m) => [m.content, m.author.id])).toEqual(posts.map((p) => [p.content, p.userId]));
    expect(listed.every((m) => m.role === "USER")).toBe(true);
  });

  it("paginates messages in order, each exactly once", async () => {
    const session = await create(ws.tokens.member);
    const contents = Array.from({ length: 5 }, (_, i) => `message ${i + 1}`);
    for (const content of contents) expect((await post(session.id, ws.tokens.member, content)).status).toBe(201);

    const seen: Array<{ id: string; content: string }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Response = await h.http
        .get(`${sessionPath(session.id)}/messages`)
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(bearer(ws.tokens.member));
      expect(res.status).toBe(200);
      expect(res.body.messages.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.messages);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);

    expect(pages).toBe(3);
    expect(seen.map((m) => m.content)).toEqual(contents);
    expect(new Set(seen.map((m) => m.id)).size).toBe(contents.length);
  });

  it("keeps each session's messages to itself", async () => {
    const [a, b] = [await create(ws.tokens.member), await create(ws.tokens.member)];
    await post(a.id, ws.tokens.member, "in a");
    await post(b.id, ws.tokens.member, "in b");
    const res = await h.http.get(`${sessionPath(a.id)}/messages`).set(bearer(ws.tokens.member));
    expect(res.body.messages.map((m: { content: string }) => m.content)).toEqual(["in a"]);
  });
});
