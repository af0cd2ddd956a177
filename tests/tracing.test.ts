// Traces: a pack request is one trace from the API's request through the enqueue to the worker's job and each of
// its LLM calls. In-process (the API app, the real worker runtime, the fake LLM server over HTTP), with spans read
// from an in-memory exporter; then the real API process exports over OTLP/HTTP to a collector when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, and to nothing when it is not.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { QUEUES } from "@insights/shared/jobs/queues";
import { startTracing, type Tracing } from "@insights/shared/tracing";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { bearer, createHarness, type Harness } from "./support/harness.ts";
import { freePort, startService, waitForOutput } from "./support/processes.ts";
import { fakeLlmProvider, startTestWorker, waitFor } from "./support/worker-harness.ts";

const exporter = new InMemorySpanExporter();
let tracing: Tracing | null;
let h: Harness;
let fake: FakeLlm;
let worker: WorkerRuntime;

beforeAll(async () => {
  // First: queues and workers take their tracing hook when they are built.
  tracing = await startTracing("insights-test", { processor: new SimpleSpanProcessor(exporter) });
  h = createHarness();
  fake = await startFakeLlm();
  // Chunks of one lead: the pack's job extracts chunk 0 itself and hands the others to chunk jobs.
  worker = await startTestWorker(h, fakeLlmProvider(fake), { chunkSize: 1 });
});
afterAll(async () => {
  await worker?.close();
  await fake?.close();
  await h?.close();
  await tracing?.shutdown();
});

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;

/** The span's ancestors, nearest first, among the spans given. */
function ancestorsOf(span: ReadableSpan, spans: ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [idOf(s), s]));
  const chain: ReadableSpan[] = [];
  for (let parent = byId.get(span.parentSpanContext?.spanId ?? ""); parent; parent = byId.get(parent.parentSpanContext?.spanId ?? "")) {
    chain.push(parent);
  }
  return chain;
}

describe("a pack's trace", () => {
  it("runs from the API request through the enqueue to the worker's job and each LLM call in it", async () => {
    expect(tracing).not.toBeNull();
    const ws = await h.seed({ leads: 3 });
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const requested = await h.http
      .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_90_DAYS" } });
    expect(requested.status).toBe(202);
    await waitFor(
      async () => {
        const pack = await h.http.get(`${ws.base}/insights/packs/${requested.body.id}`).set(bearer(ws.tokens.member));
        return pack.body.status === "COMPLETE" ? true : undefined;
      },
      { what: "the pack to complete" },
    );

    const spans = exporter.getFinishedSpans();
    const server = spans.find(
      (s) => s.kind === SpanKind.SERVER && s.name === "POST /v1/workspaces/{workspaceId}/insights/sessions/{sessionId}/packs",
    );
    expect(server, spans.map((s) => s.name).join(", ")).toBeDefined();
    expect(server!.attributes).toMatchObject({
      "http.response.status_code": 202,
      "insights.request_id": requested.headers["x-request-id"],
    });
    // The job's span ends after the LLM calls; wait for it rather than assume it has.
    const consumer = await waitFor(
      async () =>
        exporter
          .getFinishedSpans()
          .find((s) => s.kind === SpanKind.CONSUMER && s.name === `process ${QUEUES.packs}` && traceOf(s) === traceOf(server!)),
      { what: "the worker's job span" },
    );
    const inTrace = exporter.getFinishedSpans().filter((s) => traceOf(s) === traceOf(server!));

    const producer = inTrace.find((s) => s.kind === SpanKind.PRODUCER && s.name.includes(QUEUES.packs));
    expect(producer, inTrace.map((s) => s.name).join(", ")).toBeDefined();
    expect(ancestorsOf(producer!, inTrace)).toContain(server);
    expect(ancestorsOf(consumer, inTrace)).toContain(producer);

    const llm = inTrace.filter((s) => s.kind === SpanKind.CLIENT && s.name.startsWith("llm "));
    expect(llm.map((s) => s.name).sort()).toEqual(["llm lead_insight", "llm lead_insight", "llm lead_insight", "llm pack_synthesis"]);
    // Chunk 0 and synthesis run in the pack's job; the other two chunks in chunk jobs that the pack's job enqueued.
    const chunks = inTrace.filter((s) => s.kind === SpanKind.CONSUMER && s.name === `process ${QUEUES.packChunks}`);
    expect(chunks, inTrace.map((s) => s.name).join(", ")).toHaveLength(2);
    for (const chunk of chunks) expect(ancestorsOf(chunk, inTrace)).toContain(consumer);
    const parentOf = (span: (typeof llm)[number]) => ancestorsOf(span, inTrace)[0];
    expect(
      llm
        .filter((call) => parentOf(call) === consumer)
        .map((s) => s.name)
        .sort(),
    ).toEqual(["llm lead_insight", "llm pack_synthesis"]);
    expect(llm.filter((call) => chunks.includes(parentOf(call)!)).map((s) => s.name)).toEqual(["llm lead_insight", "llm lead_insight"]);
    for (const call of llm) {
      expect(call.attributes).toMatchObject({ "gen_ai.request.model": expect.any(String), "gen_ai.usage.input_tokens": 120 });
    }
  });

  it("continues the caller's trace when the request carries a traceparent", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await h.http.get("/healthz").set("traceparent", `00-${traceId}-00f067aa0ba902b7-01`);
    expect(res.status).toBe(200);
    const span = await waitFor(async () => exporter.getFinishedSpans().find((s) => s.name === "GET /healthz" && traceOf(s) === traceId), {
      what: "the span",
    });
    expect(span.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
  });

  it("leaves out BullMQ's housekeeping (polls, stalled checks): every trace starts at a request, an enqueue or a job", () => {
    const roots = exporter.getFinishedSpans().filter((s) => !s.parentSpanContext);
    expect(roots.length).toBeGreaterThan(0);
    expect(roots.filter((s) => s.kind === SpanKind.INTERNAL).map((s) => s.name)).toEqual([]);
  });

  it("is not started without an endpoint or a processor", async () => {
    expect(await startTracing("insights-off", {})).toBeNull();
  });
});

describe("OTLP export from the API process", () => {
  let collector: Server;
  const received: Array<{ path: string; bytes: number }> = [];
  beforeAll(async () => {
    collector = createServer((req, res) => {
      let bytes = 0;
      req.on("data", (d: Buffer) => (bytes += d.length));
      req.on("end", () => {
        received.push({ path: req.url ?? "", bytes });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => collector.close(() => resolve())));

  it("sends spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces when set (flushed at shutdown), nothing when not", async () => {
    const env = (port: number) => ({
      DATABASE_URL: inject("databaseUrl"),
      REDIS_URL: inject("redisUrl"),
      QUEUE_PREFIX: `${inject("queuePrefix")}-otlp`,
      AUTH_JWT_SECRET: "otlp-test-secret-that-is-long-enough-0123",
      PORT: String(port),
    });
    for (const endpoint of [undefined, `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`]) {
      const port = await freePort();
      const api = startService("api", { ...env(port), ...(endpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } : {}) });
      try {
        await waitForOutput(api, /API listening/);
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      } finally {
        expect(await api.kill("SIGTERM")).toBe(0);
      }
      if (endpoint) {
        expect(received.map((r) => r.path)).toEqual(["/v1/traces"]);
        expect(received[0]!.bytes).toBeGreaterThan(0);
      } else {
        expect(received).toEqual([]);
      }
    }
  }, 60_000);
});
