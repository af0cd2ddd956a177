// Hands a pack run's chunks out as chunk jobs, fairly across workspaces (see shared/src/jobs/fair-share.ts).
import { jobIdOf } from "@insights/shared/jobs/catalog";
import { enqueueMany, type JobQueues } from "@insights/shared/jobs/job-queues";
import { schedulingWeightOf, type FairShare } from "@insights/shared/jobs/fair-share";
import type { Db } from "@insights/shared/db/client";
import type { Logger } from "@insights/shared/logger";
import type { ChunkWake } from "./chunk-wake.ts";
import type { ChunkDispatcher } from "./chunks.ts";

/** How long a count of the chunk queue's workers is used. */
const SLOTS_TTL_MS = 5_000;

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
  /** This process's CHUNK_CONCURRENCY, taken as every process's. */
  chunkConcurrency: number;
  logger: Logger;
}): ChunkDispatcher {
  const { db, queues, fair, wake, redispatchMs } = deps;
  let known: { at: number; processes: number } | null = null;
  return {
    listen: wake.listen,
    redispatchMs,
    async slots() {
      // BullMQ lists the chunk queue's workers from Redis's client list (CLIENT LIST), so once per few seconds. A
      // Redis that refuses CLIENT LIST leaves the count unknown, and packs are planned in PACK_CHUNK_SIZE chunks.
      if (!known || Date.now() - known.at > SLOTS_TTL_MS) {
        try {
          const workers = await queues.packChunks.getWorkers();
          // BullMQ answers a refused CLIENT LIST with one placeholder entry of this name.
          const listed = !workers.some((w) => w.name === "GCP does not support client list");
          known = { at: Date.now(), processes: listed ? workers.length : 0 };
        } catch (err) {
          deps.logger.warn({ err: (err as Error).message }, "chunk workers not counted (CLIENT LIST refused?); chunks of PACK_CHUNK_SIZE");
          known = { at: Date.now(), processes: 0 };
        }
      }
      // This process takes chunks too, so a count of none means the list did not show them.
      return known.processes > 0 ? { processes: known.processes, slots: known.processes * deps.chunkConcurrency } : null;
    },
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
