// A BullMQ Worker for one queue of the job catalog: it parses each payload again before its handler runs (a payload
// that fails its schema is a bug, failed without retry), and tells the caller when a job has used its last attempt.
import { DelayedError, UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { JOBS, type JobKey, type JobPayload } from "@insights/shared/jobs/catalog";
import { QUEUES, type QueueKey } from "@insights/shared/jobs/queues";
import type { Logger } from "@insights/shared/logger";
import { bullmqTelemetry } from "@insights/shared/tracing";
import { ReleaseJob } from "./cancellations.ts";
import type { WorkerMetrics } from "./metrics.ts";

/** `log` is the job's child logger (jobId, job, attempt): handlers log through it so every line names its job. */
export type JobHandlers = { [K in JobKey]?: (payload: JobPayload<K>, job: Job, log: Logger) => Promise<unknown> };

export interface QueueWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  logger: Logger;
  handlers: JobHandlers;
  /** After the last attempt failed (or the failure was unrecoverable). */
  onFinalFailure?: <K extends JobKey>(key: K, payload: JobPayload<K>, reason: string) => Promise<void>;
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

export function startQueueWorker(queue: QueueKey, options: QueueWorkerOptions): Worker {
  const keyByName = new Map<string, JobKey>(
    (Object.keys(JOBS) as JobKey[]).filter((k) => JOBS[k].queue === queue).map((k) => [JOBS[k].name, k]),
  );
  const processJob = async (job: Job, token: string | undefined) => {
    const key = keyByName.get(job.name);
    if (!key) throw new UnrecoverableError(`no handler for job "${job.name}" on ${QUEUES[queue]}`);
    const parsed = JOBS[key].payload.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`payload of ${job.name} is invalid: ${parsed.error.message}`);
    const handler = options.handlers[key] as ((p: unknown, j: Job, l: Logger) => Promise<unknown>) | undefined;
    if (!handler) throw new UnrecoverableError(`this worker has no handler for ${job.name}`);
    const log = options.logger.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    try {
      const result = await handler(parsed.data, job, log);
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
    }
  };
  const worker = new Worker(
    QUEUES[queue],
    options.metrics ? timed(options.metrics, QUEUES[queue], keyByName, processJob) : processJob,
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
    if (!job || !options.onFinalFailure) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    const key = keyByName.get(job.name);
    if (!final || !key) return;
    options.onFinalFailure(key, job.data, err.message).catch((e: unknown) =>
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

/** Observes each attempt's duration; a DelayedError is a job handed back at shutdown, not a failure. */
function timed(
  metrics: WorkerMetrics,
  queue: string,
  known: Map<string, JobKey>,
  processJob: (job: Job, token: string | undefined) => Promise<unknown>,
) {
  return async (job: Job, token: string | undefined) => {
    // The job's first start only: a later one (a retry's backoff, a job handed back at shutdown or during an outage,
    // a stalled job put back) would count time the job spent somewhere other than waiting for a worker.
    if (job.attemptsStarted === 1) {
      const readyAt = job.timestamp + (job.opts.delay ?? 0);
      metrics.queueWait.observe({ queue }, Math.max(0, (job.processedOn ?? Date.now()) - readyAt) / 1000);
    }
    const end = metrics.jobDuration.startTimer({ queue, job: known.has(job.name) ? job.name : "unknown" });
    try {
      const result = await processJob(job, token);
      end({ outcome: "completed" });
      return result;
    } catch (err) {
      end({ outcome: err instanceof DelayedError ? "released" : "failed" });
      throw err;
    }
  };
}
