// Fair share between workspaces on open-source BullMQ: every chunk job gets a priority that is its workspace's
// virtual finish time (start-time fair queuing). One Redis hash holds the virtual clock `v` (the priority of the
// latest chunk a worker started) and each workspace's last finish `f:<clientId>`. A workspace's next chunk finishes
// at max(v, its last finish) + cost, so a workspace with 500 queued chunks and one that just arrived with 1 get their
// next chunk served in turn: the newcomer's chunk lands at v + cost, ahead of the big backlog's tail. Workers take
// the lowest priority first, whatever process queued it, so this holds for any number of worker processes.
import type { Redis } from "ioredis";
import { jobIdOf } from "@insights/shared/jobs/catalog";
import { enqueueMany, type JobQueues } from "@insights/shared/jobs/job-queues";
import type { Logger } from "@insights/shared/logger";
import type { ChunkWake } from "./chunk-wake.ts";
import type { ChunkDispatcher } from "./chunks.ts";

/** Virtual time one chunk costs a workspace. */
const CHUNK_COST = 10;
/** BullMQ's lowest priority (2^21 - 1). */
const MAX_PRIORITY = 2_097_151;
/** Past this, the clock starts over as soon as no chunk is waiting (nothing queued holds an old priority then). */
const RESET_AT = 1_000_000;
/** A clock idle this long is dropped: every workspace starts equal again, and stale workspaces leave the hash. */
const IDLE_TTL_SECONDS = 24 * 3600;

// KEYS[1]: the hash. ARGV: workspace, chunks, cost, max priority, ttl. Returns each chunk's priority.
const ASSIGN = `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local field = 'f:' .. ARGV[1]
local finish = math.max(v, tonumber(redis.call('HGET', KEYS[1], field) or '0'))
local out = {}
for i = 1, tonumber(ARGV[2]) do
  finish = finish + tonumber(ARGV[3])
  out[i] = math.min(finish, tonumber(ARGV[4]))
end
redis.call('HSET', KEYS[1], field, finish)
redis.call('EXPIRE', KEYS[1], ARGV[5])
return out`;

// KEYS[1]: the hash. ARGV: the priority of a chunk a worker just started. The clock only moves forward.
const ADVANCE = `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if tonumber(ARGV[1]) > v then redis.call('HSET', KEYS[1], 'v', ARGV[1]) end
return 0`;

export interface FairShare {
  /** Priorities for a workspace's next `count` chunks. */
  assign(clientId: string, count: number): Promise<number[]>;
  /** A worker started a chunk of this priority: the virtual clock moves up to it. */
  started(priority: number): Promise<void>;
}

export function createFairShare(options: { redis: Redis; prefix: string; queues: JobQueues; logger: Logger }): FairShare {
  // Same prefix as the queues: with a hash-tagged prefix ({insights}) on Redis Cluster, it shares their slot.
  const key = `${options.prefix}:fair-share`;
  return {
    async assign(clientId, count) {
      const v = Number((await options.redis.hget(key, "v")) ?? 0);
      if (v > RESET_AT) {
        const counts = await options.queues.packChunks.getJobCounts("prioritized", "waiting", "delayed");
        if (Object.values(counts).every((n) => n === 0)) {
          await options.redis.del(key);
          options.logger.info({ virtualTime: v }, "fair-share clock started over (no chunk was waiting)");
        }
      }
      const priorities = (await options.redis.eval(
        ASSIGN,
        1,
        key,
        clientId,
        count,
        CHUNK_COST,
        MAX_PRIORITY,
        IDLE_TTL_SECONDS,
      )) as number[];
      return priorities.map(Number);
    },
    async started(priority) {
      await options.redis.eval(ADVANCE, 1, key, priority);
    },
  };
}

/**
 * Chunk jobs through BullMQ, each at its workspace's fair priority. Only chunks without a job get one (and a
 * place in the workspace's virtual time): handing the same chunks out again costs the workspace nothing.
 */
export function createChunkDispatcher(queues: JobQueues, fair: FairShare, wake: ChunkWake): ChunkDispatcher {
  return {
    listen: wake.listen,
    async dispatch(pack, indexes, { planned }) {
      let payloads = indexes.map((index) => ({ packId: pack.id, generation: pack.generation, index }));
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
      const priorities = await fair.assign(pack.clientId, payloads.length);
      await enqueueMany(
        queues,
        "extractChunk",
        payloads.map((payload, i) => ({ payload, options: { priority: priorities[i]! } })),
      );
      return null;
    },
  };
}
