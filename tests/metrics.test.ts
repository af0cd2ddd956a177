// Metrics and request logs: the API's /metrics, the worker's own metrics server, and the log lines that tie a
// request or a job to its id. This file runs on a database of its own, so pack and ledger counts are exact.
import { createServer, type Server } from "node:net";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiMetrics } from "@insights/api/ops/metrics";
import { enqueue, closeJobQueues, createJobQueues } from "@insights/shared/jobs/job-queues";
import { QUEUES } from "@insights/shared/jobs/queues";
import { createLogger, type Logger } from "@insights/shared/logger";
import { createOpenAiProvider } from "@insights/worker/llm/openai-provider";
import type { LlmProvider } from "@insights/worker/llm/provider";
import { unlimited } from "@insights/worker/llm/rate-limit";
import { startMetricsServer } from "@insights/worker/runtime/metrics-server";
import { createWorkerMetrics, type WorkerMetrics } from "@insights/worker/runtime/metrics";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { createIsolatedDatabase } from "./support/database.ts";
import { startFakeLlm, USAGE, type FakeLlm } from "./support/fake-llm.ts";
import { bearer, createHarness, type Harness, type TestWorkspace } from "./support/harness.ts";
import { startTestWorker, waitFor } from "./support/worker-harness.ts";

let database: Awaited<ReturnType<typeof createIsolatedDatabase>>;
const METRICS_TOKEN = "metrics-token-0123456789";

const logLines: Array<Record<string, unknown>> = [];
const captureLogger = (name: string): Logger =>
  pino({ name, level: "debug" }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });

let h: Harness;
let ws: TestWorkspace;
let fake: FakeLlm;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  database = await createIsolatedDatabase();
  h = createHarness({ databaseUrl: database.url, logger: captureLogger("api-test") });
  cleanups.push(() => h.close());
  fake = await startFakeLlm();
  cleanups.push(() => fake.close());
  ws = await h.seed({ leads: 4 });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await database?.drop();
});

/** The value of one sample in Prometheus text: the sum over series whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) total = (total ?? 0) + Number(match[3]);
  }
  return total;
}

const scrape = async () => {
  const res = await h.http.get("/metrics");
  expect(res.status).toBe(200);
  return res.text;
};

async function requestPack(window: string): Promise<string> {
  const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  const pack = await h.http
    .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
    .set(bearer(ws.tokens.member))
    .send({ window: { preset: window } });
  expect(pack.status).toBe(202);
  return pack.body.id as string;
}

function fakeProvider(metrics: WorkerMetrics, timeoutMs = 5000): LlmProvider {
  return createOpenAiProvider({
    apiKey: "test-key",
    baseURL: fake.baseURL,
    timeoutMs,
    retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 100 },
    malformedRetries: 1,
    rateLimiter: unlimited,
    metrics: metrics.llm,
  });
}

/** The test worker, observed through these metrics and this logger; closed at the end if a test did not. */
async function startWorker(metrics: WorkerMetrics, logger: Logger): Promise<WorkerRuntime> {
  const runtime = await startTestWorker(h, fakeProvider(metrics), {}, { logger, metrics });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= runtime.close());
  cleanups.push(close);
  return { close };
}

