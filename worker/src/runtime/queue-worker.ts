// A BullMQ Worker for one queue of the job catalog: it parses each payload again before its handler runs (a payload
// that fails its schema is a bug, failed without retry), and tells the job's hook when it has used its last attempt.
import { DelayedError, UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { JOBS, parsePayload, type JobKey, type JobPayload } from "@insights/shared/jobs/catalog";
import { QUEUES, type QueueKey } from "@insights/shared/jobs/queues";
import type { Logger } from "@insights/shared/logger";
import { bullmqTelemetry } from "@insights/shared/tracing";
import { ReleaseJob, type StopReason } from "./cancellations.ts";
import type { WorkerMetrics } from "./metrics.ts";

export interface JobContext {
  job: Job;
  /** The job's child logger (jobId, job, attempt): handlers log through it so every line names its job. */
  log: Logger;
  /**
   * BullMQ's own signal for this attempt. It aborts with a `StopReason`: "cancelled" when a cancellation message
   * names the job's pack, "shutdown" when this process stops (the handler then throws `ReleaseJob`).
   */
  signal: AbortSignal;
}

export interface JobHandler<K extends JobKey> {
  run: (payload: JobPayload<K>, context: JobContext) => Promise<unknown>;
  /**
   * After the last attempt failed (or the failure was unrecoverable). `null` says on purpose that nothing needs
   * recording: the job's next run makes up for it.
   */
  onFinalFailure: ((payload: JobPayload<K>, reason: string) => Promise<void>) | null;
}

/** One handler for every job of the catalog: a job added to the catalog without one does not compile. */
export type JobHandlers = { [K in JobKey]: JobHandler<K> };

/**
 * The jobs this process runs now, over all its queue workers. BullMQ keeps each job's abort controller but lists
 * neither its jobs nor their data, so a cancellation that names a pack (not a job id) finds the pack's jobs here.
 */
export class RunningJobs {
  private readonly jobs = new Map<Job, Worker>();

  add(job: Job, worker: Worker): void {
    this.jobs.set(job, worker);
  }

  delete(job: Job): void {
    this.jobs.delete(job);
  }

  /** Aborts the signal of every running job that `matches`. */
  cancel(matches: (job: Job) => boolean, reason: StopReason): void {
    for (const [job, worker] of this.jobs) if (job.id && matches(job)) worker.cancelJob(job.id, reason);
  }
}

export interface QueueWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  logger: Logger;
  /** The whole map; this worker runs the entries of its queue. */
  handlers: JobHandlers;
  /** Where this worker lists the jobs it is running, for cancellation. */
  running: RunningJobs;
  /** How long a job's lock lasts without renewal; a crashed worker's job is retried after about this long. */
  lockDurationMs?: number;
  /** Times every job's attempt by job name and outcome. */
  metrics?: WorkerMetrics | undefined;
  /**
   * When set, an attempt that failed because a dependency is down goes back to the queue after `retryMs` without
   * using an attempt, for as long as the outage lasts: only failures of the work itself count towards `attempts`.
   */
  outages?: { isOutage: (err: unknown) => Promise<boolean>; retryMs: number } | undefined;
  /** The delay before retry n (attemptsMade = n) of jobs whose backoff type is custom (not fixed/exponential). */
  backoffStrategy?: (attemptsMade: number) => number;
}

/** A catalog entry bound to its handler, taking the raw job data BullMQ hands over. */
interface BoundJob {
  run(data: unknown, context: JobContext): Promise<unknown>;
  onFinalFailure(data: unknown, reason: string): Promise<void>;
}

function bindJob<K extends JobKey>(key: K, handler: JobHandler<K>): BoundJob {
  const name = JOBS[key].name;
  const parse = (data: unknown): JobPayload<K> => {
    const parsed = parsePayload(key, data);
    if (!parsed.success) throw new UnrecoverableError(`payload of ${name} is invalid: ${parsed.error.message}`);
    return parsed.data;
  };
  return {
    run: (data, context) => handler.run(parse(data), context),
    onFinalFailure: async (data, reason) => {
      if (handler.onFinalFailure) await handler.onFinalFailure(parse(data), reason);
    },
  };
}

