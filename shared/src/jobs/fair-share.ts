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
/** Past this, the clock starts over as soon as no job is waiting (nothing queued holds an old priority then). */
const RESET_AT = 1_000_000;
/** A clock idle this long is dropped: every workspace starts equal again, and stale workspaces leave the hash. */
const IDLE_TTL_SECONDS = 24 * 3600;

// KEYS[1]: the hash. ARGV: workspace, jobs, cost (already divided by the workspace's weight), max priority, ttl.
// Returns each job's priority. Finish times keep their fractions (a weight of 3 advances a third of the cost);
// priorities are whole numbers, so jobs whose finish rounds up to the same one are served in the order queued.
const ASSIGN = redisScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local field = 'f:' .. ARGV[1]
local finish = math.max(v, tonumber(redis.call('HGET', KEYS[1], field) or '0'))
local out = {}
for i = 1, tonumber(ARGV[2]) do
  finish = finish + tonumber(ARGV[3])
  out[i] = math.min(math.ceil(finish), tonumber(ARGV[4]))
end
redis.call('HSET', KEYS[1], field, finish)
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
      const v = Number((await options.redis.hget(key, "v")) ?? 0);
      if (v > RESET_AT) {
        const counts = await queue.getJobCounts("prioritized", "waiting", "delayed");
        if (Object.values(counts).every((n) => n === 0)) {
          await options.redis.del(key);
          options.logger.info({ queue: queue.name, virtualTime: v }, "fair-share clock started over (no job was waiting)");
        }
      }
      const priorities = (await ASSIGN.run(
        options.redis,
        [key],
        [clientId, count, COST / Math.max(1, weight), MAX_PRIORITY, IDLE_TTL_SECONDS],
      )) as number[];
      return priorities.map(Number);
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