describe("API /metrics", () => {
  it("labels request durations with the route pattern, never with a workspace or session id", async () => {
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    expect((await h.http.get(`${ws.base}/insights/sessions/${session.body.id}`).set(bearer(ws.tokens.member))).status).toBe(200);
    expect((await h.http.get(`${ws.base}/insights/sessions/no-such-session`).set(bearer(ws.tokens.member))).status).toBe(404);

    const text = await scrape();
    const route = "/v1/workspaces/{workspaceId}/insights/sessions/{sessionId}";
    expect(sample(text, "http_request_duration_seconds_count", { method: "GET", route, status: "200" })).toBe(1);
    expect(sample(text, "http_request_duration_seconds_count", { method: "GET", route, status: "404" })).toBe(1);
    expect(
      sample(text, "http_request_duration_seconds_count", {
        method: "POST",
        route: "/v1/workspaces/{workspaceId}/insights/sessions",
        status: "201",
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(ws.workspaceId);
    expect(text).not.toContain(session.body.id);
    expect(text).not.toContain("no-such-session");
  });

  it("reports each queue's jobs by state, read from Redis when scraped", async () => {
    await enqueue(h.queues, "buildPack", { packId: "metrics-queued-pack", generation: 1 });
    const text = await scrape();
    expect(sample(text, "insights_queue_jobs", { queue: QUEUES.packs, state: "waiting" })).toBe(1);
    for (const queue of Object.values(QUEUES)) {
      expect(sample(text, "insights_queue_jobs", { queue, state: "active" }), queue).toBe(0);
    }
    expect(sample(text, "insights_metrics_source_up", { source: "queues" })).toBe(1);
    await h.queues.packs.obliterate({ force: true });
  });

  it("counts packs by status from Postgres", async () => {
    const before = await scrape();
    const complete = await requestPack("LAST_7_DAYS");
    await requestPack("LAST_30_DAYS");
    await h.db.insightContextPack.update({ where: { id: complete }, data: { status: "COMPLETE", stage: "DONE" } });

    const text = await scrape();
    const delta = (status: string) => sample(text, "insights_packs", { status })! - sample(before, "insights_packs", { status })!;
    expect(delta("PENDING")).toBe(1);
    expect(delta("COMPLETE")).toBe(1);
    expect(delta("FAILED")).toBe(0);
    expect(sample(text, "insights_packs", { status: "CANCELLED" })).toBeGreaterThanOrEqual(0);
    await h.queues.packs.obliterate({ force: true });
  });

  it("exposes the usage ledger's calls and tokens by kind as counters", async () => {
    const before = await scrape();
    await h.db.insightLlmUsage.createMany({
      data: [
        { clientId: ws.workspaceId, kind: "EXTRACTION", llmCalls: 3, inputTokens: 300, outputTokens: 30 },
        { clientId: ws.workspaceId, kind: "ANSWER", llmCalls: 1, inputTokens: 50, outputTokens: 5 },
        { clientId: ws.workspaceId, kind: "CACHE_REUSE", savedInputTokens: 900, savedOutputTokens: 90 },
      ],
    });
    const text = await scrape();
    const delta = (name: string, labels: Record<string, string>) => (sample(text, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    expect(text).toContain("# TYPE insights_llm_ledger_tokens_total counter");
    expect(delta("insights_llm_ledger_calls_total", { kind: "EXTRACTION" })).toBe(3);
    expect(delta("insights_llm_ledger_tokens_total", { kind: "EXTRACTION", direction: "input" })).toBe(300);
    expect(delta("insights_llm_ledger_tokens_total", { kind: "ANSWER", direction: "output" })).toBe(5);
    expect(delta("insights_llm_ledger_saved_tokens_total", { kind: "CACHE_REUSE", direction: "input" })).toBe(900);
    expect(sample(text, "insights_llm_ledger_calls_total", { kind: "SYNTHESIS" })).toBeDefined();
  });

  it("answers within its timeout, marking the queue source down, when Redis does not answer", async () => {
    // A server that accepts connections and never replies: commands wait instead of failing.
    const blackHole: Server = createServer(() => {});
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    const port = (blackHole.address() as { port: number }).port;
    const stuck = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: null, lazyConnect: false });
    stuck.on("error", () => undefined);
    const queues = createJobQueues(stuck, h.prefix);
    for (const queue of Object.values(queues)) queue.on("error", () => undefined);
    try {
      const metrics = createApiMetrics({ db: h.db, queues, sourceTimeoutMs: 300 });
      const started = Date.now();
      const text = await metrics.registry.metrics();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(sample(text, "insights_metrics_source_up", { source: "queues" })).toBe(0);
      expect(sample(text, "insights_metrics_source_up", { source: "packs" })).toBe(1);
      expect(sample(text, "insights_queue_jobs")).toBeUndefined();
    } finally {
      stuck.disconnect();
      void closeJobQueues(queues).catch(() => undefined);
      blackHole.close();
    }
  });

  it("requires the bearer token when METRICS_TOKEN is set", async () => {
    const guarded = createHarness({ databaseUrl: database.url, metricsToken: METRICS_TOKEN });
    await guarded.seed(); // waits for its Redis connection, so close() can quit it
    try {
      const anonymous = await guarded.http.get("/metrics");
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error).toMatchObject({ code: "UNAUTHENTICATED", requestId: expect.any(String) });
      expect((await guarded.http.get("/metrics").set(bearer("metrics-token-wrong-value!"))).status).toBe(401);
      const allowed = await guarded.http.get("/metrics").set(bearer(METRICS_TOKEN));
      expect(allowed.status).toBe(200);
      expect(allowed.headers["content-type"]).toMatch(/^text\/plain/);
    } finally {
      await guarded.close();
    }
  });

  it("is open to a scrape without credentials when METRICS_TOKEN is unset", async () => {
    const res = await h.http.get("/metrics");
    expect(res.status).toBe(200);
    expect(res.text).toContain("# TYPE http_request_duration_seconds histogram");
  });
});

describe("API request logs", () => {
  it("logs one line per request with its request id, method, route pattern, status and duration", async () => {
    const res = await h.http.get(`${ws.base}/insights/preferences`).set(bearer(ws.tokens.member)).set("X-Request-Id", "trace-log-line-1");
    expect(res.status).toBe(200);
    const line = await waitFor(async () => logLines.find((l) => l.requestId === "trace-log-line-1" && l.msg === "request"), {
      what: "the request's log line",
    });
    expect(line).toMatchObject({
      level: 30,
      method: "GET",
      route: "/v1/workspaces/{workspaceId}/insights/preferences",
      status: 200,
      workspaceId: ws.workspaceId,
    });
    expect(line.durationMs).toEqual(expect.any(Number));
    expect(logLines.filter((l) => l.requestId === "trace-log-line-1" && l.msg === "request")).toHaveLength(1);
  });
});

describe("worker metrics", () => {
  it("times each job by name and outcome, and each LLM call by task, with the tokens it used", async () => {
    const metrics = createWorkerMetrics();
    const worker = await startWorker(metrics, createLogger("metrics-test-worker", "silent"));
    fake.reset();
    const packId = await requestPack("LAST_90_DAYS");
    await waitFor(
      async () => {
        const pack = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: packId } });
        return pack.status === "COMPLETE" ? pack : undefined;
      },
      { what: "the pack to complete" },
    );
    await worker.close();

    const text = await metrics.registry.metrics();
    const extractions = fake.callsFor("lead_insight");
    expect(extractions).toBeGreaterThan(0);
    expect(sample(text, "insights_job_duration_seconds_count", { queue: QUEUES.packs, job: "pack.build", outcome: "completed" })).toBe(1);
    expect(sample(text, "insights_llm_call_duration_seconds_count", { task: "lead_insight", outcome: "ok" })).toBe(extractions);
    expect(sample(text, "insights_llm_call_duration_seconds_count", { task: "pack_synthesis", outcome: "ok" })).toBe(1);
    expect(sample(text, "insights_llm_tokens_total", { task: "lead_insight", direction: "input" })).toBe(extractions * USAGE.prompt_tokens);
    expect(sample(text, "insights_llm_tokens_total", { task: "lead_insight", direction: "output" })).toBe(
      extractions * USAGE.completion_tokens,
    );
    expect(text).not.toContain(packId);
    expect(text).not.toContain(ws.workspaceId);
  });

  it("counts LLM errors by kind: 429, 5xx, timeout and a malformed answer", async () => {
    const metrics = createWorkerMetrics();
    const llm = fakeProvider(metrics, 300);
    fake.reset();
    fake.script(
      "lead_insight",
      { status: 429, headers: { "retry-after-ms": "10" } },
      { status: 503 },
      { hang: true },
      { content: "not json" },
    );
    const thread = {
      leadId: "lead-1",
      leadName: "Ana",
      campaignName: null,
      messages: [{ direction: "INBOUND" as const, body: "Send pricing", sentAt: new Date() }],
    };
    await llm.extractLeadInsight(thread, { model: "gpt-test", reasoningEffort: "low", signal: new AbortController().signal });

    const text = await metrics.registry.metrics();
    for (const kind of ["429", "5xx", "timeout", "malformed"]) {
      expect(sample(text, "insights_llm_errors_total", { task: "lead_insight", kind }), kind).toBe(1);
    }
    expect(sample(text, "insights_llm_call_duration_seconds_count", { task: "lead_insight", outcome: "timeout" })).toBe(1);
    // The malformed answer was a successful HTTP call; the retry after it succeeded too.
    expect(sample(text, "insights_llm_call_duration_seconds_count", { task: "lead_insight", outcome: "ok" })).toBe(2);
  });

  it("puts the job id on the pack handler's log lines", async () => {
    const metrics = createWorkerMetrics();
    const workerLines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { name: "worker", level: "info" },
      { write: (line: string) => void workerLines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const worker = await startWorker(metrics, logger);
    const packId = await requestPack("LAST_7_DAYS");
    const line = await waitFor(async () => workerLines.find((l) => l.packId === packId && l.msg === "pack complete"), {
      what: "the pack's completion log line",
    });
    await worker.close();
    expect(line).toMatchObject({ jobId: `pack-${packId}-g1`, job: "pack.build", attempt: 1 });
  });
});

