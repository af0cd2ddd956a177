// Extraction: one structured summary per lead thread, cached in LeadConversationInsight and reused while the
// thread's fingerprint, the prompt version and the model are unchanged.
import { Prisma, type Db } from "@insights/shared/db/client";
import { LlmError, type LeadThread, type LlmCallOptions, type LlmProvider, type LlmUsage } from "../llm/provider.ts";
import { PROMPT_VERSION } from "../llm/prompts.ts";
import type { LeadInsight } from "../llm/schemas.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import { forEachConcurrently, type Semaphore } from "../runtime/pool.ts";
import type { PackRun, RunPack } from "./pack-run.ts";
import type { ProgressWriter } from "./progress.ts";

export interface ExtractOptions {
  llm: LlmProvider;
  call: Omit<LlmCallOptions, "signal">;
  /** Lanes this run keeps busy; each LLM call also waits for one of the process's `llmSlots`. */
  concurrency: number;
  llmSlots: Semaphore;
  /** Leads read from Postgres per query; only two pages (this one and the next, read ahead), the calls in flight and
   * at most MAX_UNCOMMITTED results are held in memory. */
  pageSize: number;
  progress: ProgressWriter;
  /** The process's group commits, shared by the chunks of a pack that run in it. */
  results: ResultBatches;
  /** Counts failed leads. */
  metrics?: WorkerMetrics | undefined;
}

/**
 * Summarizes every PENDING lead of the run's chunk, from `firstPage` (read with the chunk's claim) on. Returns when
 * none is left and every result is committed, or early when the run's signal aborts.
 */
export async function extractPendingLeads(run: PackRun<RunPack>, options: ExtractOptions, firstPage: Page): Promise<void> {
  const { writer, release } = options.results.acquire(run, options.llm.modelFor(options.call.model), options.llm.name);
  // This chunk's results not yet committed; the first write that failed stops its lanes.
  const uncommitted = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    await forEachConcurrently(
      pendingThreads(run, options.pageSize, firstPage),
      options.concurrency,
      async (thread) => {
        if (failure) throw failure.error;
        const result = await extractOne(run, thread, options);
        if (result) {
          const committed = writer.write(result).then(
            () => void uncommitted.delete(committed),
            (error: unknown) => void (failure ??= { error }),
          );
          uncommitted.add(committed);
          await writer.room();
        }
        options.progress.tick();
      },
      run.signal,
    );
    await Promise.all(uncommitted);
  } finally {
    release();
  }
  if (failure) throw failure.error;
  await options.progress.flush();
}

interface PendingThread extends LeadThread {
  fingerprint: string;
}

/**
 * Pages through the run's PENDING leads in selection order from `firstPage` on, each further page with its threads in
 * one statement. The next page is read while the current one is being summarized (positions only grow, so it cannot
 * overlap this one), so the lanes never stand idle waiting on Postgres between pages; at most two pages are held in
 * memory.
 */
async function* pendingThreads(run: PackRun<RunPack>, pageSize: number, firstPage: Page): AsyncGenerator<PendingThread> {
  const readPage = (after: number) => {
    const page = (async () => {
      await run.assertCurrent();
      return readPendingPage(run.db, { packId: run.id, after, toPosition: run.chunk?.toPosition }, pageSize);
    })();
    // Awaited only when the lanes reach it (or never, if the run stops first): until then a failure, such as the
    // run found no longer current, must not count as an unhandled rejection. The await below still throws it.
    page.catch(() => undefined);
    return page;
  };
  let page = firstPage;
  while (page.lastPosition !== null) {
    // A page short of pageSize was the last: no lead becomes PENDING again during a run.
    const next = page.full ? readPage(page.lastPosition) : null;
    yield* page.leads;
    if (!next) return;
    page = await next;
  }
}

export interface Page {
  leads: PendingThread[];
  lastPosition: number | null;
  /** pageSize leads: there may be more after it. */
  full: boolean;
}

/**
 * The select list and FROM of pack-lead rows (`pl`) with their threads (lead, campaign, messages): one statement
 * reads a page of leads and everything they need. Messages travel as JSON with `sentAt` in epoch milliseconds. A
 * pack's lead row goes with its lead (ON DELETE CASCADE), so in one statement's snapshot every row has its lead.
 */
