// Many workspaces, many workers, on real worker processes: one pack's chunks spread over every process, a process
// killed mid-chunk loses nothing, a big workspace's backlog does not hold up a small workspace's pack, and a reply is
// answered while every extraction slot is busy.
import { UnrecoverableError, Worker } from "bullmq";
import { describe, expect, inject, it } from "vitest";
import { QUEUES } from "@insights/shared/jobs/queues";
import { createRedis } from "@insights/shared/redis";
import { bearer, requestPackInNewSession, type TestWorkspace } from "./support/harness.ts";
import {
  expectMonotonic,
  extractionCallsByLead,
  seedNamed,
  useWorkerProcesses,
  watchPack,
  type Progress,
} from "./support/pack-processes.ts";
import type { ServiceProcess } from "./support/processes.ts";
import { waitFor } from "./support/worker-harness.ts";

const { h, fake, startWorker } = await useWorkerProcesses();

const CHUNK = 20;
const requestPack = async (ws: TestWorkspace) => (await requestPackInNewSession(h, ws)).packId;

async function startWorkers(n: number): Promise<ServiceProcess[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      startWorker({ JOB_LOCK_MS: "2000", PACK_CHUNK_SIZE: String(CHUNK), CHUNK_CONCURRENCY: "2", LLM_CONCURRENCY: "4" }),
    ),
  );
}

/** The leads of `packId` each process logged as extracted in its chunks. */
function chunkLeadsBy(worker: ServiceProcess, packId: string): number {
  let leads = 0;
  for (const line of worker.output().split("\n")) {
    if (!line.includes('"chunk done"') || !line.includes(packId)) continue;
    leads += (JSON.parse(line) as { leads: number }).leads;
  }
  return leads;
}

/** The leads in each of the pack's chunks, in chunk order. */
async function chunkSizesOf(packId: string): Promise<number[]> {
  const chunks = await h.db.insightContextPackChunk.findMany({ where: { packId }, orderBy: { index: "asc" } });
  return chunks.map((c) => c.toPosition - c.fromPosition + 1);
}

async function expectExactlyOnce(ws: TestWorkspace, packId: string, leads: number) {
  const calls = await extractionCallsByLead(h, fake, ws);
  expect(calls.size).toBe(leads);
  expect([...calls.values()].every((n) => n === 1)).toBe(true);
  expect(await h.db.leadConversationInsight.count({ where: { clientId: ws.workspaceId } })).toBe(leads);
  expect(await h.db.insightLlmUsage.count({ where: { packId, kind: "EXTRACTION" } })).toBe(leads);
  expect(await h.db.insightLlmUsage.count({ where: { packId, kind: "SYNTHESIS" } })).toBe(1);
}

describe("one pack on three worker processes", () => {
  it("is extracted in chunks by all three, every lead once, with one synthesis and progress that never goes back", {
    timeout: 90_000,
  }, async () => {
    const ws = await seedNamed(h, 240);
    fake.latencyMs = 50;
    const procs = await startWorkers(3);
    const packId = await requestPack(ws);
    const seen: Progress[] = [];
    const done = await watchPack(h, ws, packId, seen, (p) => p.status === "COMPLETE", 60_000);
    expect(done.progress).toMatchObject({ totalLeads: 240, processedLeads: 240, failedLeads: 0, percent: 100 });
    expectMonotonic(seen);

    const byProcess = procs.map((w) => chunkLeadsBy(w, packId));
    for (const leads of byProcess) expect(leads).toBeGreaterThan(0);
    expect(byProcess.reduce((a, b) => a + b, 0)).toBe(240);
    await expectExactlyOnce(ws, packId, 240);
    expect(fake.callsFor("pack_synthesis")).toBe(1);
    // Three processes of 2 chunk slots could use chunks smaller than PACK_CHUNK_SIZE: chunks of 20, the last
    // quarter in chunks of 4.
    expect(await chunkSizesOf(packId)).toEqual([...Array(9).fill(20), ...Array(15).fill(4)]);
  });

  it("is taken by a lone process in two chunks per chunk slot, larger than PACK_CHUNK_SIZE", { timeout: 90_000 }, async () => {
    const ws = await seedNamed(h, 240);
    fake.latencyMs = 5;
    await startWorkers(1);
    const packId = await requestPack(ws);
    await watchPack(h, ws, packId, [], (p) => p.status === "COMPLETE", 60_000);
    expect(await chunkSizesOf(packId)).toEqual(Array(4).fill(60));
    await expectExactlyOnce(ws, packId, 240);
  });

  it("loses nothing when one process is killed mid-chunk: the others finish, no summarized lead is summarized again", {
    timeout: 90_000,
  }, async () => {
    const ws = await seedNamed(h, 200);
    fake.latencyMs = 100;
    const [victim] = await startWorkers(3);
    const packId = await requestPack(ws);
    const seen: Progress[] = [];
    await watchPack(h, ws, packId, seen, (p) => p.progress.processedLeads >= 40);
    await waitFor(async () => (chunkLeadsBy(victim!, packId) > 0 ? true : undefined), { what: "the victim to have done a chunk" });

    await victim!.kill("SIGKILL");
    const extractedAtKill = (
      await h.db.insightContextPackLead.findMany({ where: { packId, status: "EXTRACTED" }, select: { leadId: true } })
    ).map((r) => r.leadId);

    const done = await watchPack(h, ws, packId, seen, (p) => p.status !== "PENDING" && p.status !== "RUNNING", 60_000);
    expect(done.status).toBe("COMPLETE");
    expect(done.progress).toMatchObject({ totalLeads: 200, processedLeads: 200, failedLeads: 0 });
    expectMonotonic(seen);
    const calls = await extractionCallsByLead(h, fake, ws);
    for (const leadId of extractedAtKill) expect(calls.get(leadId), leadId).toBe(1);
    // At most the calls in flight were repeated: the killed process's, and (when it held the pack job) the others'.
    expect(fake.callsFor("lead_insight")).toBeLessThanOrEqual(200 + 3 * 4);
    expect(await h.db.insightLlmUsage.count({ where: { packId, kind: "EXTRACTION" } })).toBe(200);
    expect(await h.db.insightLlmUsage.count({ where: { packId, kind: "SYNTHESIS" } })).toBe(1);
    expect(fake.callsFor("pack_synthesis")).toBe(1);
  });
});

