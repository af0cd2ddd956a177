// Fair share between workspaces on open-source BullMQ: every pack job and every chunk job gets a priority that is its
// workspace's virtual finish time on that queue (start-time fair queuing). One Redis hash per queue holds the virtual
// clock `v` (the priority of the latest job a worker started) and each workspace's last finish `f:<clientId>`. A
// workspace's next job finishes at max(v, its last finish) + cost, so a workspace with 500 queued jobs and one that
// just arrived with 1 get their next job served in turn: the newcomer's job lands at v + cost, ahead of the big
// backlog's tail. Workers take the lowest priority first, whatever process queued it, so this holds for any number
// of API and worker processes. Pack jobs (selection, planning, synthesis) are ordered so, and so are chunk jobs (the
// extraction): a workspace's many queued packs never hold another workspace's pack behind them.
import type { Redis } from "ioredis";
import type { Db } from "../db/client.ts";
import type { Logger } from "../logger.ts";
import { redisScript } from "../redis-script.ts";
import { enqueue, type JobQueues } from "./job-queues.ts";
import type { QueueKey } from "./queues.ts";

/** BullMQ's lowest priority (2^21 - 1). */
const MAX_PRIORITY = 2_097_151;
/**
 * Past this, the clock starts over at the next assignment that finds the queue empty (no job waiting, prioritized,
 * delayed or running: none holds an old priority that new ones would pass, nor can one come back with it) and no
 * assignment in the last RESET_QUIET_MS (a job assigned a priority just before may still be on its way to the queue).
 */
const RESET_AT = 1_000_000;
const RESET_QUIET_MS = 10_000;
/** A clock idle this long is dropped: every workspace starts equal again, and stale workspaces leave the hash. */
const IDLE_TTL_SECONDS = 24 * 3600;

// KEYS: the hash, then the queue's wait, active, prioritized and delayed keys. ARGV: workspace, jobs, cost (already
// divided by the workspace's weight), max priority, ttl, reset point, quiet ms. Returns the clock as it found it, 1 if
// it started over (0 if not), then each job's priority. Finish times keep their fractions (a weight of 3 advances a
// third of the cost); priorities are whole numbers, so jobs whose finish rounds up to the same one are served in the
// order queued. The start-over check and the assignment are one script: no other assignment or job can come between.
const ASSIGN = redisScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local startedOver = 0
if v > tonumber(ARGV[6])
  and now - tonumber(redis.call('HGET', KEYS[1], 'assigned-at') or '0') >= tonumber(ARGV[7])
  and redis.call('LLEN', KEYS[2]) == 0 and redis.call('LLEN', KEYS[3]) == 0
  and redis.call('ZCARD', KEYS[4]) == 0 and redis.call('ZCARD', KEYS[5]) == 0 then
  redis.call('DEL', KEYS[1])
  startedOver = 1
end
local from = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local field = 'f:' .. ARGV[1]
local finish = math.max(from, tonumber(redis.call('HGET', KEYS[1], field) or '0'))
local out = {v, startedOver}
for i = 1, tonumber(ARGV[2]) do
  finish = finish + tonumber(ARGV[3])
  out[i + 2] = math.min(math.ceil(finish), tonumber(ARGV[4]))
end
redis.call('HSET', KEYS[1], field, finish, 'assigned-at', now)
redis.call('EXPIRE', KEYS[1], ARGV[5])
return out`);

// KEYS[1]: the hash. ARGV: the priority of a chunk a worker just started. The clock only moves forward.
const ADVANCE = redisScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if tonumber(ARGV[1]) > v then redis.call('HSET', KEYS[1], 'v', ARGV[1]) end
return 0`);

export interface FairShare {
  /**
   * Priorities for a workspace's next `count` jobs on this queue. `weight` is the workspace's share relative to the
   * others (its `schedulingWeight`, 1 by default): a workspace of weight 3 gets three jobs served for every one of a
   * workspace of weight 1 while both have work queued.
   */
  assign(clientId: string, count: number, weight: number): Promise<number[]>;
  /** A worker started a job of this priority: the virtual clock moves up to it. */
  started(priority: number): Promise<void>;
}

/** The queues served fairly (one clock each). */
type FairQueue = Extract<QueueKey, "packs" | "packChunks">;
/** Virtual time one job costs a workspace of weight 1; of weight w, COST / w (see ASSIGN for the rounding). */
const COST = 10;

export function createFairShare(options: { redis: Redis; prefix: string; queues: JobQueues; queue: FairQueue; logger: Logger }): FairShare {
  const queue = options.queues[options.queue];
  // Same prefix as the queues: with a hash-tagged prefix ({insights}) on Redis Cluster, it shares their slot.
  const key = `${options.prefix}:fair-share:${options.queue}`;
  return {
    async assign(clientId, count, weight) {
      const [clockWas, startedOver, ...priorities] = (
        (await ASSIGN.run(
          options.redis,
          [key, queue.keys.wait!, queue.keys.active!, queue.keys.prioritized!, queue.keys.delayed!],
          [clientId, count, COST / Math.max(1, weight), MAX_PRIORITY, IDLE_TTL_SECONDS, RESET_AT, RESET_QUIET_MS],
        )) as number[]
      ).map(Number);
      if (startedOver === 1) {
        options.logger.info({ queue: queue.name, virtualTime: clockWas }, "fair-share clock started over (the queue was empty)");
      }
      return priorities;
    },
    async started(priority) {
      await ADVANCE.run(options.redis, [key], [priority]);
    },
  };
}

/** The workspace's `schedulingWeight` (1 for a workspace that is gone: its job then ends on its own). */
export async function schedulingWeightOf(db: Db, clientId: string): Promise<number> {
  return (await db.client.findUnique({ where: { id: clientId }, select: { schedulingWeight: true } }))?.schedulingWeight ?? 1;
}

/** Enqueues a pack run's job at its workspace's fair place in the pack queue. */
export async function enqueuePackJob(
  deps: { db: Db; queues: JobQueues; fair: FairShare },
  pack: { id: string; generation: number; clientId: string },
): Promise<void> {
  const [priority] = await deps.fair.assign(pack.clientId, 1, await schedulingWeightOf(deps.db, pack.clientId));
  await enqueue(deps.queues, "buildPack", { packId: pack.id, generation: pack.generation }, { priority: priority! });
}
