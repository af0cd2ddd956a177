// Everything a worker process runs, built from its clients: tests start exactly this in-process.
import { setMaxListeners } from "node:events";
import type { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Db } from "@insights/shared/db/client";
import { failedFromOutage } from "@insights/shared/db/unavailable";
import { subscribePackCancellations } from "@insights/shared/jobs/cancellation";
import { closeJobQueues, createJobQueues, enqueue } from "@insights/shared/jobs/job-queues";
import { createSessionEventLog } from "@insights/shared/live/session-events";
import type { Logger } from "@insights/shared/logger";
import type { LlmProvider } from "../llm/provider.ts";
import { purgeExpiredSessions } from "../maintenance/purge-sessions.handler.ts";
import { reconcile } from "../maintenance/reconcile.handler.ts";
import { buildPack, markPackFailed } from "../packs/build-pack.handler.ts";
import { createChunkDispatcher, createFairShare } from "../packs/chunk-dispatch.ts";
import { DEFAULT_CHUNK_SIZE } from "../packs/chunks.ts";
import { extractChunkJob } from "../packs/extract-chunk.handler.ts";
import { answerMessage, failReply } from "../replies/answer-message.handler.ts";
import { RunningPacks } from "./cancellations.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { Semaphore } from "./pool.ts";
import { startQueueWorker } from "./queue-worker.ts";

export interface WorkerTuning {
  sessionRetentionDays: number;
  retentionSweepIntervalMs: number;
  packConcurrency: number;
  chunkConcurrency: number;
  chunkSize: number;
  replyConcurrency: number;
  llmConcurrency: number;
  maxLeadsPerPack: number;
  progressIntervalMs: number;
  pageSize: number;
  reconcileIntervalMs: number;
  reconcileGraceMs: number;
  lockDurationMs: number;
}

export const DEFAULT_TUNING: WorkerTuning = {
  sessionRetentionDays: 30,
  retentionSweepIntervalMs: 3600_000,
  // A pack job mostly waits for its chunks, so many run at once: a workspace's queued packs must not hold the slots
  // another workspace's pack needs to plan its chunks.
  packConcurrency: 16,
  chunkConcurrency: 4,
  chunkSize: DEFAULT_CHUNK_SIZE,
  replyConcurrency: 4,
  llmConcurrency: 8,
  maxLeadsPerPack: 10_000,
  progressIntervalMs: 1000,
  pageSize: 200,
  reconcileIntervalMs: 30_000,
  reconcileGraceMs: 30_000,
  lockDurationMs: 30_000,
};

export interface WorkerRuntimeDeps {
  db: Db;
  /** BullMQ's connection (maxRetriesPerRequest: null). */
  connection: Redis;
  /** A second connection, used only for the cancellation subscription. */
  subscriber: Redis;
  prefix: string;
  llm: LlmProvider;
  logger: Logger;
  tuning: WorkerTuning;
  /** Job durations by job and outcome (the LLM provider takes the LLM half itself). */
  metrics?: WorkerMetrics | undefined;
}

export interface WorkerRuntime {
  /** Stops taking jobs, hands running packs back to the queue, and closes everything it opened. */
  close(): Promise<void>;
}