describe("a big workspace's backlog", () => {
  it("neither makes a small workspace's pack wait for it to drain nor holds up a reply", { timeout: 120_000 }, async () => {
    fake.latencyMs = 50;
    await startWorkers(2);
    const small = await seedNamed(h, 20);
    const otherSmall = await seedNamed(h, 20);
    const big = await seedNamed(h, 200);

    // Idle figures first: the small pack alone, then a reply from it.
    let started = Date.now();
    const first = await requestPack(small);
    const firstDone = await watchPack(h, small, first, [], (p) => p.status === "COMPLETE");
    const packAlone = Date.now() - started;
    started = Date.now();
    const replyId = await ask(small, firstDone.sessionId);
    await waitForReply(small, firstDone.sessionId, replyId);
    const replyAlone = Date.now() - started;

    // Four 200-lead packs of the big workspace, 40 chunks: far more than the 4 chunk slots of the two processes.
    const bigPacks = await Promise.all(Array.from({ length: 4 }, () => requestPack(big)));
    await waitFor(
      async () =>
        (await h.db.insightContextPackLead.count({ where: { packId: { in: bigPacks }, status: "EXTRACTED" } })) >= 20 ? true : undefined,
      { what: "the big workspace's packs to be extracting" },
    );

    started = Date.now();
    const replyUnderLoad = await ask(small, firstDone.sessionId);
    await waitForReply(small, firstDone.sessionId, replyUnderLoad);
    const replyLoaded = Date.now() - started;

    started = Date.now();
    const second = await requestPack(otherSmall);
    await watchPack(h, otherSmall, second, [], (p) => p.status === "COMPLETE");
    const packLoaded = Date.now() - started;
    const bigLeft = await h.db.insightContextPackLead.count({ where: { packId: { in: bigPacks }, status: "PENDING" } });

    // Served in turn with the backlog, not after it: most of the big workspace's 800 leads were still waiting.
    expect(bigLeft).toBeGreaterThan(400);
    // The bound: a few of the backlog's chunks ahead of it at most (each 20 leads, ~250 ms on 4 lanes), plus the pack's own time.
    expect(packLoaded, `alone ${packAlone} ms`).toBeLessThan(packAlone * 3 + 2000);
    expect(replyLoaded, `idle ${replyAlone} ms`).toBeLessThan(replyAlone * 3 + 1000);
    for (const packId of bigPacks) await watchPack(h, big, packId, [], (p) => p.status === "COMPLETE", 60_000);
  });
});

