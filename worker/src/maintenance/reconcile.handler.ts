// The reconciler: Postgres is the truth, and every PENDING or RUNNING pack must have a live job. The API enqueues
// after its commit, so a crash or a Redis outage in between leaves a pack without one; this finds such packs and
// enqueues them (job ids are deterministic, so a pack that has its job is never given a second). It also records
// the failure of packs whose job failed for good while no worker was there to mark them.
import type { Db } from "@insights/shared/db/client";
import { JOBS } from "@insights/shared/jobs/catalog";
import { enqueue, type JobQueues } from "@insights/shared/jobs/job-queues";
import type { Logger } from "@insights/shared/logger";
import { markPackFailed } from "../packs/build-pack.handler.ts";

export interface ReconcileDeps {
  db: Db;
  queues: JobQueues;
  logger: Logger;
  /** Rows younger than this are left alone: their job is being enqueued right now. */
  graceMs: number;
}

export interface ReconcileResult {
  checked: number;
  enqueued: number;
  markedFailed: number;
}

const BATCH = 500;

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileResult> {
  const { db, queues, logger } = deps;
  const result: ReconcileResult = { checked: 0, enqueued: 0, markedFailed: 0 };
  const packs = await db.insightContextPack.findMany({
    where: { status: { in: ["PENDING", "RUNNING"] }, updatedAt: { lt: new Date(Date.now() - deps.graceMs) } },
    select: { id: true, generation: true },
    orderBy: { updatedAt: "asc" },
    take: BATCH,
  });
  for (const pack of packs) {
    result.checked++;
    const payload = { packId: pack.id, generation: pack.generation };
    const job = await queues.packs.getJob(JOBS.buildPack.jobId(payload));
    const state = job ? await job.getState() : "missing";
    if (state === "failed") {
      await markPackFailed(db, payload, `the pack's job failed: ${job?.failedReason ?? "unknown reason"}`);
      result.markedFailed++;
    } else if (state === "missing" || state === "completed" || state === "unknown") {
      // A completed job whose pack is still unfinished ended early (e.g. it ran before the row was visible).
      if (job && state === "completed") await job.remove();
      await enqueue(queues, "buildPack", payload);
      result.enqueued++;
    }
  }
  if (result.enqueued || result.markedFailed) logger.info(result, "reconciled packs");
  return result;
}