export async function startWorkers(deps: WorkerRuntimeDeps): Promise<WorkerRuntime> {
  const { db, logger, tuning } = deps;
  const running = new RunningPacks();
  // Aborts in-flight answers at shutdown, so their jobs go back to the queue instead of holding it up.
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  const queues = createJobQueues(deps.connection, deps.prefix);
  const live = createSessionEventLog(deps.connection, deps.prefix);
  await subscribePackCancellations(deps.subscriber, deps.prefix, (packId) => running.cancel(packId));

  const fair = createFairShare({ redis: deps.connection, prefix: deps.prefix, queues, logger });
  const chunks = createChunkDispatcher(queues, fair);
  // One LLM budget for every chunk this process runs (the pack jobs' synthesis and the replies have their own slots).
  const llmSlots = new Semaphore(tuning.llmConcurrency);
  const pipelineTuning = {
    maxLeadsPerPack: tuning.maxLeadsPerPack,
    llmConcurrency: tuning.llmConcurrency,
    progressIntervalMs: tuning.progressIntervalMs,
    pageSize: tuning.pageSize,
    chunkSize: tuning.chunkSize,
  };
  const common = { connection: deps.connection, prefix: deps.prefix, logger, lockDurationMs: tuning.lockDurationMs, metrics: deps.metrics };
  // A pack or reply whose attempt failed because PostgreSQL was away waits for it instead of spending its attempts:
  // every attempt fails during an outage, and a pack that used them all would stay FAILED (or, with its final
  // failure unrecordable, RUNNING) for a reason that says nothing about the pack.
  const outages = { isOutage: (err: unknown) => failedFromOutage(db, err), retryMs: Math.min(tuning.reconcileIntervalMs, 5_000) };
  const workers: Worker[] = [
    startQueueWorker("packs", {
      ...common,
      outages,
      concurrency: tuning.packConcurrency,
      handlers: {
        buildPack: (payload, _job, log) =>
          buildPack({ db, llm: deps.llm, logger: log, live, running, tuning: pipelineTuning, chunks, llmSlots, metrics: deps.metrics }, payload),
      },
      onFinalFailure: async (key, payload, reason) => {
        if (key === "buildPack") await markPackFailed({ db, live, logger }, payload as { packId: string; generation: number }, reason);
      },
    }),
    startQueueWorker("packChunks", {
      ...common,
      outages,
      concurrency: tuning.chunkConcurrency,
      handlers: {
        extractChunk: async (payload, job, log) => {
          await fair.started(job.opts.priority ?? 0);
          return extractChunkJob({ db, llm: deps.llm, logger: log, live, running, llmSlots, tuning: pipelineTuning, metrics: deps.metrics }, payload);
        },
      },
      // A chunk that cannot be extracted fails its pack run (its pack job, waiting for it, then stops).
      onFinalFailure: async (key, payload, reason) => {
        if (key === "extractChunk") {
          await markPackFailed({ db, live, logger }, payload as { packId: string; generation: number }, `a chunk of the pack failed: ${reason}`);
        }
      },
    }),
    startQueueWorker("replies", {
      ...common,
      outages,
      concurrency: tuning.replyConcurrency,
      handlers: {
        answerMessage: (payload, _job, log) => answerMessage({ db, llm: deps.llm, logger: log, shutdown: shutdown.signal, live }, payload),
      },
      onFinalFailure: async (key, payload, reason) => {
        if (key === "answerMessage") {
          await failReply({ db, live }, (payload as { messageId: string }).messageId, `could not answer: ${reason}`, { llmCalls: 0, inputTokens: 0, outputTokens: 0 });
        }
      },
    }),
    startQueueWorker("maintenance", {
      ...common,
      concurrency: 1,
      handlers: {
        reconcile: (_payload, _job, log) =>
          reconcile({ db, live, queues, logger: log, graceMs: tuning.reconcileGraceMs, metrics: deps.metrics }),
        purgeExpiredSessions: (_payload, _job, log) =>
          purgeExpiredSessions({ db, logger: log, retentionDays: tuning.sessionRetentionDays }),
      },
    }),
  ];

  // Maintenance runs at start (work left behind while no worker ran), then periodically. The timers live in each
  // worker process rather than in a schedule stored in Redis (BullMQ's job schedulers), so they survive Redis losing
  // its data (a restart without persistence) with nobody to upsert the schedule again. Each run's job id names its
  // interval slot: every worker's tick in one slot collapses into one run, and a failed or stuck run (a database
  // outage during the run) never stops the next slot's from being added.
  const schedule = (key: "reconcile" | "purgeExpiredSessions", intervalMs: number) => () =>
    enqueue(queues, key, { tick: Math.floor(Date.now() / intervalMs) }).catch((err: unknown) =>
      logger.warn({ err, job: key }, "could not schedule maintenance"),
    );
  const reconcileTick = schedule("reconcile", tuning.reconcileIntervalMs);
  const purgeTick = schedule("purgeExpiredSessions", tuning.retentionSweepIntervalMs);
  const timers = [setInterval(reconcileTick, tuning.reconcileIntervalMs), setInterval(purgeTick, tuning.retentionSweepIntervalMs)];
  await Promise.all([reconcileTick(), purgeTick()]);

  return {
    async close() {
      timers.forEach(clearInterval);
      running.shutdown();
      shutdown.abort("shutdown");
      await Promise.all(workers.map((w) => w.close()));
      await closeJobQueues(queues);
      await deps.subscriber.unsubscribe().catch(() => undefined);
    },
  };
}