export const PACK_LEAD_THREADS = Prisma.sql`
  pl."leadId", pl.position, l.name AS "leadName", l."threadFingerprint" AS fingerprint,
  c.name AS "campaignName",
  COALESCE((SELECT json_agg(json_build_object('direction', m.direction, 'body', m.body,
                                              'sentAt', round(extract(epoch FROM m."sentAt") * 1000))
                            ORDER BY m."sentAt", m.id)
            FROM "LeadMessage" m WHERE m."clientId" = pl."clientId" AND m."leadId" = pl."leadId"), '[]') AS messages
  FROM "InsightContextPackLead" pl
  JOIN "Lead" l ON l."clientId" = pl."clientId" AND l.id = pl."leadId"
  LEFT JOIN "Campaign" c ON c."clientId" = l."clientId" AND c.id = l."campaignId"`;

/** A row of PACK_LEAD_THREADS; `leadId` is null for the one row of a claim whose chunk has no PENDING lead left. */
export interface ThreadRow {
  leadId: string | null;
  position: number;
  leadName: string | null;
  fingerprint: string | null;
  campaignName: string | null;
  messages: Array<{ direction: LeadThread["messages"][number]["direction"]; body: string; sentAt: number }>;
}

/** Rows of PACK_LEAD_THREADS in position order (at most `pageSize` of them), as a page. */
export function pageOf(rows: ThreadRow[], pageSize: number): Page {
  const leads = rows.filter((r) => r.leadId !== null);
  if (leads.length === 0) return { leads: [], lastPosition: null, full: false };
  return {
    leads: leads.map((r) => ({
      leadId: r.leadId!,
      leadName: r.leadName,
      campaignName: r.campaignName,
      fingerprint: r.fingerprint!,
      messages: r.messages.map((m) => ({ direction: m.direction, body: m.body, sentAt: new Date(m.sentAt) })),
    })),
    lastPosition: leads.at(-1)!.position,
    full: leads.length === pageSize,
  };
}

/** Up to `pageSize` PENDING leads of the pack after position `after` (and up to a chunk's last), with threads. */
export async function readPendingPage(
  db: Db,
  where: { packId: string; after: number; toPosition?: number | undefined },
  pageSize: number,
): Promise<Page> {
  const rows = await db.$queryRaw<ThreadRow[]>`
    SELECT ${PACK_LEAD_THREADS}
    WHERE pl."packId" = ${where.packId} AND pl.status = 'PENDING'
      AND pl.position > ${where.after}
      AND pl.position <= ${where.toPosition ?? 2_147_483_647}
    ORDER BY pl.position
    LIMIT ${pageSize}`;
  return pageOf(rows, pageSize);
}

/** The lead's result, or nothing when the run stopped during its call (the lead stays PENDING for whoever resumes). */
async function extractOne(run: PackRun<RunPack>, thread: PendingThread, options: ExtractOptions): Promise<LeadResult | undefined> {
  if (run.signal.aborted) return undefined;
  const log = options.call.log?.child({ leadId: thread.leadId });
  try {
    const { value: insight, usage } = await options.llmSlots.run(
      () => options.llm.extractLeadInsight(thread, { ...options.call, signal: run.signal, log }),
      run.signal,
      run.pack.clientId,
    );
    return { leadId: thread.leadId, status: "EXTRACTED", insight, fingerprint: thread.fingerprint, usage };
  } catch (err) {
    if (run.signal.aborted) return undefined;
    if (!(err instanceof LlmError)) throw err;
    log?.warn({ error: err.message, llmCalls: err.usage.llmCalls }, "lead failed to summarize; the pack goes on without it");
    options.metrics?.failedLeads.inc();
    return { leadId: thread.leadId, status: "FAILED", error: err.message, usage: err.usage };
  }
}

type LeadResult =
  | { leadId: string; status: "EXTRACTED"; insight: LeadInsight; fingerprint: string; usage: LlmUsage }
  | { leadId: string; status: "FAILED"; error: string; usage: LlmUsage };

