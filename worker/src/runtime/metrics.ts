// The worker's own metrics, counted in this process (one registry per runtime, never prom-client's global one):
// job durations by job and outcome, and every LLM HTTP call's latency, tokens and errors. Served on METRICS_PORT by
// metrics-server.ts. Labels are job names, task names and outcomes only: no workspace, pack or message id.
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Why an LLM call did not succeed, as a label: the server's 429 or 5xx, a timeout, or an answer off its schema. */
export type LlmErrorKind = "429" | "5xx" | "4xx" | "timeout" | "connection" | "malformed" | "other";

export interface LlmMetrics {
  /** One observation per HTTP request to the LLM (each retry is one), by task and outcome (`ok`, an error kind, `aborted`). */
  callDuration: Histogram<"task" | "outcome">;
  tokens: Counter<"task" | "direction">;
  errors: Counter<"task" | "kind">;
}

export interface WorkerMetrics {
  registry: Registry;
  /** By queue, job name and outcome: `completed`, `failed`, or `released` (handed back at shutdown). */
  jobDuration: Histogram<"queue" | "job" | "outcome">;
  /** From a job's enqueue (or the end of its delay) to its first start by a worker, by queue. */
  queueWait: Histogram<"queue">;
  /** Jobs this worker found stalled (their worker stopped renewing the lock: it died or hung) and put back. */
  stalledJobs: Counter<"queue">;
  /** Leads recorded as failed in a pack (the LLM layer had retried), which the pack then completes without. */
  failedLeads: Counter;
  /** What the reconciler repaired: `enqueued` (a row's missing job) or `marked_failed` (its job had failed for good). */
  reconcilerActions: Counter<"job" | "action">;
  llm: LlmMetrics;
}

// Jobs run from milliseconds (a reply) to many minutes (a large pack).
const JOB_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const LLM_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];
// A reply should wait well under a second; a pack behind others can wait many minutes.
const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    jobDuration: new Histogram({
      name: "insights_job_duration_seconds",
      help: "Time a job's attempt took in this worker, by queue, job name and outcome (completed, failed, released)",
      labelNames: ["queue", "job", "outcome"],
      buckets: JOB_BUCKETS,
      registers,
    }),
    queueWait: new Histogram({
      name: "insights_queue_wait_seconds",
      help: "Time a job waited in its queue before a worker first started it, by queue",
      labelNames: ["queue"],
      buckets: WAIT_BUCKETS,
      registers,
    }),
    stalledJobs: new Counter({
      name: "insights_jobs_stalled_total",
      help: "Jobs whose worker stopped renewing their lock (died or hung), found by this worker and put back, by queue",
      labelNames: ["queue"],
      registers,
    }),
    failedLeads: new Counter({
      name: "insights_pack_leads_failed_total",
      help: "Leads a pack recorded as failed after the LLM layer's retries (the pack completes without them)",
      registers,
    }),
    reconcilerActions: new Counter({
      name: "insights_reconciler_actions_total",
      help: "Rows the reconciler repaired, by job and action (enqueued: a missing job; marked_failed: a job failed for good)",
      labelNames: ["job", "action"],
      registers,
    }),
    llm: {
      callDuration: new Histogram({
        name: "insights_llm_call_duration_seconds",
        help: "Latency of each HTTP request to the LLM (retries count separately), by task and outcome",
        labelNames: ["task", "outcome"],
        buckets: LLM_BUCKETS,
        registers,
      }),
      tokens: new Counter({
        name: "insights_llm_tokens_total",
        help: "Tokens the LLM reported, by task and direction (input: prompt, output: completion)",
        labelNames: ["task", "direction"],
        registers,
      }),
      errors: new Counter({
        name: "insights_llm_errors_total",
        help: "Failed LLM requests by task and kind (429, 5xx, 4xx, timeout, connection, malformed answer, other)",
        labelNames: ["task", "kind"],
        registers,
      }),
    },
  };
}

/** What went wrong with one LLM request, or null when it was aborted on purpose (cancellation, shutdown). */
export function llmErrorKindOf(err: unknown): LlmErrorKind | null {
  if (err instanceof APIUserAbortError) return null;
  if (err instanceof APIConnectionTimeoutError) return "timeout";
  if (err instanceof APIConnectionError) return "connection";
  if (err instanceof APIError && typeof err.status === "number") {
    if (err.status === 429) return "429";
    return err.status >= 500 ? "5xx" : "4xx";
  }
  return "other";
}

/** Times one LLM HTTP request and counts its failure; the request itself is untouched. */
export async function observeLlmCall<T>(metrics: LlmMetrics | undefined, task: string, call: () => Promise<T>): Promise<T> {
  if (!metrics) return call();
  const end = metrics.callDuration.startTimer({ task });
  try {
    const result = await call();
    end({ outcome: "ok" });
    return result;
  } catch (err) {
    const kind = llmErrorKindOf(err);
    end({ outcome: kind ?? "aborted" });
    if (kind) metrics.errors.inc({ task, kind });
    throw err;
  }
}