describe("a chunk job lost from Redis", () => {
  it("is given again by the waiting pack job, and the pack completes with every lead once", { timeout: 60_000 }, async () => {
    // Three chunk slots (six chunks of 10) and one call at a time with a slow model: two of the pack's chunk jobs
    // wait in the queue long enough to lose one.
    await startWorker({ PACK_CHUNK_SIZE: "5", CHUNK_CONCURRENCY: "3", LLM_CONCURRENCY: "1", RECONCILE_INTERVAL_MS: "500" });
    fake.latencyMs = 100;
    const ws = await seedNamed(h, 60);
    const packId = await requestPack(ws);
    const waiting = await waitFor(async () => {
      const jobs = (await h.queues.packChunks.getJobs(["prioritized", "waiting"])).filter((j) => j.data.packId === packId);
      return jobs.length >= 2 ? jobs : undefined;
    });
    // What a Redis that lost data (a restart without persistence) leaves: the chunk's row, and no job for it.
    await waiting[0]!.remove();
    await watchPack(h, ws, packId, [], (p) => p.status === "COMPLETE", 50_000);
    await expectExactlyOnce(ws, packId, 60);
  });
});

describe("a chunk job that failed for good while its worker could not record it", () => {
  it("fails the pack, with the chunk's reason and its pack.failed webhook", { timeout: 60_000 }, async () => {
    // As above: two of the pack's chunk jobs wait in the queue long enough to take one.
    await startWorker({ PACK_CHUNK_SIZE: "5", CHUNK_CONCURRENCY: "3", LLM_CONCURRENCY: "1", RECONCILE_INTERVAL_MS: "500" });
    fake.latencyMs = 100;
    const ws = await seedNamed(h, 60);
    await h.http
      .put(`${ws.base}/insights/webhooks`)
      .set(bearer(ws.tokens.owner))
      .send({ url: "http://127.0.0.1:9/hook", events: ["pack.failed"] })
      .expect(200);
    const packId = await requestPack(ws);
    await waitFor(async () => {
      const jobs = (await h.queues.packChunks.getJobs(["prioritized", "waiting"])).filter((j) => j.data.packId === packId);
      return jobs.length >= 2 ? true : undefined;
    });
    // A chunk job's last attempt fails, and nothing of this process writes that down: what a worker leaves when the
    // database refused its final-failure write.
    const connection = createRedis(inject("redisUrl"), { role: "scheduling-test" });
    const taker = new Worker(QUEUES.packChunks, null, { connection, prefix: h.prefix, autorun: false });
    try {
      const job = await taker.getNextJob("test-token");
      expect(job?.data.packId).toBe(packId);
      await job!.moveToFailed(new UnrecoverableError("the chunk's worker ran out of memory"), "test-token");
    } finally {
      await taker.close();
      await connection.quit();
    }
    const pack = await watchPack(h, ws, packId, [], (p) => p.status === "FAILED", 30_000);
    expect(pack).toMatchObject({ status: "FAILED", error: "a chunk of the pack failed: the chunk's worker ran out of memory" });
    const deliveries = await h.db.insightWebhookDelivery.findMany({ where: { clientId: ws.workspaceId, subjectId: packId } });
    expect(deliveries.map((d) => d.type)).toEqual(["pack.failed"]);
  });
});

describe("the pack queue", () => {
  it("serves a workspace's pack in turn with another workspace's queued packs, not after all of them", { timeout: 60_000 }, async () => {
    // One pack job at a time, so the order packs start in is the order they finish in.
    await startWorker({ PACK_CONCURRENCY: "1", PACK_CHUNK_SIZE: String(CHUNK) });
    fake.latencyMs = 20;
    const busy = await seedNamed(h, 20);
    const other = await seedNamed(h, 20);
    const busyPacks: string[] = [];
    for (let i = 0; i < 6; i++) busyPacks.push(await requestPack(busy));
    const otherPack = await requestPack(other);
    const all = [...busyPacks, otherPack];
    await waitFor(
      async () =>
        (await h.db.insightContextPack.count({ where: { id: { in: all }, status: "COMPLETE" } })) === all.length ? true : undefined,
      { timeoutMs: 50_000, what: "every pack to complete" },
    );
    const finished = await h.db.insightContextPack.findMany({
      where: { id: { in: all } },
      orderBy: { completedAt: "asc" },
      select: { id: true },
    });
    // First in, first out would finish it last (7th). Fairly, it lands right behind the busy workspace's next one.
    expect(finished.findIndex((p) => p.id === otherPack)).toBeLessThanOrEqual(2);
  });
});

async function ask(ws: TestWorkspace, sessionId: string): Promise<string> {
  const res = await h.http
    .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
    .set(bearer(ws.tokens.member))
    .send({ content: "Who asked for pricing?" });
  expect(res.status).toBe(201);
  return res.body.reply.id as string;
}

async function waitForReply(ws: TestWorkspace, sessionId: string, replyId: string) {
  return waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.member));
      const reply = (res.body.messages as Array<{ id: string; status: string }>).find((m) => m.id === replyId);
      return reply?.status === "COMPLETE" ? reply : undefined;
    },
    { what: `reply ${replyId}` },
  );
}