describe("worker metrics server", () => {
  it("serves /metrics, /healthz and /readyz on its own port", async () => {
    const metrics = createWorkerMetrics();
    metrics.jobDuration.observe({ queue: QUEUES.replies, job: "reply.answer", outcome: "completed" }, 0.2);
    const server = await startMetricsServer({
      port: 0,
      host: "127.0.0.1",
      registry: metrics.registry,
      readiness: { postgres: () => h.db.$queryRaw`SELECT 1`, redis: () => h.queues.packs.getJobCounts("waiting") },
      logger: createLogger("metrics-test", "silent"),
    });
    cleanups.push(() => server.close());
    const base = `http://127.0.0.1:${server.port}`;

    const scraped = await fetch(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    expect(sample(await scraped.text(), "insights_job_duration_seconds_count", { job: "reply.answer" })).toBe(1);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { postgres: "ok", redis: "ok" } });
  });

  it("reports not ready, naming the dependency, when one does not answer", async () => {
    const server = await startMetricsServer({
      port: 0,
      host: "127.0.0.1",
      registry: createWorkerMetrics().registry,
      readiness: { postgres: () => h.db.$queryRaw`SELECT 1`, redis: () => new Promise(() => {}) },
      logger: createLogger("metrics-test", "silent"),
      checkTimeoutMs: 200,
    });
    cleanups.push(() => server.close());
    const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "unavailable", checks: { postgres: "ok", redis: "down" } });
  });

  it("requires the bearer token for /metrics when the worker has METRICS_TOKEN, but not for its probes", async () => {
    const server = await startMetricsServer({
      port: 0,
      host: "127.0.0.1",
      registry: createWorkerMetrics().registry,
      readiness: {},
      token: METRICS_TOKEN,
      logger: createLogger("metrics-test", "silent"),
    });
    cleanups.push(() => server.close());
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: bearer(METRICS_TOKEN) })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
