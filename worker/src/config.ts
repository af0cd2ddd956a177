import { z } from "zod";
import { baseEnvSchema, loadConfig } from "@insights/shared/config";
import { checkModelPolicy } from "@insights/shared/llm-models";
import { DEFAULT_TUNING as d } from "./runtime/start-workers.ts";

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/** The worker's tuning knobs; docs/OPERATIONS.md says when to turn each. */
export const workerEnvSchema = baseEnvSchema.extend({
  /** Pack jobs (selection, planning, waiting for chunks, synthesis) one worker process runs at once. */
  PACK_CONCURRENCY: int(1, 256, d.packConcurrency),
  /** Chunk jobs (extraction of up to PACK_CHUNK_SIZE leads) one worker process runs at once. */
  CHUNK_CONCURRENCY: int(1, 64, d.chunkConcurrency),
  /** Leads per chunk: a pack's extraction is spread over every worker process in chunks of this size. */
  PACK_CHUNK_SIZE: int(1, 10_000, d.chunkSize),
  /** Chat replies one worker process answers at once. */
  REPLY_CONCURRENCY: int(1, 256, d.replyConcurrency),
  /** LLM extraction calls in flight per worker process, shared by every chunk it runs. */
  LLM_CONCURRENCY: int(1, 256, d.llmConcurrency),
  /** Server-side cap on leads per pack, most recent activity first: it bounds what one pack can cost. */
  PACK_MAX_LEADS: int(1, 1_000_000, d.maxLeadsPerPack),
  /** Deployment-wide cap on LLM requests per minute, shared by every worker through Redis. 0: no cap. */
  LLM_MAX_REQUESTS_PER_MINUTE: int(0, 1_000_000, 0),
  LLM_TIMEOUT_MS: int(1000, 600_000, 60_000),
  LLM_MAX_RETRIES: int(0, 20, 4),
  LLM_RETRY_BASE_MS: int(1, 60_000, 500),
  LLM_RETRY_MAX_DELAY_MS: int(1, 300_000, 30_000),
  LLM_MALFORMED_RETRIES: int(0, 5, 1),
  /** Webhook deliveries one worker process sends at once. */
  WEBHOOK_CONCURRENCY: int(1, 256, d.webhookConcurrency),
  /** One delivery attempt; no answer by then fails the attempt. */
  WEBHOOK_TIMEOUT_MS: int(100, 120_000, d.webhookTimeoutMs),
  /** The first retry's delay; each next one doubles, up to an hour. */
  WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000, d.webhookRetryBaseMs),
  /** Minimum time between progress writes to a pack row. */
  PROGRESS_INTERVAL_MS: int(50, 60_000, d.progressIntervalMs),
  RECONCILE_INTERVAL_MS: int(100, 3_600_000, d.reconcileIntervalMs),
  /** How often a worker looks for deleted sessions whose restore period has ended, and purges them. */
  RETENTION_SWEEP_INTERVAL_MS: int(100, 86_400_000, d.retentionSweepIntervalMs),
  /** Rows younger than this are not reconciled (their job is being enqueued right now). */
  RECONCILE_GRACE_MS: int(0, 3_600_000, d.reconcileGraceMs),
  /**
   * How long a job's lock lasts without renewal. A worker that dies (SIGKILL, lost machine) holds its job this long
   * before another worker takes it over; lower means faster recovery, but a worker whose event loop stalls longer
   * than this loses its job to another one.
   */
  JOB_LOCK_MS: int(1000, 600_000, d.lockDurationMs),
  /** The worker's own HTTP server: /metrics, /healthz, /readyz. 0: none. Several workers on one host need one port each. */
  METRICS_PORT: int(0, 65_535, 9464),
  /** How long a stopping worker may take to hand its jobs back before it exits regardless. */
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000, 15_000),
  /** When set, /metrics requires `Authorization: Bearer <METRICS_TOKEN>` (as on the API); the probes stay open. */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
});

export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export const loadWorkerConfig = (env?: NodeJS.ProcessEnv): WorkerConfig => loadConfig(workerEnvSchema.superRefine(checkModelPolicy), env);