interface ResultWriter {
  /** Resolves once the result is committed; rejects if its batch's statement failed. */
  write(result: LeadResult): Promise<void>;
  /** Resolves once there is room under MAX_UNCOMMITTED: the lanes' back-pressure. */
  room(): Promise<void>;
}

/** Results per statement at most, and statements of one pack in flight at once (in one process). */
const MAX_BATCH = 64;
const WRITES_IN_FLIGHT = 2;

/**
 * Results a pack's lanes in one process may be ahead of their commits. A lane does not wait for its own result's
 * commit before it takes the next lead, only for room under this bound: with a model faster than PostgreSQL, the
 * lanes would otherwise take turns with the commits, and one small batch would go out per round trip. A crash loses
 * the calls in flight and at most this many results not yet committed; their leads are still PENDING, so the run
 * that resumes summarizes them again and nothing is stored twice. With a model slower than a commit (any real one),
 * each result is committed before the next arrives and the bound is never reached.
 */
export const MAX_UNCOMMITTED = MAX_BATCH * WRITES_IN_FLIGHT;

/**
 * Group commit: results that arrive while a write is in flight go out together in the next one, so a pack pays one
 * statement per batch instead of a transaction per lead, and a slow LLM still sees each result written at once.
 * Two statements may be in flight, so PostgreSQL works on one batch while the next one's results arrive.
 */
