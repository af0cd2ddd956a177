// The producer side: one BullMQ Queue per queue name, and the one typed way to add a job.
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { bullmqTelemetry } from "../tracing.ts";
import { JOBS, jobIdOf, parsePayload, type JobKey, type JobPayload } from "./catalog.ts";
import { QUEUES, type QueueKey } from "./queues.ts";

export type JobQueues = Record<QueueKey, Queue>;

export function createJobQueues(connection: Redis, prefix: string): JobQueues {
  const make = (key: QueueKey) => {
    // With tracing on, each add is a span and the job carries its trace on to the worker.
    const queue = new Queue(QUEUES[key], { connection, prefix, telemetry: bullmqTelemetry() });
    // Connection errors are the shared connection's, reported by its owner (and by /readyz); unheard, BullMQ
    // would print each reconnect attempt to stderr once per queue.
    queue.on("error", () => undefined);
    return queue;
  };
  return {
    packs: make("packs"),
    packChunks: make("packChunks"),
    replies: make("replies"),
    webhooks: make("webhooks"),
    maintenance: make("maintenance"),
  };
}

export async function closeJobQueues(queues: JobQueues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** Validates the payload against the catalog and adds the job under its deterministic id (a no-op if it exists). */
export async function enqueue<K extends JobKey>(
  queues: JobQueues,
  key: K,
  payload: JobPayload<K>,
  options: { priority?: number } = {},
): Promise<string> {
  const [jobId] = await enqueueMany(queues, key, [{ payload, options }]);
  return jobId!;
}

/** `enqueue` for many jobs of one kind, in one round trip. */
export async function enqueueMany<K extends JobKey>(
  queues: JobQueues,
  key: K,
  jobs: Array<{ payload: JobPayload<K>; options?: { priority?: number } }>,
): Promise<string[]> {
  const definition = JOBS[key];
  const bulk = jobs.map(({ payload, options }) => {
    const parsed = parsePayload(key, payload);
    if (!parsed.success) throw parsed.error;
    const jobId = jobIdOf(key, parsed.data);
    return { name: definition.name, data: parsed.data, opts: { ...definition.options, ...options, jobId } };
  });
  if (bulk.length === 1) await queues[definition.queue].add(bulk[0]!.name, bulk[0]!.data, bulk[0]!.opts);
  else if (bulk.length > 1) await queues[definition.queue].addBulk(bulk);
  return bulk.map((job) => job.opts.jobId);
}

/** Removes a job that has not started yet; an active job is left to notice its cancellation itself. */
export async function removeQueuedJob<K extends JobKey>(queues: JobQueues, key: K, payload: JobPayload<K>): Promise<void> {
  const job = await queues[JOBS[key].queue].getJob(jobIdOf(key, payload));
  if (!job) return;
  const state = await job.getState();
  if (state === "waiting" || state === "delayed" || state === "prioritized") {
    await job.remove().catch(() => undefined); // it may have just started; the worker then sees the cancellation
  }
}
