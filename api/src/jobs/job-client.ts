// The API's one way to reach the queues. Postgres rows are the truth: a pack or reply row in PENDING *is* the
// request for work, and the worker's reconciler enqueues any that lack a job. So the API commits first and enqueues
// after; a failed enqueue is logged, never lost. Before a write that needs the queue, the API checks that Redis is
// reachable and answers 503 when it is not, rather than accept work nobody can start for a while.
import type { Redis } from "ioredis";
import type { Db } from "@insights/shared/db/client";
import type { Logger } from "@insights/shared/logger";
import { publishPackCancellation } from "@insights/shared/jobs/cancellation";
import type { JobKey, JobPayload } from "@insights/shared/jobs/catalog";
import { createFairShare, enqueuePackJob } from "@insights/shared/jobs/fair-share";
import { enqueue, removeQueuedJob, type JobQueues } from "@insights/shared/jobs/job-queues";
import { AppError } from "../http/app-error.ts";

export interface JobClient {
  /** Throws 503 UNAVAILABLE when the queue cannot take work now. */
  assertAvailable(): void;
  /** Call after the transaction that made the work durable has committed. */
  enqueueCommitted<K extends JobKey>(key: K, payload: JobPayload<K>): Promise<void>;
  /** `enqueueCommitted` for a pack run's job, at its workspace's fair place in the pack queue. */
  enqueuePack(pack: { id: string; generation: number; clientId: string }): Promise<void>;
  /** Stops a pack's work in every worker, and drops its job if it has not started. */
  cancelPack(packId: string, generation: number): Promise<void>;
}

export function createJobClient(deps: { db: Db; queues: JobQueues; redis: Redis; prefix: string; logger: Logger }): JobClient {
  const { db, queues, redis, prefix, logger } = deps;
  const fair = createFairShare({ redis, prefix, queues, queue: "packs", logger });
  const afterCommit = async (job: string, payload: unknown, enqueueJob: () => Promise<unknown>) => {
    try {
      await enqueueJob();
    } catch (err) {
      logger.warn({ err, job, payload }, "enqueue failed after commit; the reconciler will enqueue it");
    }
  };
  return {
    assertAvailable() {
      if (redis.status !== "ready") {
        throw new AppError("UNAVAILABLE", "the job queue (Redis) is unavailable; retry shortly");
      }
    },
    enqueueCommitted: (key, payload) => afterCommit(key, payload, () => enqueue(queues, key, payload)),
    enqueuePack: (pack) => afterCommit("buildPack", pack, () => enqueuePackJob({ db, queues, fair }, pack)),
    async cancelPack(packId, generation) {
      try {
        await Promise.all([publishPackCancellation(redis, prefix, packId), removeQueuedJob(queues, "buildPack", { packId, generation })]);
      } catch (err) {
        // The pack row already says CANCELLED (or is gone); a worker checks that between leads.
        logger.warn({ err, packId }, "could not signal cancellation; the worker will see it in the database");
      }
    },
  };
}
