// Everything a worker process runs, built from its clients: tests start exactly this in-process.
import type { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Db } from "@insights/shared/db/client";
import { failedFromOutage } from "@insights/shared/db/unavailable";
import { subscribePackCancellations } from "@insights/shared/jobs/cancellation";
import { createFairShare } from "@insights/shared/jobs/fair-share";
import { closeJobQueues, createJobQueues, enqueue } from "@insights/shared/jobs/job-queues";
import { createSessionEventLog } from "@insights/shared/live/session-events";
import type { ModelPolicy } from "@insights/shared/llm-models";
import type { Logger } from "@insights/shared/logger";
import type { WebhookSettings } from "@insights/shared/webhooks/secret-box";
import type { LlmProvider } from "../llm/provider.ts";
import { purgeExpiredSessions } from "../maintenance/purge-sessions.handler.ts";
import { reconcile } from "../maintenance/reconcile.handler.ts";
import { buildPack, markPackFailed } from "../packs/build-pack.handler.ts";
import { createChunkDispatcher } from "../packs/chunk-dispatch.ts";
import { createChunkWake } from "../packs/chunk-wake.ts";
import { DEFAULT_CHUNK_SIZE, createExtractionShare } from "../packs/chunks.ts";
import { extractChunkJob } from "../packs/extract-chunk.handler.ts";
import { answerMessage, failReply } from "../replies/answer-message.handler.ts";
import { deliverWebhook, markDeliveryFailed, pendingDeliveriesOf } from "../webhooks/deliver-webhook.handler.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { StopReason } from "./cancellations.ts";
import { RunningJobs, closeQueueWorker, startQueueWorker, type JobHandlers } from "./queue-worker.ts";

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
  webhookConcurrency: number;
  webhookTimeoutMs: number;
  webhookRetryBaseMs: number;
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
  webhookConcurrency: 8,
  webhookTimeoutMs: 10_000,
  webhookRetryBaseMs: 10_000,
};

export interface WorkerRuntimeDeps {
  db: Db;
  /** BullMQ's connection (maxRetriesPerRequest: null). */
  connection: Redis;
  /** A second connection, used only for subscriptions (cancellations, finished chunks). */
  subscriber: Redis;
  prefix: string;
  llm: LlmProvider;
  /** LLM_MODEL and LLM_ALLOWED_MODELS: which model each workspace's work runs on. */
  models: ModelPolicy;
  logger: Logger;
  tuning: WorkerTuning;
  /** Job durations by job and outcome (the LLM provider takes the LLM half itself). */
  metrics?: WorkerMetrics | undefined;
  webhooks: WebhookSettings;
}

export interface WorkerRuntime {
  /** Stops taking jobs, hands running packs back to the queue, and closes everything it opened. */
  close(): Promise<void>;
}