export function startQueueWorker(queue: QueueKey, options: QueueWorkerOptions): Worker {
  const jobs = new Map<string, BoundJob>(
    (Object.keys(JOBS) as JobKey[])
      .filter((key) => JOBS[key].queue === queue)
      .map((key) => [JOBS[key].name, bindJob(key, options.handlers[key])]),
  );
  // BullMQ hands a signal only to a processor that declares a third parameter.
  const processJob = async (job: Job, token: string | undefined, signal: AbortSignal | undefined) => {
    const bound = jobs.get(job.name);
    if (!bound) throw new UnrecoverableError(`no handler for job "${job.name}" on ${QUEUES[queue]}`);
    if (!signal) throw new Error("BullMQ passed no abort signal");
    // A job taken while the worker was already closing missed `cancelAllJobs`: it stops the same way.
    if (worker.closing && job.id) worker.cancelJob(job.id, "shutdown" satisfies StopReason);
    const log = options.logger.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    options.running.add(job, worker);
    try {
      const result = await bound.run(job.data, { job, log, signal });
      log.debug({ result }, "job done");
      return result;
    } catch (err) {
      if (err instanceof ReleaseJob && token) {
        // Back to the queue now, without using an attempt: another worker (or this one, restarted) resumes it.
        await job.moveToDelayed(Date.now(), token);
        log.info("job released at shutdown");
        throw new DelayedError();
      }
      if (options.outages && token && !(err instanceof UnrecoverableError) && (await options.outages.isOutage(err))) {
        // Redis still answers (this worker holds the job's lock through it); if it does not, the job's lock expires
        // and the stalled-job check hands it to a worker again, also without using an attempt.
        await job.moveToDelayed(Date.now() + options.outages.retryMs, token);
        log.warn({ err, retryInMs: options.outages.retryMs }, "the database is unavailable; the job waits for it without using an attempt");
        throw new DelayedError();
      }
      log.warn({ err }, "job attempt failed");
      throw err;
    } finally {
      options.running.delete(job);
    }
  };
  const worker = new Worker(
    QUEUES[queue],
    options.metrics ? timed(options.metrics, QUEUES[queue], new Set(jobs.keys()), processJob) : processJob,
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      // Look for jobs whose worker died as often as a lock can expire, so recovery takes about one lock period.
      stalledInterval: options.lockDurationMs ?? 30_000,
      maxStalledCount: 2,
      // With tracing on, each attempt is a span continuing the trace of the request that enqueued the job.
      telemetry: bullmqTelemetry(),
      ...(options.backoffStrategy ? { settings: { backoffStrategy: options.backoffStrategy } } : {}),
    },
  );
  worker.on("failed", (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    const bound = jobs.get(job.name);
    if (!final || !bound) return;
    bound
      .onFinalFailure(job.data, err.message)
      .catch((e: unknown) =>
        options.logger.error({ err: e, jobId: job.id }, "could not record a job's final failure; the reconciler will"),
      );
  });
  worker.on("error", (err) => options.logger.error({ err }, "worker error"));
  // Emitted by the one worker whose stalled-job check caught it, so replicas do not count a job twice.
  worker.on("stalled", (jobId) => {
    options.metrics?.stalledJobs.inc({ queue: QUEUES[queue] });
    options.logger.warn({ jobId, queue: QUEUES[queue] }, "job stalled: its worker stopped renewing the lock; put back for another attempt");
  });
  return worker;
}

/**
 * Closes a worker after aborting the jobs it is running (their handlers hand them back to the queue), and waits for
 * them to finish.
 */
export async function closeQueueWorker(worker: Worker): Promise<void> {
  // close() marks the worker closing at once, so a job it takes from here on cancels itself (see processJob).
  const closed = worker.close();
  worker.cancelAllJobs("shutdown" satisfies StopReason);
  await closed;
}

/** Observes each attempt's duration; a DelayedError is a job handed back at shutdown, not a failure. */
function timed(
  metrics: WorkerMetrics,
  queue: string,
  known: Set<string>,
  processJob: (job: Job, token: string | undefined, signal: AbortSignal | undefined) => Promise<unknown>,
) {
  return async (job: Job, token: string | undefined, signal: AbortSignal | undefined) => {
    // The job's first start only: a later one (a retry's backoff, a job handed back at shutdown or during an outage,
    // a stalled job put back) would count time the job spent somewhere other than waiting for a worker.
    if (job.attemptsStarted === 1) {
      const readyAt = job.timestamp + (job.opts.delay ?? 0);
      metrics.queueWait.observe({ queue }, Math.max(0, (job.processedOn ?? Date.now()) - readyAt) / 1000);
    }
    const end = metrics.jobDuration.startTimer({ queue, job: known.has(job.name) ? job.name : "unknown" });
    try {
      const result = await processJob(job, token, signal);
      end({ outcome: "completed" });
      return result;
    } catch (err) {
      end({ outcome: err instanceof DelayedError ? "released" : "failed" });
      throw err;
    }
  };
}
