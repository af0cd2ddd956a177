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

/** A custom backoff, computed by the webhooks worker (`backoffStrategy`): its base delay is a worker setting. */
const WEBHOOK_BACKOFF = "webhook";

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
  // One chunk of one pack run's extraction. Chunks belong to the run's generation, not to the pack job's attempt: a
  // pack job taken over by another attempt finds its chunk jobs still there, and their work goes on.
  extractChunk: define({
    queue: "packChunks",
    name: "pack.extract-chunk",
    payload: z.object({
      packId: id,
      generation: z.number().int().positive(),
      index: z.number().int().nonnegative(),
      // The pack run's model and reasoning effort, so every chunk of a run uses the run's, even if the workspace's
      // settings change meanwhile. Chunks queued before these fields lack them and read the settings.
      model: z.string().min(1).max(200).optional(),
      reasoningEffort: z.enum(["low", "medium", "high"]).optional(),
    }),
    jobId: (p) => `chunk-${p.packId}-g${p.generation}-c${p.index}`,
    options: {
      attempts: 3,
      backoff: { type: "exponential", delay: 2_000 },
      removeOnComplete: { age: 3600, count: 5000 },
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
  deliverWebhook: define({
    queue: "webhooks",
    name: "webhook.deliver",
    payload: z.object({ deliveryId: id }),
    jobId: (p) => `webhook-${p.deliveryId}`,
    options: {
      // About a day of retries with the worker's backoff (WEBHOOK_RETRY_BASE_MS doubling, capped at an hour).
      attempts: 30,
      backoff: { type: WEBHOOK_BACKOFF },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  }),
  // Maintenance runs are periodic. Each run's id names its tick (the interval slot it belongs to), so the ticks of
  // every worker process in one slot collapse into one run, and a run that failed (kept in Redis for inspection)
  // never blocks the next slot's: BullMQ ignores an add whose id exists in any state, failed ones included.
  purgeExpiredSessions: define({
    queue: "maintenance",
    name: "maintenance.purge-expired-sessions",
    // Runs queued before ticks existed carry no tick; they still run.
    payload: z.object({ tick: z.number().int().nonnegative().optional() }),
    jobId: (p) => `purge-expired-sessions-t${p.tick ?? 0}`,
    options: {
      attempts: 3,
      backoff: { type: "exponential", delay: 60_000 },
      removeOnComplete: { count: 200 },
      removeOnFail: { count: 100 },
    },
  }),
  reconcile: define({
    queue: "maintenance",
    name: "maintenance.reconcile",
    // Runs queued before ticks existed carry no tick; they still run.
    payload: z.object({ tick: z.number().int().nonnegative().optional() }),
    jobId: (p) => `reconcile-t${p.tick ?? 0}`,
    // Completed runs are kept a while (not removed at once) so a late tick of the same slot finds its id taken.
    options: { attempts: 1, removeOnComplete: { count: 200 }, removeOnFail: { count: 100 } },
  }),
} as const;

export type JobKey = keyof typeof JOBS;
export type JobPayload<K extends JobKey> = z.infer<(typeof JOBS)[K]["payload"]>;

// The catalog seen through its keys: TypeScript follows a generic key from here to that job's own payload type,
// which it cannot do through `z.infer` of `JOBS[K]`. The assignment checks every entry.
const BY_KEY: { readonly [K in JobKey]: JobDefinition<z.ZodType<JobPayload<K>>> } = JOBS;

/** The deterministic id of the job for this payload. */
export function jobIdOf<K extends JobKey>(key: K, payload: JobPayload<K>): string {
  return BY_KEY[key].jobId(payload);
}

/** Checks data against the job's payload schema (BullMQ hands a worker untyped data). */
export function parsePayload<K extends JobKey>(key: K, data: unknown): z.ZodSafeParseResult<JobPayload<K>> {
  return BY_KEY[key].payload.safeParse(data);
}
