// A pack run's extraction in chunks that any worker process can take. The pack job plans the chunks over its PENDING
// leads (one statement, once per selection), hands them out as chunk jobs, waits until every chunk is done, then
// synthesizes: synthesis stays in the one pack job, under the run's token, so it runs exactly once however many
// chunks finish together. A chunk job claims its chunk with a token of its own, so a second attempt at it (the first
// stalled or died) takes it over and the first stops at its next check; a lead moves off PENDING only once. Chunks
// belong to the run's generation, not to the pack job's attempt: a pack job that dies leaves its chunks running.
import { randomUUID } from "node:crypto";
import type { Db, InsightContextPack } from "@insights/shared/db/client";
import type { ModelPolicy } from "@insights/shared/llm-models";
import type { Logger } from "@insights/shared/logger";
import type { LlmCallOptions, LlmProvider } from "../llm/provider.ts";
import { stopReasonOf } from "../runtime/cancellations.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import { Semaphore } from "../runtime/pool.ts";
import type { ChunkWake } from "./chunk-wake.ts";
import { extractPendingLeads, pageOf, PACK_LEAD_THREADS, ResultBatches, type ThreadRow } from "./extract-leads.ts";
import { callOptionsFor, PackRun, type RunCall } from "./pack-run.ts";
import { createProgressWriter, ProgressPacer } from "./progress.ts";

/** Leads per chunk unless configured: small enough to spread a pack over workers, large enough to be few jobs. */
export const DEFAULT_CHUNK_SIZE = 50;

/** Where a pack job sends its chunks (BullMQ in a worker process; see chunk-dispatch.ts), and how it hears back. */
export interface ChunkDispatcher {
  /**
   * Gives each chunk without a live job one (`planned`: the chunks were planned just now, so none has a job yet).
   * Returns the reason of a chunk whose job failed for good, if any.
   */
  dispatch(pack: InsightContextPack, indexes: number[], options: { planned: boolean; call: RunCall }): Promise<string | null>;
  /** Wakes the waiting pack job when its last chunk is done (see chunk-wake.ts). */
  listen: ChunkWake["listen"];
  /** How often a waiting pack job hands its unfinished chunks out again (the reconciler's interval). */
  redispatchMs: number;
  /** The chunk slots of the worker processes taking chunks now, for sizing a pack's chunks (null: unknown). */
  slots(): Promise<{ processes: number; slots: number } | null>;
}

/** What every chunk a worker process runs shares, whichever job (a chunk job, or a pack job's own chunk) runs it. */
export interface ExtractionShare {
  /** The process's LLM budget for extraction (LLM_CONCURRENCY), served fairly across workspaces. */
  llmSlots: Semaphore;
  /** Progress written at most once per interval per pack, however many of its chunks run here. */
  progress: ProgressPacer;
  /** Group commits per pack: the results of its chunks here go out in the same statements. */
  results: ResultBatches;
}

export function createExtractionShare(tuning: { llmConcurrency: number; progressIntervalMs: number }): ExtractionShare {
  return {
    llmSlots: new Semaphore(tuning.llmConcurrency),
    progress: new ProgressPacer(tuning.progressIntervalMs),
    results: new ResultBatches(),
  };
}

export interface ChunkDeps {
  db: Db;
  llm: LlmProvider;
  logger: Logger;
  /** LLM_MODEL and LLM_ALLOWED_MODELS. */
  models: ModelPolicy;
  share: ExtractionShare;
  tuning: { llmConcurrency: number; pageSize: number };
  metrics?: WorkerMetrics | undefined;
}

/** How a pack's chunks are sized: PACK_CHUNK_SIZE, and the chunk slots of the processes that take chunks. */
export interface ChunkSizing {
  /** PACK_CHUNK_SIZE: no chunk is smaller, but for the tail. */
  chunkSize: number;
  /** Chunk slots across the worker processes taking chunks (processes × CHUNK_CONCURRENCY); null when unknown. */
  slots: number | null;
  /** More than one process takes chunks, or that is unknown: the tail goes out in smaller chunks. */
  spread: boolean;
}

/** Chunks planned per chunk slot at least, so that a slot whose chunk ends early finds another. */
const CHUNKS_PER_SLOT = 2;