export async function startWorkers(deps: WorkerRuntimeDeps): Promise<WorkerRuntime> {
  const { db, logger, tuning } = deps;
  const queues = createJobQueues(deps.connection, deps.prefix);
  const live = createSessionEventLog(deps.connection, deps.prefix);

  const fairShare = (queue: "packs" | "packChunks") =>
    createFairShare({ redis: deps.connection, prefix: deps.prefix, queues, queue, logger });
  const packFair = fairShare("packs");
  const chunkFair = fairShare("packChunks");
  const wake = await createChunkWake(deps.connection, deps.subscriber, deps.prefix);
  // A chunk job lost from Redis (or failed for good unrecorded) is found on the reconciler's interval.
  const chunks = createChunkDispatcher({
    db,
    queues,
    fair: chunkFair,
    wake,
    redispatchMs: tuning.reconcileIntervalMs,
    chunkConcurrency: tuning.chunkConcurrency,
    logger,
  });
  // One LLM budget for every chunk this process runs (the pack jobs' synthesis and the replies have their own slots),
  // one progress pace and one group commit per pack.
  const share = createExtractionShare(tuning);
  const pipelineTuning = {
    maxLeadsPerPack: tuning.maxLeadsPerPack,
    llmConcurrency: tuning.llmConcurrency,
    progressIntervalMs: tuning.progressIntervalMs,
    pageSize: tuning.pageSize,
    chunkSize: tuning.chunkSize,
  };

  // A finished pack or reply may have written webhook deliveries (in its own transaction): give them their jobs now.
  // A crash before this leaves them to the reconciler.
  const dispatchWebhooks = async (subjectId: string) => {
    try {
      for (const deliveryId of await pendingDeliveriesOf(db, subjectId)) await enqueue(queues, "deliverWebhook", { deliveryId });
    } catch (err) {
      logger.warn({ err, subjectId }, "could not enqueue webhook deliveries; the reconciler will");
    }
  };

  // The fair-share clock moves up to each job a worker starts. The job does not wait for that: a clock that moves a
  // moment late (or, with Redis failing, not at all) only places the next jobs queued slightly earlier.
  const advanceClock = (fair: typeof packFair, priority: number | undefined, log: Logger) =>
    void fair.started(priority ?? 0).catch((err: unknown) => log.warn({ err }, "fair-share clock not advanced"));

  // One handler and one final-failure hook for every job of the catalog (the type makes both required).
  const handlers: JobHandlers = {
    buildPack: {
      run: async (payload, { job, log, signal }) => {
        advanceClock(packFair, job.opts.priority, log);
        return withWebhooks(
          payload.packId,
          buildPack(
            {
              db,
              llm: deps.llm,
              logger: log,
              live,
              models: deps.models,
              tuning: pipelineTuning,
              chunks,
              share,
              metrics: deps.metrics,
            },
            payload,
            signal,
          ),
        );
      },
      onFinalFailure: async (payload, reason) => {
        await markPackFailed({ db, live, logger }, payload, reason);
        await dispatchWebhooks(payload.packId);
      },
    },
    extractChunk: {
      run: async (payload, { job, log, signal }) => {
        advanceClock(chunkFair, job.opts.priority, log);
        const result = await extractChunkJob(
          {
            db,
            llm: deps.llm,
            logger: log,
            live,
            models: deps.models,
            share,
            tuning: pipelineTuning,
            metrics: deps.metrics,
          },
          payload,
          signal,
        );
        // The pack job waiting for its chunks checks at once (a lost message costs it one fallback poll).
        if (result.outcome === "last")
          await wake.finished(payload.packId).catch((err: unknown) => log.warn({ err }, "chunk-done message not sent"));
        return result;
      },
      // A chunk that cannot be extracted fails its pack run (its pack job, waiting for it, then stops).
      onFinalFailure: async (payload, reason) => {
        await markPackFailed({ db, live, logger }, payload, `a chunk of the pack failed: ${reason}`);
        await dispatchWebhooks(payload.packId);
      },
    },
    answerMessage: {
      // A reply is never cancelled by message: its job's signal aborts only at shutdown.
      run: (payload, { log, signal }) =>
        withWebhooks(
          payload.messageId,
          answerMessage({ db, llm: deps.llm, models: deps.models, logger: log, shutdown: signal, live }, payload),
        ),
      onFinalFailure: (payload, reason) =>
        failReply({ db, live }, payload.messageId, `could not answer: ${reason}`, { llmCalls: 0, inputTokens: 0, outputTokens: 0 }),
    },
    deliverWebhook: {
      run: (payload, { log }) =>
        deliverWebhook(
          { db, logger: log, secrets: deps.webhooks.secrets, allowPrivate: deps.webhooks.allowPrivate, timeoutMs: tuning.webhookTimeoutMs },
          payload,
        ),
      onFinalFailure: (payload) => markDeliveryFailed(db, payload.deliveryId),
    },
    // A failed maintenance run needs no record: the next slot's run does the same work.
    reconcile: {
      run: (_payload, { log }) =>
        reconcile({ db, live, queues, packFair, logger: log, graceMs: tuning.reconcileGraceMs, metrics: deps.metrics }),
      onFinalFailure: null,
    },
    purgeExpiredSessions: {
      run: (_payload, { log }) => purgeExpiredSessions({ db, logger: log, retentionDays: tuning.sessionRetentionDays }),
      onFinalFailure: null,
    },
  };

  const running = new RunningJobs();
  const common = {
    connection: deps.connection,
    prefix: deps.prefix,
    logger,
    handlers,
    running,
    lockDurationMs: tuning.lockDurationMs,
    metrics: deps.metrics,
  };
  // A pack or reply whose attempt failed because PostgreSQL was away waits for it instead of spending its attempts:
  // every attempt fails during an outage, and a pack that used them all would stay FAILED (or, with its final
  // failure unrecordable, RUNNING) for a reason that says nothing about the pack.
  const outages = { isOutage: (err: unknown) => failedFromOutage(db, err), retryMs: Math.min(tuning.reconcileIntervalMs, 5_000) };
  const workers: Worker[] = [
    startQueueWorker("packs", { ...common, outages, concurrency: tuning.packConcurrency }),
    startQueueWorker("packChunks", { ...common, outages, concurrency: tuning.chunkConcurrency }),
    startQueueWorker("replies", { ...common, outages, concurrency: tuning.replyConcurrency }),
    startQueueWorker("webhooks", {
      ...common,
      outages,
      concurrency: tuning.webhookConcurrency,
      // Doubling from WEBHOOK_RETRY_BASE_MS, capped at an hour; a few percent of jitter keeps retries apart.
      backoffStrategy: (attemptsMade) =>
        Math.min(tuning.webhookRetryBaseMs * 2 ** Math.max(0, attemptsMade - 1), 3_600_000) * (1 + Math.random() * 0.1),
    }),
    startQueueWorker("maintenance", { ...common, concurrency: 1 }),
  ];
  // A cancelled pack's jobs stop wherever they run: every worker process hears the message and aborts its own.
  await subscribePackCancellations(deps.subscriber, deps.prefix, (packId) =>
    running.cancel((job) => job.data?.packId === packId, "cancelled" satisfies StopReason),
  );

  async function withWebhooks<T>(subjectId: string, work: Promise<T>): Promise<T> {
    const result = await work;
    await dispatchWebhooks(subjectId);
    return result;
  }

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
      // Running packs and answers abort; their jobs go back to the queue instead of holding it up.
      await Promise.all(workers.map(closeQueueWorker));
      await closeJobQueues(queues);
      await deps.subscriber.unsubscribe().catch(() => undefined);
    },
  };
}
