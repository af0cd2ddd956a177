// A slow or failing pack can be explained from the worker's info-level log lines alone: each LLM retry with its
// reason, each failed lead, a cancellation, a reply's start and end, and each reconciler repair, every line naming
// the pack, lead, message and job it is about; and the worker's own metrics count what operators alert on (time in
// the queue, failed leads, reconciler repairs, stalled jobs). The real worker runtime runs against the fake LLM
// server, on a database of its own (the reconciler acts on every row of its database).
import { Worker } from "bullmq";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createJobQueues, closeJobQueues } from "@insights/shared/jobs/job-queues";
import { createFairShare } from "@insights/shared/jobs/fair-share";
import { createRedis } from "@insights/shared/redis";
import { QUEUES } from "@insights/shared/jobs/queues";
import { reconcile } from "@insights/worker/maintenance/reconcile.handler";
import { createWorkerMetrics, type WorkerMetrics } from "@insights/worker/runtime/metrics";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { createIsolatedDatabase } from "./support/database.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { bearer, createHarness, insertPendingPack, requestPackInNewSession, type Harness, type TestWorkspace } from "./support/harness.ts";
import { fakeLlmProvider, startTestWorker, waitFor } from "./support/worker-harness.ts";

type Line = Record<string, unknown> & { level: number; msg: string };
const INFO = 30;

let database: Awaited<ReturnType<typeof createIsolatedDatabase>>;
let h: Harness;
let fake: FakeLlm;
let worker: WorkerRuntime;
let metrics: WorkerMetrics;
const lines: Line[] = [];
const capture = (name: string) => pino({ name, level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });

beforeAll(async () => {
  database = await createIsolatedDatabase();
  h = createHarness({ databaseUrl: database.url });
  fake = await startFakeLlm();
  // At info, as production runs: what this test reads is what an operator sees.
  metrics = createWorkerMetrics();
  worker = await startTestWorker(
    h,
    fakeLlmProvider(fake, { timeoutMs: 2000, maxRetries: 2 }),
    { llmConcurrency: 2 },
    { logger: capture("worker"), metrics },
  );
});
afterAll(async () => {
  await worker?.close();
  await fake?.close();
  await h?.close();
  await database?.drop();
});

const linesWhere = (fields: Record<string, unknown>, msg?: RegExp) =>
  lines.filter((l) => l.level >= INFO && Object.entries(fields).every(([k, v]) => l[k] === v) && (!msg || msg.test(l.msg)));

const requestPack = (ws: TestWorkspace) => requestPackInNewSession(h, ws);

const packStatus = (ws: TestWorkspace, packId: string) =>
  h.http
    .get(`${ws.base}/insights/packs/${packId}`)
    .set(bearer(ws.tokens.member))
    .then((r) => r.body as { status: string; failures: Array<{ leadId: string }> });

const leadOf = (text: string) => /Lead: (.*)/.exec(text)?.[1];

