// Hands a pack run's chunks out as chunk jobs, fairly across workspaces (see shared/src/jobs/fair-share.ts).
import { jobIdOf } from "@insights/shared/jobs/catalog";
import { enqueueMany, type JobQueues } from "@insights/shared/jobs/job-queues";
import { schedulingWeightOf, type FairShare } from "@insights/shared/jobs/fair-share";
import type { Db } from "@insights/shared/db/client";
import type { ChunkWake } from "./chunk-wake.ts";
import type { ChunkDispatcher } from "./chunks.ts";

/**
 * Chunk jobs through BullMQ, each at its workspace's fair priority. Only chunks without a job get one (and a
 * place in the workspace's virtual time): handing the same chunks out again costs the workspace nothing.
 */
export function createChunkDispatcher(deps: {
  db: Db;
  queues: JobQueues;
  fair: FairShare;
  wake: ChunkWake;
  redispatchMs: number;
}): ChunkDispatcher {
  const { db, queues, fair, wake, redispatchMs } = deps;
  return {
    listen: wake.listen,
    redispatchMs,
    async dispatch(pack, indexes, { planned, call }) {
      let payloads = indexes.map((index) => ({
        packId: pack.id,
        generation: pack.generation,
        index,
        model: call.model,
        reasoningEffort: call.reasoningEffort,
      }));
      // Chunks planned just now have no job yet; chunks handed out before may have one in any state.
      if (!planned) {
        const existing = await Promise.all(payloads.map((p) => queues.packChunks.getJob(jobIdOf("extractChunk", p))));
        // A chunk job that completed without finishing its chunk (removed from under its worker, say) gives way to a
        // new one; one that failed for good fails the run (its worker may not have been able to record it).
        const states = await Promise.all(existing.map((job) => job?.getState()));
        const failed = existing.find((_job, i) => states[i] === "failed");
        if (failed) return failed.failedReason || "unknown reason";
        await Promise.all(existing.map((job, i) => (states[i] === "completed" ? job!.remove() : undefined)));
        payloads = payloads.filter((_, i) => !existing[i] || states[i] === "completed");
      }
      if (payloads.length === 0) return null;
      const priorities = await fair.assign(pack.clientId, payloads.length, await schedulingWeightOf(db, pack.clientId));
      await enqueueMany(
        queues,
        "extractChunk",
        payloads.map((payload, i) => ({ payload, options: { priority: priorities[i]! } })),
      );
      return null;
    },
  };
}
