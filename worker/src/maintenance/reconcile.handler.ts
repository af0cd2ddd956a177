// The reconciler: Postgres is the truth, and every PENDING or RUNNING pack and every PENDING reply must have a live
// job. The API enqueues after its commit, so a crash or a Redis outage in between leaves a row without one; this
// finds such rows and enqueues them (job ids are deterministic, so a row that has its job never gets a second). It
// also records the failure of rows whose job failed for good while no worker was there to mark them.
import type { Db } from "@insights/shared/db/client";
import { JOBS, jobIdOf, type JobKey, type JobPayload } from "@insights/shared/jobs/catalog";
import { enqueuePackJob, type FairShare } from "@insights/shared/jobs/fair-share";
import { enqueue, type JobQueues } from "@insights/shared/jobs/job-queues";
import type { SessionEventLog } from "@insights/shared/live/session-events";
import type { Logger } from "@insights/shared/logger";
import { NO_USAGE } from "../llm/provider.ts";
import { markPackFailed } from "../packs/build-pack.handler.ts";
import { failReply } from "../replies/answer-message.handler.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import { markDeliveryFailed } from "../webhooks/deliver-webhook.handler.ts";

export interface ReconcileDeps {
  db: Db;
  live: SessionEventLog;
  queues: JobQueues;
  /** Pack jobs go back at their workspace's fair place in the pack queue. */
  packFair: FairShare;
  logger: Logger;
  /** Rows younger than this are left alone: their job is being enqueued right now. */
  graceMs: number;
  metrics?: WorkerMetrics | undefined;
}

export interface ReconcileResult {
  checked: number;
  enqueued: number;
  markedFailed: number;
}

const BATCH = 500;

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileResult> {
  const { db, logger } = deps;
  const result: ReconcileResult = { checked: 0, enqueued: 0, markedFailed: 0 };
  const before = new Date(Date.now() - deps.graceMs);

  const packs = await db.insightContextPack.findMany({
    where: { status: { in: ["PENDING", "RUNNING"] }, updatedAt: { lt: before } },
    select: { id: true, generation: true, clientId: true },
    orderBy: { updatedAt: "asc" },
    take: BATCH,
  });
  for (const pack of packs) {
    const payload = { packId: pack.id, generation: pack.generation };
    await ensureJob(deps, "buildPack", payload, result, {
      enqueueJob: () => enqueuePackJob({ db, queues: deps.queues, fair: deps.packFair }, pack),
      markFailed: (reason) => markPackFailed(deps, payload, `the pack's job failed: ${reason}`),
    });
  }

  const replies = await db.insightChatMessage.findMany({
    where: { role: "ASSISTANT", status: "PENDING", createdAt: { lt: before } },
    select: { id: true },
    orderBy: { createdAt: "asc" },
    take: BATCH,
  });
  for (const reply of replies) {
    await ensureJob(deps, "answerMessage", { messageId: reply.id }, result, {
      markFailed: (reason) => failReply(deps, reply.id, `could not answer: ${reason}`, NO_USAGE),
    });
  }

  const deliveries = await db.insightWebhookDelivery.findMany({
    where: { status: "PENDING", createdAt: { lt: before } },
    select: { id: true },
    orderBy: { createdAt: "asc" },
    take: BATCH,
  });
  for (const delivery of deliveries) {
    await ensureJob(deps, "deliverWebhook", { deliveryId: delivery.id }, result, { markFailed: () => markDeliveryFailed(db, delivery.id) });
  }

  if (result.enqueued || result.markedFailed) logger.info(result, "reconciled packs, replies and webhook deliveries");
  return result;
}

/**
 * Gives an unfinished row its job back (`enqueueJob`, when the job needs more than its payload), or records that the
 * job failed for good.
 */
async function ensureJob<K extends JobKey>(
  deps: ReconcileDeps,
  key: K,
  payload: JobPayload<K>,
  result: ReconcileResult,
  {
    enqueueJob = () => enqueue(deps.queues, key, payload),
    markFailed,
  }: { enqueueJob?: () => Promise<unknown>; markFailed: (reason: string) => Promise<void> },
): Promise<void> {
  result.checked++;
  const job = await deps.queues[JOBS[key].queue].getJob(jobIdOf(key, payload));
  const state = job ? await job.getState() : "missing";
  // One line per repair, naming the row, so "why did this pack start again / fail" has an answer in the logs.
  const action: Record<string, unknown> = { job: JOBS[key].name, jobId: jobIdOf(key, payload), ...payload, jobState: state };
  if (state === "failed") {
    await markFailed(job?.failedReason ?? "unknown reason");
    result.markedFailed++;
    deps.metrics?.reconcilerActions.inc({ job: JOBS[key].name, action: "marked_failed" });
    deps.logger.info(
      { ...action, action: "marked_failed", reason: job?.failedReason },
      "reconciler: marked FAILED, its job failed for good",
    );
  } else if (state === "missing" || state === "completed" || state === "unknown") {
    // A completed job whose row is still unfinished ended early (e.g. it ran before the row was visible).
    if (job && state === "completed") await job.remove();
    await enqueueJob();
    result.enqueued++;
    deps.metrics?.reconcilerActions.inc({ job: JOBS[key].name, action: "enqueued" });
    deps.logger.info({ ...action, action: "enqueued" }, "reconciler: gave an unfinished row its job back");
  }
}
