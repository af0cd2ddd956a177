// Live session events (the contract's "Live session events" section) against the app and a worker in-process:
// snapshot, pack progress, streamed answers, resume, access, limits. The same behaviour across real processes is
// in live-processes.test.ts.
import { createConnection } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { SseClient, type LiveEvent } from "./support/sse-client.ts";
import { useFakeModelWorker, waitFor } from "./support/worker-harness.ts";

const MAX_STREAMS = 3;
const { h, fake } = await useFakeModelWorker({
  harness: { live: { keepAliveMs: 200, maxStreamMs: 60_000, maxStreamsPerUser: MAX_STREAMS, maxBufferedBytes: 4096, accessCheckMs: 200 } },
});
const clients: SseClient[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

const eventsPath = (ws: TestWorkspace, sessionId: string) => `${ws.base}/insights/sessions/${sessionId}/events`;

async function connect(ws: TestWorkspace, sessionId: string, token: string, headers: Record<string, string> = {}, query = "") {
  const client = await SseClient.open(`${h.baseUrl()}${eventsPath(ws, sessionId)}${query}`, { ...bearer(token), ...headers });
  clients.push(client);
  return client;
}

async function newSession(ws: TestWorkspace): Promise<string> {
  const res = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  return res.body.id as string;
}

async function requestPack(ws: TestWorkspace, sessionId: string): Promise<string> {
  const res = await h.http
    .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
    .set(bearer(ws.tokens.member))
    .send({ window: { preset: "LAST_90_DAYS" } });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

/**
 * A session whose pack is COMPLETE, a stream on it (the given user's) that saw it complete, and the fake model set
 * to answer `answer` next.
 */
async function streamOnAnsweringSession(leads: number, as: "member" | "admin", answer: string) {
  const ws = await h.seed({ leads });
  const sessionId = await newSession(ws);
  const packId = await requestPack(ws, sessionId);
  const client = await connect(ws, sessionId, ws.tokens[as]);
  await client.waitFor(packDone(packId), "the pack to complete");
  fake.respond("chat_answer", () => ({ answer, citedLeadIds: [], suggestedActions: [] }));
  return { ws, sessionId, client };
}

const packDone = (packId: string) => (e: LiveEvent) => e.event === "pack.updated" && e.data.id === packId && e.data.status === "COMPLETE";

/** Ids strictly increase, in the order the stream sent them. */
function expectIncreasingIds(events: LiveEvent[]) {
  const ids = events.map((e) => e.id.split("-").map(BigInt) as [bigint, bigint]);
  for (let i = 1; i < ids.length; i++) {
    const [a, b] = [ids[i - 1]!, ids[i]!];
    expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `${events[i - 1]!.id} < ${events[i]!.id}`).toBe(true);
  }
}

describe("GET /sessions/:sessionId/events", () => {
  it("starts with a snapshot of the session, its packs and messages, then pushes the pack's progress as GET /packs/:id returns it", async () => {
    const ws = await h.seed({ leads: 12 });
    const sessionId = await newSession(ws);
    const client = await connect(ws, sessionId, ws.tokens.member);
    expect(client.status).toBe(200);
    expect(client.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const snapshot = await client.waitFor((e) => e.event === "session.snapshot", "the snapshot");
    expect(client.events[0]).toBe(snapshot);
    expect(snapshot.data).toMatchObject({ session: { id: sessionId }, packs: [], messages: [] });

    const packId = await requestPack(ws, sessionId);
    const done = await client.waitFor(packDone(packId), "the pack to complete");
    const updates = client.events.filter((e) => e.event === "pack.updated");
    expect(updates[0]!.data.status).toBe("PENDING");
    expect(updates.some((e) => e.data.status === "RUNNING")).toBe(true);
    // The last event is exactly what a poll returns now.
    const polled = await h.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member));
    expect(done.data).toEqual(JSON.parse(JSON.stringify(polled.body)));
    // Progress never goes backwards.
    const processed = updates.map((e) => e.data.progress.processedLeads as number);
    expect(processed).toEqual([...processed].sort((a, b) => a - b));
    expectIncreasingIds(client.events.slice(1));
  });

  it("streams an answer to every member: the question, its pending reply, pieces that add up to the stored answer, then the answer", async () => {
    const answer = 'Three leads asked about pricing; "Acme" booked a call.\nNext: follow up — soon 👍.';
    const { ws, sessionId, client: member } = await streamOnAnsweringSession(4, "member", answer);
    // Paced like a model: pieces that arrive together may go out as one event.
    fake.streamChunkChars = 3;
    fake.streamChunkDelayMs = 10;

    const other = await connect(ws, sessionId, ws.tokens.admin);
    const asked = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "Who asked about pricing?" });
    const replyId = asked.body.reply.id as string;
    for (const client of [member, other]) {
      const question = await client.waitFor((e) => e.event === "message.created" && e.data.role === "USER", "the question");
      expect(question.data).toMatchObject({ content: "Who asked about pricing?", author: { id: ws.users.member.id } });
      await client.waitFor(
        (e) => e.event === "message.created" && e.data.id === replyId && e.data.status === "PENDING",
        "the pending reply",
      );
      const final = await client.waitFor((e) => e.event === "message.updated" && e.data.id === replyId, "the answer");
      expect(final.data).toMatchObject({ status: "COMPLETE", content: answer });
      const deltas = client.events.filter((e) => e.event === "message.delta" && e.data.messageId === replyId);
      expect(deltas.length).toBeGreaterThan(1);
      const lastAttempt = Math.max(...deltas.map((d) => d.data.attempt as number));
      expect(lastAttempt).toBe(1);
      expect(deltas.map((d) => d.data.text).join("")).toBe(answer);
      // Every piece came before the final message.
      expect(client.events.indexOf(final)).toBeGreaterThan(client.events.indexOf(deltas.at(-1)!));
    }
    const listed = await h.http.get(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.member));
    expect(listed.body.messages.find((m: { id: string }) => m.id === replyId).content).toBe(answer);
  });

  it("gives a member who connects mid-answer the text so far in the snapshot, which the next pieces continue", async () => {
    const answer = `A long answer, written slowly: ${"word ".repeat(30)}end.`;
    const { ws, sessionId, client: asker } = await streamOnAnsweringSession(2, "member", answer);
    fake.streamChunkChars = 6;
    fake.streamChunkDelayMs = 25;
    const asked = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "Tell me" });
    const replyId = asked.body.reply.id as string;
    await asker.waitFor((e) => e.event === "message.delta" && e.data.messageId === replyId && e.data.text.length > 0, "the first pieces");

    const late = await connect(ws, sessionId, ws.tokens.admin);
    const snapshot = await late.waitFor((e) => e.event === "session.snapshot", "the snapshot");
    const final = await late.waitFor((e) => e.event === "message.updated" && e.data.id === replyId, "the answer");
    const sofar = (snapshot.data.streaming as Array<{ messageId: string; attempt: number; text: string }>).find(
      (s) => s.messageId === replyId,
    );
    expect(sofar?.text.length).toBeGreaterThan(0);
    const rest = late.events.filter((e) => e.event === "message.delta" && e.data.messageId === replyId);
    expect(rest.every((d) => d.data.attempt === sofar!.attempt)).toBe(true);
    expect(sofar!.text + rest.map((d) => d.data.text).join("")).toBe(final.data.content);
    expect(final.data.content).toBe(answer);
  });

  it("starts a new attempt when the model fails part way, and the final attempt's pieces add up to the answer", async () => {
    const { ws, sessionId, client } = await streamOnAnsweringSession(2, "member", "Why: the pack says so.");
    // Slow enough that the first try's pieces go out before it breaks off.
    fake.streamChunkChars = 4;
    fake.streamChunkDelayMs = 30;
    fake.script("chat_answer", { dropAfterChars: 24 });
    const asked = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "Why?" });
    const replyId = asked.body.reply.id as string;
    const final = await client.waitFor((e) => e.event === "message.updated" && e.data.id === replyId, "the answer");
    expect(final.data).toMatchObject({ status: "COMPLETE", error: null });
    const deltas = client.events.filter((e) => e.event === "message.delta" && e.data.messageId === replyId);
    expect(deltas[0]!.data.attempt).toBe(1);
    const last = deltas.at(-1)!.data.attempt as number;
    expect(last).toBeGreaterThan(1);
    expect(
      deltas
        .filter((d) => d.data.attempt === last)
        .map((d) => d.data.text)
        .join(""),
    ).toBe(final.data.content);
    expect(client.events.filter((e) => e.event === "message.updated" && e.data.id === replyId)).toHaveLength(1);
  });

  it("resumes after Last-Event-ID (header or ?lastEventId=) with exactly the events the connection missed", async () => {
    const ws = await h.seed({ leads: 12 });
    const sessionId = await newSession(ws);
    const stayed = await connect(ws, sessionId, ws.tokens.member);
    await stayed.waitFor((e) => e.event === "session.snapshot", "the snapshot");
    const dropped = await connect(ws, sessionId, ws.tokens.member);
    await dropped.waitFor((e) => e.event === "session.snapshot", "the snapshot");
    fake.latencyMs = 30;
    const packId = await requestPack(ws, sessionId);
    await dropped.waitFor((e) => e.event === "pack.updated" && e.data.status === "RUNNING", "the pack to run");
    dropped.close();
    await dropped.ended;
    const before = dropped.events.slice(1);

    // Other users resume it (any member may), so the member's own streams stay under the per-user cap.
    const viaHeader = await connect(ws, sessionId, ws.tokens.admin, { "Last-Event-ID": dropped.lastEventId! });
    await viaHeader.waitFor(packDone(packId), "the pack to complete (resumed by header)");
    const viaQuery = await connect(ws, sessionId, ws.tokens.owner, {}, `?lastEventId=${encodeURIComponent(dropped.lastEventId!)}`);
    await viaQuery.waitFor(packDone(packId), "the pack to complete (resumed by query)");
    await stayed.waitFor(packDone(packId), "the pack to complete");

    const comparable = (events: LiveEvent[]) =>
      events.filter((e) => e.event !== "session.snapshot").map(({ id, event, data }) => ({ id, event, data }));
    expect(viaHeader.events[0]!.event).not.toBe("session.snapshot");
    expect([...before, ...comparable(viaHeader.events)]).toEqual(comparable(stayed.events));
    expect([...before, ...comparable(viaQuery.events)]).toEqual(comparable(stayed.events));
  });

  it("answers an id the log cannot replay (unknown, malformed, or from the future) with a fresh snapshot", async () => {
    const ws = await h.seed();
    const sessionId = await newSession(ws);
    for (const id of ["1-0", "not-an-id", "99999999999999-0"]) {
      const client = await connect(ws, sessionId, ws.tokens.member, { "Last-Event-ID": id });
      const first = await client.waitFor(() => true, `the first event after ${id}`);
      expect(first.event).toBe("session.snapshot");
    }
  });

  it("takes the token from ?access_token= (for EventSource), and keeps the same 404 and 401 rules as GET /sessions/:id", async () => {
    const ws = await h.seed();
    const sessionId = await newSession(ws);
    const viaQuery = await SseClient.open(`${h.baseUrl()}${eventsPath(ws, sessionId)}?access_token=${ws.tokens.member}`);
    clients.push(viaQuery);
    expect(viaQuery.status).toBe(200);
    const outsider = await connect(ws, sessionId, ws.tokens.outsider);
    expect(outsider.status).toBe(404);
    expect(outsider.body).toMatchObject({ error: { code: "NOT_FOUND" } });
    const anonymous = await SseClient.open(`${h.baseUrl()}${eventsPath(ws, sessionId)}`);
    expect(anonymous.status).toBe(401);
    // Only this route reads a query token.
    const elsewhere = await h.http.get(`${ws.base}/insights/sessions/${sessionId}?access_token=${ws.tokens.member}`);
    expect(elsewhere.status).toBe(401);
    const otherSession = await connect(ws, "no-such-session", ws.tokens.member);
    expect(otherSession.status).toBe(404);
    // HEAD answers with the headers and ends; it holds no stream.
    const head = await fetch(`${h.baseUrl()}${eventsPath(ws, sessionId)}`, { method: "HEAD", headers: bearer(ws.tokens.member) });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toMatch(/^text\/event-stream/);
  });

  it("sends a keep-alive comment while nothing happens", async () => {
    const ws = await h.seed();
    const client = await connect(ws, await newSession(ws), ws.tokens.member);
    await waitFor(async () => (client.comments.includes("keep-alive") ? true : undefined), { what: "a keep-alive comment" });
  });

  it("refuses a user's streams beyond the per-user cap with 429, and frees a slot when one closes", async () => {
    const ws = await h.seed();
    const sessionId = await newSession(ws);
    const open = [];
    for (let i = 0; i < MAX_STREAMS; i++) open.push(await connect(ws, sessionId, ws.tokens.member));
    expect(open.map((c) => c.status)).toEqual(Array(MAX_STREAMS).fill(200));
    const over = await connect(ws, sessionId, ws.tokens.member);
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ error: { code: "RATE_LIMITED" } });
    // Another user is not affected.
    expect((await connect(ws, sessionId, ws.tokens.admin)).status).toBe(200);
    open[0]!.close();
    await waitFor(async () => ((await connect(ws, sessionId, ws.tokens.member)).status === 200 ? true : undefined), {
      what: "a freed slot",
    });
  });

  it("closes the session's streams when it is deleted, after sending session.deleted", async () => {
    const ws = await h.seed();
    const sessionId = await newSession(ws);
    const client = await connect(ws, sessionId, ws.tokens.member);
    expect(client.body).toBe(null);
    await client.waitFor((e) => e.event === "session.snapshot", "the snapshot");
    const renamed = await h.http
      .patch(`${ws.base}/insights/sessions/${sessionId}`)
      .set(bearer(ws.tokens.member))
      .send({ title: "Renamed" });
    expect(renamed.status).toBe(200);
    await client.waitFor((e) => e.event === "session.updated" && e.data.title === "Renamed", "the rename");
    expect((await h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.owner))).status).toBe(200);
    const deleted = await client.waitFor((e) => e.event === "session.deleted", "session.deleted");
    expect(deleted.data).toMatchObject({ id: sessionId, deletedAt: expect.any(String) });
    await client.ended;
    expect(client.comments.some((c) => c.includes("the session was deleted"))).toBe(true);
    // A member can no longer open it.
    expect((await connect(ws, sessionId, ws.tokens.member)).status).toBe(404);
  });

  it("closes a stream when its user's membership is revoked", async () => {
    const ws = await h.seed();
    const sessionId = await newSession(ws);
    const client = await connect(ws, sessionId, ws.tokens.member);
    await client.waitFor((e) => e.event === "session.snapshot", "the snapshot");
    await h.db.workspaceMembership.delete({ where: { clientId_userId: { clientId: ws.workspaceId, userId: ws.users.member.id } } });
    await client.ended;
    expect(client.comments.some((c) => c.includes("no longer a member"))).toBe(true);
  });

  it("closes a stream at its maximum age with a reason, and the client resumes where it was", async () => {
    // The default test harness ends streams after 50 ms (LIVE_MAX_STREAM_MS in production: 30 min).
    const short = createHarness();
    try {
      const ws = await short.seed();
      const sessionId = (await short.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({})).body.id as string;
      // An event first: a snapshot of a session whose log is still empty cannot be resumed (it gets a new snapshot).
      await short.http.patch(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.member)).send({ title: "Before" });
      const first = await SseClient.open(`${short.baseUrl()}${eventsPath(ws, sessionId)}`, bearer(ws.tokens.member));
      await first.ended;
      expect(first.events.map((e) => e.event)).toEqual(["session.snapshot"]);
      expect(first.comments.some((c) => c.includes("maximum age"))).toBe(true);
      await short.http.patch(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.member)).send({ title: "Meanwhile" });
      const again = await SseClient.open(`${short.baseUrl()}${eventsPath(ws, sessionId)}`, {
        ...bearer(ws.tokens.member),
        "Last-Event-ID": first.lastEventId!,
      });
      await again.ended;
      expect(again.events.map((e) => [e.event, e.data.title])).toEqual([["session.updated", "Meanwhile"]]);
    } finally {
      await short.close();
    }
  });

  it("drops a client that stops reading instead of buffering for it without bound", { timeout: 90_000 }, async () => {
    const ws = await h.seed();
    const sessionId = await newSession(ws);
    const url = new URL(`${h.baseUrl()}${eventsPath(ws, sessionId)}`);
    // A raw connection that sends its request and then reads nothing at all.
    const socket = createConnection({ host: url.hostname, port: Number(url.port) });
    socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${ws.tokens.member}\r\n\r\n`);
    socket.pause();
    socket.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await waitFor(async () => (h.liveHub.openStreams === 1 ? true : undefined), { what: "the stream to open" });
    // Each question is an event of ~8 KB: soon more than the kernel's socket buffers and the 4 KB allowance.
    const content = "x".repeat(8000);
    await waitFor(
      async () => {
        await Promise.all(
          Array.from({ length: 25 }, () =>
            h.http.post(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.admin)).send({ content }),
          ),
        );
        return h.liveHub.openStreams === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1, what: "the server to drop the stalled client" },
    );
    // Reading again, the client finds its connection ended.
    socket.resume();
    await closed;
  });
});
