// Every job the service runs: its queue, name, payload schema, retry policy and id. Producers (the API) and the
// worker's handlers both take their types from these schemas; nobody writes a payload type by hand.
//
// Payloads carry ids, not documents: handlers load current state from Postgres. Payload schemas only grow: a new
// field is optional, with a comment that jobs queued before it lack it.
import { z } from "zod";
import type { JobsOptions } from "bullmq";
import type { QueueKey } from "./queues.ts";

interface JobDefinition<S extends z.ZodType> {
  queue: QueueKey;
  name: string;
  payload: S;
  /**
   * A deterministic id makes enqueueing idempotent: BullMQ ignores an add whose id already exists, so a retried
   * request or a reconciler pass never creates a second job for the same work.
   */
  jobId: (payload: z.infer<S>) => string;
  options: JobsOptions;
}

const define = <S extends z.ZodType>(definition: JobDefinition<S>) => definition;

const id = z.string().min(1).max(128);

export const JOBS = {
  buildPack: define({
    queue: "packs",
    name: "pack.build",
    payload: z.object({ packId: id, generation: z.number().int().positive() }),
    // One job per pack run; a recompute bumps the generation and so gets a new job.
    jobId: (p) => `pack-${p.packId}-g${p.generation}`,
    options: {
      attempts: 3,
      backoff: { type: "exponential", delay: 5_000 },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  }),
  answerMessage: define({
    queue: "replies",
    name: "reply.answer",
    payload: z.object({ messageId: id }),
    jobId: (p) => `reply-${p.messageId}`,
    options: {
      attempts: 3,
      backoff: { type: "exponential", delay: 2_000 },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  }),
  purgeExpiredSessions: define({
    queue: "maintenance",
    name: "maintenance.purge-expired-sessions",
    payload: z.object({}),
    jobId: () => "purge-expired-sessions",
    options: { attempts: 3, backoff: { type: "exponential", delay: 60_000 }, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  reconcile: define({
    queue: "maintenance",
    name: "maintenance.reconcile",
    payload: z.object({}),
    jobId: () => "reconcile",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
} as const;

export type JobKey = keyof typeof JOBS;
export type JobPayload<K extends JobKey> = z.infer<(typeof JOBS)[K]["payload"]>;

/** The deterministic id of the job for this payload. */
export function jobIdOf<K extends JobKey>(key: K, payload: JobPayload<K>): string {
  return (JOBS[key].jobId as (p: JobPayload<K>) => string)(payload);
}
