// Live session events across real processes: two API processes and a worker, as `npm run start:*` runs them, on
// this run's database and a queue prefix of this file's own. Streams move between API processes, workers die.
import { inject } from "vitest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { startService, waitForOutput, type ServiceProcess } from "./support/processes.ts";
import { startApiProcess } from "./support/pack-processes.ts";
import { SseClient, type LiveEvent } from "./support/sse-client.ts";
import { SHARED_DATABASE_SAFE } from "./support/worker-harness.ts";

const h = createHarness();
let fake: FakeLlm;
let apis: Array<{ proc: ServiceProcess; url: string }> = [];
let worker: ServiceProcess;
const clients: SseClient[] = [];

// Every line a request can produce, so the token check below reads them all.
const startApi = () => startApiProcess(h.prefix, { LOG_LEVEL: "trace" });

async function startWorker() {
  const proc = startService("worker", {
    DATABASE_URL: inject("databaseUrl"),
    REDIS_URL: inject("redisUrl"),
    QUEUE_PREFIX: h.prefix,
    OPENAI_API_KEY: "test-key",
    OPENAI_BASE_URL: fake.baseURL,
    LLM_RETRY_BASE_MS: "10",
    PROGRESS_INTERVAL_MS: "50",
    JOB_LOCK_MS: "2000",
    RECONCILE_GRACE_MS: String(SHARED_DATABASE_SAFE.reconcileGraceMs),
    SESSION_RETENTION_DAYS: "3650",
  });
  await waitForOutput(proc, /worker started/);
  return proc;
}

beforeAll(async () => {
  fake = await startFakeLlm();
  [apis, worker] = await Promise.all([Promise.all([startApi(), startApi()]), startWorker()]);
}, 60_000);
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  fake.reset();
});
afterAll(async () => {
  await Promise.all([...apis.map((a) => a.proc.kill("SIGKILL")), worker.kill("SIGKILL")]);
  await fake.close();
  await h.close();
});