/** A counter's or a histogram's count for exactly these labels. */
async function countOf(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: object; metricName?: string }> }> },
  labels: Record<string, string> = {},
  suffix = "",
) {
  const { values } = await metric.get();
  return values
    .filter(
      (v) =>
        (!suffix || v.metricName?.endsWith(suffix)) &&
        Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

describe("the worker's log lines", () => {
  it("explain a pack: its run, each retry with its reason, the lead that failed, and the outcome, all by id", async () => {
    const ws = await h.seed({ leads: 4 });
    const names: string[] = [];
    const seen = new Map<string, number>();
    fake.intercept = (req) => {
      if (req.task !== "lead_insight") return undefined;
      const name = leadOf(req.text)!;
      if (!names.includes(name)) names.push(name);
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      // The first lead is rate-limited once; the second always answers off its schema (so it fails for good).
      if (name === names[0] && n === 1) return { status: 429, headers: { "retry-after-ms": "20" } };
      if (name === names[1]) return { content: '{"not": "an insight"}' };
      return undefined;
    };
    const { packId } = await requestPack(ws);
    const pack = await waitFor(
      async () => {
        const p = await packStatus(ws, packId);
        return p.status === "COMPLETE" || p.status === "FAILED" ? p : undefined;
      },
      { timeoutMs: 20_000, what: "the pack to finish" },
    );
    fake.intercept = null;
    expect(pack.status).toBe("COMPLETE");
    const failedLead = pack.failures[0]!.leadId;

    const jobId = `pack-${packId}-g1`;
    // The pack's 4 leads are one chunk, which the pack's own job extracts: its lines name that job.
    expect(linesWhere({ packId, jobId }, /^pack run started/)).toHaveLength(1);
    const retry = linesWhere({ packId, jobId, reason: "429" }, /retrying/);
    expect(retry).toHaveLength(1);
    expect(retry[0]).toMatchObject({ task: "lead_insight", retry: 1, leadId: expect.any(String), delayMs: 20 });
    const malformed = linesWhere({ packId, leadId: failedLead, reason: "malformed" }, /did not match its schema/);
    expect(malformed).toHaveLength(1);
    const failed = linesWhere({ packId, leadId: failedLead, jobId }, /lead failed to summarize/);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toMatch(/did not match the expected shape/);
    expect(linesWhere({ packId, jobId }, /^pack complete/)).toHaveLength(1);

    // The same story in the worker's metrics: one failed lead, and the pack's wait in its queue observed.
    expect(await countOf(metrics.failedLeads)).toBe(1);
    expect(await countOf(metrics.queueWait, { queue: QUEUES.packs }, "_count")).toBeGreaterThanOrEqual(1);
    const waited = await countOf(metrics.queueWait, { queue: QUEUES.packs }, "_sum");
    expect(waited).toBeGreaterThanOrEqual(0);
    expect(waited).toBeLessThan(10);
  });

  it("say when a pack is cancelled", async () => {
    const ws = await h.seed({ leads: 3 });
    fake.intercept = (req) => (req.task === "lead_insight" ? { hang: true } : undefined);
    const { packId } = await requestPack(ws);
    await waitFor(async () => (fake.callsFor("lead_insight") > 0 ? true : undefined), { what: "an extraction in flight" });
    await h.http.delete(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.admin)).expect(200);
    const line = await waitFor(async () => linesWhere({ packId }, /cancelled|ended/)[0], { what: "the cancellation line" });
    expect(line.jobId).toBe(`pack-${packId}-g1`);
    fake.intercept = null;
  });

  it("say when a reply starts and when it ends, with its message and pack", async () => {
    const ws = await h.seed({ leads: 2 });
    const { sessionId, packId } = await requestPack(ws);
    await waitFor(async () => ((await packStatus(ws, packId)).status === "COMPLETE" ? true : undefined), { what: "the pack" });
    const asked = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "Who asked for pricing?" });
    const messageId = asked.body.reply.id as string;
    const finished = await waitFor(async () => linesWhere({ messageId }, /^reply finished/)[0], { what: "the reply's finished line" });
    expect(finished).toMatchObject({ packId, outcome: "complete", jobId: `reply-${messageId}`, llmCalls: 1 });
    expect(linesWhere({ messageId, packId, questionId: asked.body.message.id }, /^reply started/)).toHaveLength(1);
  });

  it("name each row the reconciler repairs", async () => {
    const ws = await h.seed({ leads: 1 });
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    // A PENDING pack whose job never reached Redis (the API crashed between its commit and its enqueue).
    const pack = await insertPendingPack(h, ws, session.body.id as string, new Date(Date.now() - 60_000));
    const redis = createRedis(inject("redisUrl"), { role: "reconcile-test" });
    const queues = createJobQueues(redis, h.prefix);
    const before = await countOf(metrics.reconcilerActions, { job: "pack.build", action: "enqueued" });
    try {
      const packFair = createFairShare({ redis, prefix: h.prefix, queues, queue: "packs", logger: capture("reconcile") });
      const result = await reconcile({ db: h.db, live: h.liveLog, queues, packFair, logger: capture("reconcile"), graceMs: 0, metrics });
      expect(result.enqueued).toBeGreaterThanOrEqual(1);
    } finally {
      await closeJobQueues(queues);
      await redis.quit();
    }
    expect(linesWhere({ packId: pack.id, action: "enqueued", jobState: "missing" }, /^reconciler/)).toMatchObject([
      { job: "pack.build", jobId: `pack-${pack.id}-g${pack.generation}` },
    ]);
    expect(await countOf(metrics.reconcilerActions, { job: "pack.build", action: "enqueued" })).toBeGreaterThan(before);
  });

  it("count and name a job whose worker died holding it (stalled), once, and the job still completes", async () => {
    // Queues of their own, so the file's worker (its lock 30 s) stays out of it.
    const h2 = createHarness({ databaseUrl: database.url });
    const ws = await h2.seed({ leads: 2 });
    // A worker that takes the pack's job and then neither works nor renews its lock: a process frozen or killed.
    const frozenConnection = createRedis(inject("redisUrl"), { role: "worker" });
    const frozen = new Worker(QUEUES.packs, () => new Promise(() => undefined), {
      connection: frozenConnection,
      prefix: h2.prefix,
      lockDuration: 1000,
      skipLockRenewal: true,
      skipStalledCheck: true,
    });
    const session = await h2.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const requested = await h2.http
      .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_90_DAYS" } });
    const packId = requested.body.id as string;
    const jobId = `pack-${packId}-g1`;
    await waitFor(async () => ((await h2.queues.packs.getJobState(jobId)) === "active" ? true : undefined), {
      what: "the frozen worker to hold the job",
    });

    const metrics2 = createWorkerMetrics();
    const rescuer = await startTestWorker(
      h2,
      fakeLlmProvider(fake),
      { lockDurationMs: 1000 },
      { logger: capture("rescuer"), metrics: metrics2 },
    );
    try {
      await waitFor(
        async () => {
          const pack = await h2.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member));
          return pack.body.status === "COMPLETE" ? true : undefined;
        },
        { timeoutMs: 20_000, what: "the rescued pack to complete" },
      );
      expect(await countOf(metrics2.stalledJobs, { queue: QUEUES.packs })).toBe(1);
      expect(linesWhere({ jobId }, /^job stalled/)).toHaveLength(1);
    } finally {
      await rescuer.close();
      await frozen.close(true);
      await frozenConnection.quit();
      await h2.close();
    }
  });
});
