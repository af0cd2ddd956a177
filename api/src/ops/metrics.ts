// GET /metrics on the API, in Prometheus' text format. One registry per app (never prom-client's global one), so
// tests can build several apps in one process.
//
// What it shows is deployment-wide and carries no tenant data: no workspace, session, pack or user id appears in
// any label (HTTP routes are labelled by their pattern, from the route declarations).
// - HTTP request durations by method, route pattern and status, measured in this process.
// - Queue depth per queue and state, Postgres' pack counts by status, and the LLM usage ledger's totals by kind:
//   all read at scrape time, each source under a timeout, so a Redis or Postgres outage makes /metrics report
//   `insights_metrics_source_up{source} 0` instead of hanging.
//
// The ledger is append-only, so its sums only grow: they are exposed as counters (`_total`) and `rate()` works on
// them, although each scrape reads the totals from Postgres rather than counting in this process. That makes them
// survive API restarts and agree across API replicas (every replica reports the same deployment-wide value: take
// `max`, not `sum`, over instances). In-process counts of the LLM calls themselves come from the workers' metrics.
import type { Request, RequestHandler } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { InsightContextPackStatus, LlmUsageKind, type Db } from "@insights/shared/db/client";
import type { JobQueues } from "@insights/shared/jobs/job-queues";
import { sameSecret } from "@insights/shared/secrets";
import { withTimeout } from "@insights/shared/timeout";
import { bearerTokenOf } from "../auth/guards.ts";
import { AppError } from "../http/app-error.ts";
import { defineRoute } from "../http/route.ts";

/** Every BullMQ job state, so a state that empties reports 0 instead of vanishing. */
const JOB_STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "completed", "failed"] as const;

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ApiMetricsOptions {
  db: Db;
  queues: JobQueues;
  /** Longest wait for each scrape-time source (Redis, Postgres). */
  sourceTimeoutMs?: number;
}

export interface ApiMetrics {
  registry: Registry;
  /** Times every request, labelled by `routeLabelOf` (a route pattern, never a raw path); mount first. */
  observeRequests: (routeLabelOf: (req: Request) => string) => RequestHandler;
}

type Source = "queues" | "packs" | "llm_ledger";

interface Snapshot {
  queues: Array<{ queue: string; counts: Record<string, number> }> | null;
  packs: Array<{ status: string; count: number }> | null;
  ledger: Array<{
    kind: string;
    llmCalls: number;
    inputTokens: number;
    outputTokens: number;
    savedInputTokens: number;
    savedOutputTokens: number;
  }> | null;
}