async function call(api: number, method: string, path: string, token: string, body?: object) {
  const res = await fetch(`${apis[api]!.url}${path}`, {
    method,
    headers: { ...bearer(token), "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it checks
  return { status: res.status, body: (await res.json()) as any };
}

async function connect(api: number, ws: TestWorkspace, sessionId: string, token: string, headers: Record<string, string> = {}) {
  const client = await SseClient.open(`${apis[api]!.url}${ws.base}/insights/sessions/${sessionId}/events`, {
    ...bearer(token),
    ...headers,
  });
  clients.push(client);
  return client;
}

async function sessionOf(ws: TestWorkspace): Promise<string> {
  return (await call(0, "POST", `${ws.base}/insights/sessions`, ws.tokens.member, {})).body.id;
}

async function requestPack(ws: TestWorkspace, sessionId: string): Promise<string> {
  const res = await call(0, "POST", `${ws.base}/insights/sessions/${sessionId}/packs`, ws.tokens.member, {
    window: { preset: "LAST_90_DAYS" },
  });
  expect(res.status).toBe(202);
  return res.body.id;
}

/** A session whose pack is COMPLETE, a stream on it through `api` that saw it complete, and the model's next answer set. */
async function streamOnAnsweringSession(leads: number, api: number, as: "member" | "admin", answer: string) {
  const ws = await h.seed({ leads });
  const sessionId = await sessionOf(ws);
  const packId = await requestPack(ws, sessionId);
  const client = await connect(api, ws, sessionId, ws.tokens[as]);
  await client.waitFor(packDone(packId), "the pack to complete");
  fake.respond("chat_answer", () => ({ answer, citedLeadIds: [], suggestedActions: [] }));
  return { ws, sessionId, client };
}

const packDone = (packId: string) => (e: LiveEvent) => e.event === "pack.updated" && e.data.id === packId && e.data.status === "COMPLETE";
const withoutSnapshots = (events: LiveEvent[]) => events.filter((e) => e.event !== "session.snapshot");
const deltasOf = (events: LiveEvent[], messageId: string) =>
  events.filter((e) => e.event === "message.delta" && e.data.messageId === messageId);

describe("live session events across API processes and workers", () => {
  it("a client that drops mid-pack and resumes through the other API process gets exactly the events of one that stayed", {
    timeout: 60_000,
  }, async () => {
    const ws = await h.seed({ leads: 30 });
    const sessionId = await sessionOf(ws);
    const stayed = await connect(0, ws, sessionId, ws.tokens.member);
    const dropped = await connect(0, ws, sessionId, ws.tokens.admin);
    await Promise.all([stayed, dropped].map((c) => c.waitFor((e) => e.event === "session.snapshot", "the snapshot")));
    fake.latencyMs = 20;
    const packId = await requestPack(ws, sessionId);
    await dropped.waitFor((e) => e.event === "pack.updated" && e.data.progress.processedLeads > 0, "progress");
    dropped.close();
    await dropped.ended;

    const resumed = await connect(1, ws, sessionId, ws.tokens.admin, { "Last-Event-ID": dropped.lastEventId! });
    await Promise.all([
      resumed.waitFor(packDone(packId), "the resumed client to see the pack complete"),
      stayed.waitFor(packDone(packId), "the pack to complete"),
    ]);
    expect(resumed.events[0]!.event).toBe("pack.updated");
    const progressEvents = withoutSnapshots(stayed.events).filter((e) => e.event === "pack.updated");
    expect(progressEvents.length).toBeGreaterThan(3);
    expect([...withoutSnapshots(dropped.events), ...resumed.events]).toEqual(withoutSnapshots(stayed.events));
  });

  it("a second member sees the first member's question live on another API process, and the answer's pieces add up to what is stored", {
    timeout: 60_000,
  }, async () => {
    const answer = `A streamed answer across processes: ${"many words ".repeat(20)}done.`;
    const { ws, sessionId, client: second } = await streamOnAnsweringSession(4, 1, "admin", answer);
    fake.streamChunkChars = 5;

    const asked = await call(0, "POST", `${ws.base}/insights/sessions/${sessionId}/messages`, ws.tokens.member, {
      content: "What did they say?",
    });
    expect(asked.status).toBe(201);
    const question = await second.waitFor((e) => e.event === "message.created" && e.data.role === "USER", "the question");
    expect(question.data).toMatchObject({ id: asked.body.message.id, content: "What did they say?", author: { id: ws.users.member.id } });
    const replyId = asked.body.reply.id as string;
    const final = await second.waitFor((e) => e.event === "message.updated" && e.data.id === replyId, "the answer");
    expect(final.data).toMatchObject({ status: "COMPLETE", content: answer });
    const deltas = deltasOf(second.events, replyId);
    const attempt = deltas.at(-1)!.data.attempt;
    expect(
      deltas
        .filter((d) => d.data.attempt === attempt)
        .map((d) => d.data.text)
        .join(""),
    ).toBe(answer);
    const listed = await call(1, "GET", `${ws.base}/insights/sessions/${sessionId}/messages`, ws.tokens.admin);
    expect(listed.body.messages.find((m: { id: string }) => m.id === replyId).content).toBe(answer);

    // An outsider cannot open it, through either process.
    for (const api of [0, 1]) expect((await connect(api, ws, sessionId, ws.tokens.outsider)).status).toBe(404);
  });

  it("a worker killed mid-answer leads to a new attempt and exactly one final message", { timeout: 90_000 }, async () => {
    const answer = `The answer after a crash: ${"word ".repeat(60)}end.`;
    const { ws, sessionId, client } = await streamOnAnsweringSession(3, 0, "member", answer);
    fake.streamChunkChars = 4;
    fake.streamChunkDelayMs = 100; // ~8 s for the whole answer: the worker dies well before it ends

    const asked = await call(1, "POST", `${ws.base}/insights/sessions/${sessionId}/messages`, ws.tokens.member, {
      content: "Tell me everything",
    });
    const replyId = asked.body.reply.id as string;
    await client.waitFor((e) => e.event === "message.delta" && e.data.messageId === replyId, "the first piece");
    await worker.kill("SIGKILL");
    fake.streamChunkDelayMs = 0;
    worker = await startWorker();

    const final = await client.waitFor((e) => e.event === "message.updated" && e.data.id === replyId, "the answer after the crash", 60_000);
    expect(final.data).toMatchObject({ status: "COMPLETE", content: answer });
    const deltas = deltasOf(client.events, replyId);
    const firstAttempt = deltas[0]!.data.attempt as number;
    const lastAttempt = deltas.at(-1)!.data.attempt as number;
    expect(lastAttempt).toBeGreaterThan(firstAttempt);
    expect(
      deltas
        .filter((d) => d.data.attempt === lastAttempt)
        .map((d) => d.data.text)
        .join(""),
    ).toBe(answer);
    // Attempts only go up in the stream.
    const attempts = deltas.map((d) => d.data.attempt as number);
    expect(attempts).toEqual([...attempts].sort((a, b) => a - b));
    // One final message: a later event (a rename) marks the point by which a duplicate would have shown up.
    await call(0, "PATCH", `${ws.base}/insights/sessions/${sessionId}`, ws.tokens.member, { title: "Marker" });
    await client.waitFor((e) => e.event === "session.updated", "the marker");
    expect(client.events.filter((e) => e.event === "message.updated" && e.data.id === replyId)).toHaveLength(1);
  });

  it("never writes a ?access_token= token to a log line, and SIGTERM closes streams cleanly for them to resume elsewhere", {
    timeout: 60_000,
  }, async () => {
    const ws = await h.seed();
    const sessionId = await sessionOf(ws);
    const url = (api: number, token: string) => `${apis[api]!.url}${ws.base}/insights/sessions/${sessionId}/events?access_token=${token}`;
    const forged = `${ws.tokens.member.slice(0, -6)}AAAAAA`;
    const viaQuery = [await SseClient.open(url(0, ws.tokens.member)), await SseClient.open(url(1, ws.tokens.member))];
    clients.push(...viaQuery);
    expect(viaQuery.map((c) => c.status)).toEqual([200, 200]);
    expect((await SseClient.open(url(0, forged))).status).toBe(401);
    await Promise.all(viaQuery.map((c) => c.waitFor((e) => e.event === "session.snapshot", "the snapshot")));

    // A change while both are open, then API 1 stops.
    await call(0, "PATCH", `${ws.base}/insights/sessions/${sessionId}`, ws.tokens.member, { title: "Before the restart" });
    await viaQuery[1]!.waitFor((e) => e.event === "session.updated", "the rename");
    const exited = apis[1]!.proc.kill("SIGTERM");
    await viaQuery[1]!.ended;
    expect(viaQuery[1]!.comments.some((c) => c.includes("the server is restarting"))).toBe(true);
    expect(await exited).toBe(0);

    // The client resumes on the other process and misses nothing that happened meanwhile.
    await call(0, "PATCH", `${ws.base}/insights/sessions/${sessionId}`, ws.tokens.member, { title: "After the restart" });
    const resumed = await connect(0, ws, sessionId, ws.tokens.member, { "Last-Event-ID": viaQuery[1]!.lastEventId! });
    const renamed = await resumed.waitFor((e) => e.event === "session.updated", "the rename made while it was away");
    expect(renamed.data.title).toBe("After the restart");
    expect(resumed.events[0]).toBe(renamed);

    for (const api of apis) {
      const output = api.proc.output();
      expect(output).toContain(sessionId); // the request lines are there...
      expect(output).not.toContain(ws.tokens.member); // ...the tokens are not
      expect(output).not.toContain(forged);
    }
    apis[1] = await startApi();
  });
});
