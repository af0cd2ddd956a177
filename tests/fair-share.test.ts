// The fair-share clock (shared/src/jobs/fair-share.ts) on the real Redis and BullMQ queues of a prefix of its own:
// it starts over only when nothing queued or running could hold an old priority, and the check and the start-over
// are one step for every process that assigns.
import { Worker } from "bullmq";
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { closeJobQueues, createJobQueues, type JobQueues } from "@insights/shared/jobs/job-queues";
import { createFairShare, type FairShare } from "@insights/shared/jobs/fair-share";
import { QUEUES } from "@insights/shared/jobs/queues";
import { createLogger } from "@insights/shared/logger";
import { createRedis } from "@insights/shared/redis";
import { deleteKeys } from "./support/redis-keys.ts";

const redis = createRedis(inject("redisUrl"), { role: "fair-share-test" });
afterAll(() => redis.quit());

let prefix: string;
let queues: JobQueues;
let fair: FairShare;
const clockKey = () => `${prefix}:fair-share:packChunks`;

beforeEach(() => {
  prefix = `${inject("queuePrefix")}-fair-${Math.random().toString(36).slice(2, 8)}`;
  queues = createJobQueues(redis, prefix);
  fair = createFairShare({ redis, prefix, queues, queue: "packChunks", logger: createLogger("fair-share-test", "silent") });
});
afterEach(async () => {
  await closeJobQueues(queues);
  await deleteKeys(inject("redisUrl"), `${prefix}*`);
});

/** A clock far along (past its start-over point), last assigned `agoMs` ago, with one workspace's finish on it. */
async function clockFarAlong(agoMs: number) {
  const now = Date.now();
  await redis.hset(clockKey(), "v", 1_500_000, "f:big", 1_500_400, "assigned-at", now - agoMs);
}

/** A chunk job of some pack, added the way the dispatcher adds them. */
const addChunkJob = (options: { priority?: number; delay?: number }) =>
  queues.packChunks.add("extract-chunk", { packId: "p", generation: 1, index: 0 }, options);

describe("the fair-share clock", () => {
  it("serves a workspace's first job at the clock, ahead of another's backlog", async () => {
    const big = await fair.assign("big", 5, 1);
    const small = await fair.assign("small", 1, 1);
    expect(big).toEqual([10, 20, 30, 40, 50]);
    expect(small).toEqual([10]);
  });

  it("starts over when nothing is queued or running and nothing was assigned for a while", async () => {
    await clockFarAlong(60_000);
    expect(await fair.assign("small", 2, 1)).toEqual([10, 20]);
    // Every workspace starts equal again.
    expect(await fair.assign("big", 1, 1)).toEqual([10]);
  });

  it("does not start over while a job waits, is delayed or runs: it would come back behind every new one", async () => {
    const states = {
      prioritized: () => addChunkJob({ priority: 1_500_010 }),
      wait: () => addChunkJob({}),
      delayed: () => addChunkJob({ delay: 3600_000, priority: 1_500_010 }),
      active: async () => {
        await addChunkJob({ priority: 1_500_010 });
        const taker = new Worker(QUEUES.packChunks, null, { connection: redis, prefix, autorun: false });
        await taker.getNextJob("test-token");
        await taker.close();
      },
    };
    for (const [state, make] of Object.entries(states) as Array<[keyof typeof states, () => Promise<unknown>]>) {
      await queues.packChunks.obliterate({ force: true });
      await redis.del(clockKey());
      await clockFarAlong(60_000);
      await make();
      expect(await queues.packChunks.getJobCounts(state)).toEqual({ [state]: 1 });
      expect(await fair.assign("small", 1, 1), state).toEqual([1_500_010]);
    }
  });

  it("does not start over right after an assignment, whose job may still be on its way to the queue", async () => {
    await clockFarAlong(1_000);
    expect(await fair.assign("small", 1, 1)).toEqual([1_500_010]);
  });

  it("starts over once for many processes assigning at the same moment, and keeps every one's place (many rounds)", async () => {
    for (let round = 0; round < 20; round++) {
      await redis.del(clockKey());
      await clockFarAlong(60_000);
      // Twelve workspaces' assignments from twelve processes at once: each is served first in its turn, none loses
      // its finish to another's start-over.
      const sharers = Array.from({ length: 12 }, () =>
        createFairShare({ redis, prefix, queues, queue: "packChunks", logger: createLogger("fair-share-test", "silent") }),
      );
      const assigned = await Promise.all(sharers.map((sharer, i) => sharer.assign(`ws-${i}`, 1, 1)));
      expect(assigned).toEqual(Array(12).fill([10]));
      const finishes = await redis.hgetall(clockKey());
      for (let i = 0; i < 12; i++) expect(Number(finishes[`f:ws-${i}`]), `ws-${i}`).toBe(10);
      expect(finishes["f:big"]).toBeUndefined();
    }
  });
});