export function createApiMetrics(options: ApiMetricsOptions): ApiMetrics {
  const { db, queues } = options;
  const timeoutMs = options.sourceTimeoutMs ?? 2000;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // Every scrape-time metric reads one snapshot: prom-client collects all metrics at once, so the first collect of
  // a scrape starts the reads and the others wait for the same ones.
  let inflight: Promise<Snapshot> | null = null;
  const snapshot = () =>
    (inflight ??= readSnapshot().finally(() => {
      inflight = null;
    }));

  async function readSnapshot(): Promise<Snapshot> {
    const [queueCounts, packs, ledger] = await Promise.all([
      orNullAfter(
        Promise.all(Object.values(queues).map(async (queue) => ({ queue: queue.name, counts: await queue.getJobCounts(...JOB_STATES) }))),
        timeoutMs,
      ),
      orNullAfter(
        db.insightContextPack
          .groupBy({ by: ["status"], _count: { _all: true } })
          .then((rows) => rows.map((r) => ({ status: r.status, count: r._count._all }))),
        timeoutMs,
      ),
      orNullAfter(
        db.insightLlmUsage
          .groupBy({
            by: ["kind"],
            _sum: { llmCalls: true, inputTokens: true, outputTokens: true, savedInputTokens: true, savedOutputTokens: true },
          })
          .then((rows) =>
            rows.map((r) => ({
              kind: r.kind,
              llmCalls: r._sum.llmCalls ?? 0,
              inputTokens: r._sum.inputTokens ?? 0,
              outputTokens: r._sum.outputTokens ?? 0,
              savedInputTokens: r._sum.savedInputTokens ?? 0,
              savedOutputTokens: r._sum.savedOutputTokens ?? 0,
            })),
          ),
        timeoutMs,
      ),
    ]);
    return { queues: queueCounts, packs, ledger };
  }

  new Gauge({
    name: "insights_metrics_source_up",
    help: "1 when the scrape-time source answered within its timeout (queues: Redis; packs, llm_ledger: Postgres)",
    labelNames: ["source"],
    registers,
    async collect() {
      const s = await snapshot();
      const up: Record<Source, boolean> = { queues: s.queues !== null, packs: s.packs !== null, llm_ledger: s.ledger !== null };
      for (const [source, ok] of Object.entries(up)) this.set({ source }, ok ? 1 : 0);
    },
  });

  new Gauge({
    name: "insights_queue_jobs",
    help: "Jobs in each BullMQ queue by state, read at scrape time (completed and failed: those still retained)",
    labelNames: ["queue", "state"],
    registers,
    async collect() {
      const { queues: rows } = await snapshot();
      this.reset();
      for (const { queue, counts } of rows ?? []) {
        for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });

  new Gauge({
    name: "insights_packs",
    help: "Context packs by status, counted in Postgres at scrape time",
    labelNames: ["status"],
    registers,
    async collect() {
      const { packs } = await snapshot();
      this.reset();
      if (!packs) return;
      const byStatus = new Map(packs.map((p) => [p.status, p.count]));
      for (const status of Object.values(InsightContextPackStatus)) this.set({ status }, byStatus.get(status) ?? 0);
    },
  });

  // Counters whose value is read from the ledger: reset, then set to the current total.
  const ledgerCounter = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (c: Counter, row: NonNullable<Snapshot["ledger"]>[number]) => void,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const { ledger } = await snapshot();
        this.reset();
        if (!ledger) return;
        const byKind = new Map(ledger.map((row) => [row.kind, row]));
        for (const kind of Object.values(LlmUsageKind)) {
          fill(this, byKind.get(kind) ?? { kind, llmCalls: 0, inputTokens: 0, outputTokens: 0, savedInputTokens: 0, savedOutputTokens: 0 });
        }
      },
    });
  ledgerCounter("insights_llm_ledger_calls_total", "LLM calls booked in the usage ledger, by kind", ["kind"], (c, r) =>
    c.inc({ kind: r.kind }, r.llmCalls),
  );
  ledgerCounter(
    "insights_llm_ledger_tokens_total",
    "LLM tokens spent, booked in the usage ledger, by kind and direction",
    ["kind", "direction"],
    (c, r) => {
      c.inc({ kind: r.kind, direction: "input" }, r.inputTokens);
      c.inc({ kind: r.kind, direction: "output" }, r.outputTokens);
    },
  );
  ledgerCounter(
    "insights_llm_ledger_saved_tokens_total",
    "LLM tokens saved by reusing cached lead summaries (CACHE_REUSE) and packs (PACK_REUSE), by direction",
    ["kind", "direction"],
    (c, r) => {
      c.inc({ kind: r.kind, direction: "input" }, r.savedInputTokens);
      c.inc({ kind: r.kind, direction: "output" }, r.savedOutputTokens);
    },
  );

  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by method, route pattern and status",
    labelNames: ["method", "route", "status"],
    buckets: HTTP_BUCKETS,
    registers,
  });

  const observeRequests =
    (routeLabelOf: (req: Request) => string): RequestHandler =>
    (req, res, next) => {
      const end = httpDuration.startTimer();
      res.once("close", () => {
        end({ method: req.method, route: routeLabelOf(req), status: res.writableFinished ? String(res.statusCode) : "aborted" });
      });
      next();
    };

  return { registry, observeRequests };
}

/**
 * GET /metrics. With a token configured, only `Authorization: Bearer <token>` gets in; without one it is open, which
 * is safe because nothing in it names a tenant (still, keep it off the public internet).
 */
export const metricsRoute = defineRoute({
  operationId: "metrics",
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics (text exposition format)",
  tag: "operations",
  access: "metrics",
  responses: { 200: { description: "The metrics", contentType: "text/plain; version=0.0.4" } },
  handle: async ({ res }, { metrics }) => {
    const body = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(body);
  },
});

/** The guard of `access: "metrics"`. */
export function requireMetricsToken(token: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (token && !sameSecret(bearerTokenOf(req) ?? "", token)) {
      throw new AppError("UNAUTHENTICATED", "send Authorization: Bearer <METRICS_TOKEN>");
    }
    next();
  };
}

/** The value, or null when the source failed or did not answer in time (never throws, never hangs a scrape). */
const orNullAfter = <T>(work: Promise<T>, ms: number): Promise<T | null> => withTimeout(work, ms).catch(() => null);