/**
 * Splits the run's PENDING leads, in selection order, into chunks; a no-op if the run's chunks are already planned (a
 * resumed pack job). Conditional on the run still being current, in one statement under the pack row's lock. True when
 * it planned them now.
 *
 * A chunk costs a job and a few statements, so chunks are no more than the slots can use: CHUNKS_PER_SLOT per chunk
 * slot, and never smaller than PACK_CHUNK_SIZE. One process with 4 slots takes a 2,000-lead pack in 8 chunks of 250,
 * three in chunks of 84. A process that starts later takes the chunks still queued.
 *
 * When more than one process takes chunks, the last quarter of a pack of more than two chunks goes out in chunks a
 * fifth of the size: every process holds up to CHUNK_CONCURRENCY chunks at a time, so when the queue runs dry one
 * process may still hold several whole chunks while the others idle. Small last chunks bound that imbalance (guided
 * self-scheduling, in its simplest form) without paying a job per few leads over the whole pack.
 */
export async function planChunks(run: PackRun, sizing: ChunkSizing): Promise<boolean> {
  // The chunks the slots can use (0: the slots are unknown, and chunks are PACK_CHUNK_SIZE).
  const perSlots = sizing.slots ? CHUNKS_PER_SLOT * sizing.slots : 0;
  // Two attempts of one pack job (a stalled job run again while the first still lives) plan one after the other,
  // under the pack row's lock: the second's statement starts after the first committed, sees its chunks and plans
  // none. In one statement each, both would see no chunks, and plans of different sizes would overlap.
  const planned = await run.db
    .$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM "InsightContextPack" WHERE id = ${run.id} FOR UPDATE`;
      return tx.$executeRaw`
    INSERT INTO "InsightContextPackChunk" ("packId", "index", "fromPosition", "toPosition")
    SELECT ${run.id}, chunk, min(position), max(position)
    FROM (
      SELECT position,
             CASE WHEN rn <= cut THEN (rn - 1) / size
                  ELSE (cut + size - 1) / size + (rn - cut - 1) / ((size + 4) / 5)
             END AS chunk
      FROM (
        SELECT position, rn, size,
               -- With more than one process, the last quarter of a pack of more than two chunks goes out in chunks a
               -- fifth of the size.
               CASE WHEN ${sizing.spread} AND total > 2 * size THEN total - total / 4 ELSE total END AS cut
        FROM (
          SELECT position, row_number() OVER (ORDER BY position) AS rn, count(*) OVER () AS total,
                 CASE WHEN ${perSlots}::int > 0
                      THEN GREATEST(${sizing.chunkSize}::int, ceil(count(*) OVER () / ${perSlots}::numeric)::int)
                      ELSE ${sizing.chunkSize}::int END AS size
          FROM "InsightContextPackLead" WHERE "packId" = ${run.id} AND status = 'PENDING'
        ) counted
      ) numbered
    ) pending
    WHERE EXISTS (SELECT 1 FROM "InsightContextPack" WHERE id = ${run.id} AND generation = ${run.generation}
                  AND status = 'RUNNING' AND "runToken" = ${run.pack.runToken})
      AND NOT EXISTS (SELECT 1 FROM "InsightContextPackChunk" WHERE "packId" = ${run.id})
    GROUP BY chunk
    ON CONFLICT DO NOTHING`;
    })
    .catch(async (err: unknown) => {
      // If the run is gone by now (the pack deleted, cancelled or taken over), that is why: it ends, not an error.
      await run.assertCurrent();
      throw err;
    });
  await run.assertCurrent();
  return planned > 0;
}

/** How many of the run's chunks are not done yet. */
export async function chunksLeft(db: Db, packId: string): Promise<number> {
  return db.insightContextPackChunk.count({ where: { packId, done: false } });
}

export async function unfinishedChunks(db: Db, packId: string): Promise<number[]> {
  const rows = await db.insightContextPackChunk.findMany({
    where: { packId, done: false },
    select: { index: true },
    orderBy: { index: "asc" },
  });
  return rows.map((r) => r.index);
}

/**
 * The pack job's wait: until every chunk is done, the run stops being current (cancelled, deleted, taken over, a
 * chunk's worker recorded its final failure) or the signal aborts. It checks (two indexed reads) whenever a chunk of
 * the pack reports itself the last one (in any process), and every `pollMs` in case that message was lost. Every
 * `redispatchMs` the chunks are handed out again: a chunk whose job went missing gets one, and a chunk job that failed
 * for good while its failure could not be recorded is returned as the run's failure.
 */
export async function awaitChunks(run: PackRun, dispatcher: ChunkDispatcher, call: RunCall, pollMs = 1_000): Promise<string | null> {
  let lastDispatch = Date.now();
  for (;;) {
    // Listening before the check: a chunk that finishes between the two still wakes this wait.
    const listener = dispatcher.listen(run.id);
    try {
      await run.assertCurrent();
      if ((await chunksLeft(run.db, run.id)) === 0) return null;
      if (Date.now() - lastDispatch >= dispatcher.redispatchMs) {
        const failure = await dispatcher.dispatch(run.pack, await unfinishedChunks(run.db, run.id), { planned: false, call });
        if (failure) return failure;
        lastDispatch = Date.now();
      }
      await listener.wait(Math.min(pollMs, dispatcher.redispatchMs), run.signal);
      if (run.signal.aborted) return null; // stopped: the caller reads why from the signal
    } finally {
      listener.close();
    }
  }
}

/** "last": done, and so is every other chunk of the run (its pack job may synthesize). */
export type ChunkOutcome = "done" | "last" | "skipped" | "stopped";

/**
 * Extracts one chunk of the pack run `ref` (its pack id and generation). `controller` is the caller's: a chunk job's
 * own, or the pack job's when it extracts its chunks itself. `call`: the run's model and effort (the workspace's
 * settings when not given). "skipped": the chunk was done already or the run is gone; "stopped": the signal aborted
 * (the caller reads why).
 */
export async function extractChunk(
  deps: ChunkDeps,
  ref: { id: string; generation: number },
  index: number,
  call: Omit<LlmCallOptions, "signal"> | undefined,
  controller: AbortController,
  /** After each progress write has committed, with the row it wrote: the pack's live `pack.updated` event. */
  publish: (row: InsightContextPack) => Promise<void>,
): Promise<ChunkOutcome> {
  const runToken = randomUUID();
  // The claim also reads the chunk's first page of leads with their threads, so a chunk job starts its calls after
  // one round trip. (The page is read in the statement's snapshot; a lead another attempt finishes meanwhile is
  // summarized again at most, and its result written once: see writeResults.)
  const claimed = await deps.db.$queryRaw<
    Array<ThreadRow & Pick<InsightContextPack, "clientId" | "runToken"> & { chunkFrom: number; chunkTo: number }>
  >`
    WITH claimed AS (
      UPDATE "InsightContextPackChunk" c SET "runToken" = ${runToken}
      FROM "InsightContextPack" p
      WHERE c."packId" = ${ref.id} AND c.index = ${index} AND NOT c.done
        AND p.id = c."packId" AND p.generation = ${ref.generation} AND p.status = 'RUNNING'
      RETURNING c."fromPosition", c."toPosition", p."clientId", p."runToken"
    )
    SELECT claimed."fromPosition" AS "chunkFrom", claimed."toPosition" AS "chunkTo", claimed."clientId", claimed."runToken", page.*
    FROM claimed LEFT JOIN LATERAL (
      SELECT ${PACK_LEAD_THREADS}
      WHERE pl."packId" = ${ref.id} AND pl.status = 'PENDING'
        AND pl.position BETWEEN claimed."fromPosition" AND claimed."toPosition"
      ORDER BY pl.position
      LIMIT ${deps.tuning.pageSize}
    ) page ON true`;
  if (!claimed[0]) return "skipped";
  const { chunkFrom: fromPosition, chunkTo: toPosition, clientId, runToken: packToken } = claimed[0];
  const pack = { id: ref.id, generation: ref.generation, clientId, runToken: packToken };

  const run = new PackRun(deps.db, pack, controller, { index, runToken, fromPosition, toPosition });
  await extractPendingLeads(
    run,
    {
      llm: deps.llm,
      call: call ?? { ...(await callOptionsFor(deps.db, pack.clientId, deps.models)), log: deps.logger },
      concurrency: deps.tuning.llmConcurrency,
      llmSlots: deps.share.llmSlots,
      pageSize: deps.tuning.pageSize,
      progress: createProgressWriter(run, deps.share.progress, publish),
      results: deps.share.results,
      metrics: deps.metrics,
    },
    pageOf(claimed, deps.tuning.pageSize),
  );
  if (stopReasonOf(run.signal)) return "stopped";
  // Done only if no lead of the chunk is still PENDING, and only by the attempt that holds the chunk.
  const finished = await deps.db.$executeRaw`
    UPDATE "InsightContextPackChunk" c SET done = true
    WHERE c."packId" = ${ref.id} AND c.index = ${index} AND c."runToken" = ${runToken} AND NOT c.done
      AND NOT EXISTS (SELECT 1 FROM "InsightContextPackLead" pl WHERE pl."packId" = c."packId" AND pl.status = 'PENDING'
                      AND pl.position BETWEEN c."fromPosition" AND c."toPosition")`;
  if (finished === 0) run.ended();
  deps.logger.info({ chunk: index, leads: toPosition - fromPosition + 1 }, "chunk done");
  // Counted after that update committed, in a statement of its own: of chunks finishing together, the one whose
  // update committed last sees every other one done, so some chunk always reports itself the last.
  return (await chunksLeft(deps.db, ref.id)) === 0 ? "last" : "done";
}