function createResultWriter(run: PackRun<RunPack>, model: string, provider: string): ResultWriter {
  const queued: Array<{ result: LeadResult; resolve: () => void; reject: (err: unknown) => void }> = [];
  let writing = 0;
  let uncommitted = 0;
  let waitingForRoom: Array<() => void> = [];
  const drain = async () => {
    while (queued.length > 0) {
      const batch = queued.splice(0, MAX_BATCH);
      try {
        await writeResults(
          run,
          batch.map((b) => b.result),
          model,
          provider,
        );
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
      uncommitted -= batch.length;
      const waiting = waitingForRoom;
      waitingForRoom = [];
      for (const resume of waiting) resume();
    }
    writing--;
  };
  return {
    write(result) {
      uncommitted++;
      return new Promise((resolve, reject) => {
        queued.push({ result, resolve, reject });
        if (writing >= WRITES_IN_FLIGHT) return;
        writing++;
        // One turn of the event loop lets results that finished together share the first write too.
        setImmediate(() => void drain());
      });
    },
    async room() {
      while (uncommitted >= MAX_UNCOMMITTED) await new Promise<void>((resume) => waitingForRoom.push(resume));
    },
  };
}

/**
 * A worker process's group commits, one per pack run (and model): the results of every chunk of a pack that runs
 * here go out in the same statements, so more chunks in one process mean neither smaller batches nor more of them.
 * (The statement is the pack's: it names the pack and moves only leads still PENDING, whichever chunk they are in.)
 */
export class ResultBatches {
  private readonly writers = new Map<string, { writer: ResultWriter; users: number }>();

  /** The pack run's writer, shared while any of its chunks here uses it; `release` when the chunk is done with it. */
  acquire(run: PackRun<RunPack>, model: string, provider: string): { writer: ResultWriter; release(): void } {
    const key = `${run.id}:${run.generation}:${provider}:${model}`;
    let entry = this.writers.get(key);
    if (!entry) {
      entry = { writer: createResultWriter(run, model, provider), users: 0 };
      this.writers.set(key, entry);
    }
    entry.users++;
    const held = entry;
    return {
      writer: held.writer,
      release: () => {
        if (--held.users === 0 && this.writers.get(key) === held) this.writers.delete(key);
      },
    };
  }
}

/**
 * One statement for a batch of results, so each lead's summary, its status and its ledger row land together: a
 * crash after the LLM call loses that call, never a stored summary, and a resumed run never summarizes the lead
 * again. Per lead it moves the lead's status off PENDING (only if it still is, and only while the pack's lead list is
 * the one this run worked from) and, only for the leads it moved, upserts the cached summary and books one EXTRACTION
 * ledger row when the lead cost calls (none for the offline provider, which makes no calls): a second attempt at the
 * same chunk that finished a lead too late books nothing. Timestamps travel as ISO strings cast to timestamp(3), as
 * Prisma stores them.
 */
async function writeResults(run: PackRun<RunPack>, results: LeadResult[], model: string, provider: string): Promise<void> {
  const now = new Date().toISOString();
  const extracted = (r: LeadResult) => (r.status === "EXTRACTED" ? r : null);
  await run.db.$executeRaw`
    WITH input AS (
      SELECT * FROM unnest(
        ${results.map((r) => r.leadId)}::text[],
        ${results.map((r) => r.status)}::text[],
        ${results.map((r) => (r.status === "FAILED" ? r.error : null))}::text[],
        ${results.map((r) => extracted(r)?.insight.outcome ?? null)}::text[],
        ${results.map((r) => {
          const e = extracted(r);
          return e ? JSON.stringify(e.insight) : null;
        })}::text[],
        ${results.map((r) => extracted(r)?.fingerprint ?? null)}::text[],
        ${results.map((r) => r.usage.llmCalls)}::int[],
        ${results.map((r) => r.usage.inputTokens)}::int[],
        ${results.map((r) => r.usage.outputTokens)}::int[]
      ) AS t(lead_id, status, error, outcome, summary, fingerprint, llm_calls, input_tokens, output_tokens)
    ),
    moved AS (
      UPDATE "InsightContextPackLead" pl SET
        "status" = i.status::"PackLeadStatus",
        "error" = COALESCE(i.error, pl."error"),
        "llmCalls" = i.llm_calls,
        "inputTokens" = i.input_tokens,
        "outputTokens" = i.output_tokens
      FROM input i
      WHERE pl."packId" = ${run.id} AND pl."leadId" = ANY(${results.map((r) => r.leadId)}::text[])
        AND pl."leadId" = i.lead_id AND pl."status"::text = 'PENDING'
        -- Only into the list this run worked from: a recompute's new selection may hold the same leads, PENDING
        -- again, before the results of the run it replaced have drained. (A lead's erasure moves the generation on
        -- over the same list: those results still count, and are not paid for again.)
        AND EXISTS (SELECT 1 FROM "InsightContextPack" p WHERE p.id = ${run.id} AND p."listGeneration" <= ${run.generation})
      RETURNING pl."leadId" AS lead_id
    ),
    summaries AS (
      INSERT INTO "LeadConversationInsight" ("clientId", "leadId", "outcome", "summary", "threadFingerprint",
                                             "promptVersion", "model", "provider", "inputTokens", "outputTokens",
                                             "createdAt", "updatedAt")
      SELECT ${run.pack.clientId}, i.lead_id, i.outcome::"ConversationInsightOutcome", i.summary::jsonb, i.fingerprint,
             ${PROMPT_VERSION}, ${model}, ${provider}, i.input_tokens, i.output_tokens,
             ${now}::timestamp(3), ${now}::timestamp(3)
      FROM input i JOIN moved USING (lead_id) WHERE i.status = 'EXTRACTED'
      -- In lead order: two packs over the same leads (two sessions with one scope) then lock their cached summaries
      -- in the same order, and never deadlock on them.
      ORDER BY i.lead_id
      ON CONFLICT ("clientId", "leadId") DO UPDATE SET
        "outcome" = EXCLUDED."outcome",
        "summary" = EXCLUDED."summary",
        "threadFingerprint" = EXCLUDED."threadFingerprint",
        "promptVersion" = EXCLUDED."promptVersion",
        "model" = EXCLUDED."model",
        "provider" = EXCLUDED."provider",
        "inputTokens" = EXCLUDED."inputTokens",
        "outputTokens" = EXCLUDED."outputTokens",
        "updatedAt" = EXCLUDED."updatedAt"
      RETURNING 1
    )
    INSERT INTO "InsightLlmUsage" ("id", "clientId", "kind", "packId", "llmCalls", "inputTokens", "outputTokens", "createdAt")
    SELECT gen_random_uuid()::text, ${run.pack.clientId}, 'EXTRACTION', ${run.id}, i.llm_calls, i.input_tokens, i.output_tokens,
           ${now}::timestamp(3)
    FROM input i JOIN moved USING (lead_id) WHERE i.llm_calls > 0`;
}
