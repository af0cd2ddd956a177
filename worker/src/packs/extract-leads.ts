// Extraction: one structured summary per lead thread, cached in LeadConversationInsight and reused while the
// thread's fingerprint, the prompt version and the model are unchanged.
import type { Db } from "@insights/shared/db/client";
import { LlmError, type LeadThread, type LlmCallOptions, type LlmProvider, type LlmUsage } from "../llm/provider.ts";
import { PROMPT_VERSION } from "../llm/prompts.ts";
import type { LeadInsight } from "../llm/schemas.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import { forEachConcurrently, type Semaphore } from "../runtime/pool.ts";
import type { PackRun } from "./pack-run.ts";
import type { ProgressWriter } from "./progress.ts";

export interface ExtractOptions {
  llm: LlmProvider;
  call: Omit<LlmCallOptions, "signal">;
  /** Lanes this run keeps busy; each LLM call also waits for one of the process's `llmSlots`. */
  concurrency: number;
  llmSlots: Semaphore;
  /** Leads read from Postgres per query; only two pages (this one and the next, read ahead) plus the calls in flight
   * are held in memory. */
  pageSize: number;
  progress: ProgressWriter;
  /** The process's group commits, shared by the chunks of a pack that run in it. */
  results: ResultBatches;
  /** Counts failed leads. */
  metrics?: WorkerMetrics | undefined;
}

/**
 * Marks every lead whose cached summary is still valid as CACHED, in one statement and without an LLM call.
 * Skipped for a forced recompute, which re-extracts everything.
 */
export async function markCachedLeads(run: PackRun, model: string): Promise<void> {
  // One statement marks the rows and books what they saved (each summary's original cost), so the ledger and the
  // statuses can never disagree.
  await run.db.$executeRaw`
    WITH marked AS (
      UPDATE "InsightContextPackLead" pl SET "status" = 'CACHED'
      FROM "Lead" l, "LeadConversationInsight" i
      WHERE pl."packId" = ${run.id} AND pl."status" = 'PENDING'
        AND l."clientId" = pl."clientId" AND l."id" = pl."leadId"
        AND i."clientId" = pl."clientId" AND i."leadId" = pl."leadId"
        AND i."threadFingerprint" = l."threadFingerprint"
        AND i."promptVersion" = ${PROMPT_VERSION}
        AND i."model" = ${model}
      RETURNING i."inputTokens" AS input_tokens, i."outputTokens" AS output_tokens
    )
    INSERT INTO "InsightLlmUsage" ("id", "clientId", "kind", "packId", "savedInputTokens", "savedOutputTokens")
    SELECT gen_random_uuid()::text, ${run.pack.clientId}, 'CACHE_REUSE', ${run.id},
           COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0)
    FROM marked HAVING count(*) > 0`;
}

/**
 * Summarizes every PENDING lead of the run (of its chunk, for a chunk job). Returns when none is left, or early when
 * the run's signal aborts.
 */
export async function extractPendingLeads(run: PackRun, options: ExtractOptions): Promise<void> {
  const { writer, release } = options.results.acquire(run, options.llm.modelFor(options.call.model), options.llm.name);
  try {
    await forEachConcurrently(
      pendingThreads(run, options.pageSize),
      options.concurrency,
      async (thread) => {
        await extractOne(run, thread, options, writer);
        options.progress.tick();
      },
      run.signal,
    );
  } finally {
    release();
  }
  await options.progress.flush();
}

interface PendingThread extends LeadThread {
  fingerprint: string;
}

/**
 * Pages through the run's PENDING leads in selection order, loading each page's threads in two queries. The next
 * page is read while the current one is being summarized (positions only grow, so it cannot overlap this one), so
 * the lanes never stand idle waiting on Postgres between pages; at most two pages are held in memory.
 */
async function* pendingThreads(run: PackRun, pageSize: number): AsyncGenerator<PendingThread> {
  const readPage = (after: number) => {
    // A chunk's first page follows its claim, which found the run current a moment ago.
    const page = loadPage(run, after, pageSize, !(run.chunk && after === 0));
    // Awaited only when the lanes reach it (or never, if the run stops first): until then a failure, such as the
    // run found no longer current, must not count as an unhandled rejection. The await below still throws it.
    page.catch(() => undefined);
    return page;
  };
  let next: Promise<Page> | null = readPage(0);
  while (next) {
    const page: Page = await next;
    if (page.lastPosition === null) return;
    // A page short of pageSize was the last: no lead becomes PENDING again during a run.
    next = page.full ? readPage(page.lastPosition) : null;
    yield* page.leads;
  }
}

interface Page {
  leads: PendingThread[];
  lastPosition: number | null;
  /** pageSize leads: there may be more after it. */
  full: boolean;
}

async function loadPage(run: PackRun, after: number, pageSize: number, check: boolean): Promise<Page> {
  if (check) await run.assertCurrent();
  const to = run.chunk?.toPosition;
  const page = await run.db.insightContextPackLead.findMany({
    where: {
      packId: run.id,
      status: "PENDING",
      position: { gt: Math.max(after, (run.chunk?.fromPosition ?? 1) - 1), ...(to ? { lte: to } : {}) },
    },
    orderBy: { position: "asc" },
    take: pageSize,
    select: { leadId: true, position: true },
  });
  if (page.length === 0) return { leads: [], lastPosition: null, full: false };
  const leads = await loadThreads(
    run.db,
    run.pack.clientId,
    page.map((p) => p.leadId),
  );
  return {
    leads: page.flatMap(({ leadId }) => leads.get(leadId) ?? []),
    lastPosition: page.at(-1)!.position,
    full: page.length === pageSize,
  };
}

export async function loadThreads(db: Db, clientId: string, leadIds: string[]): Promise<Map<string, PendingThread>> {
  // Messages are read in their own query: as a nested include, Prisma repeats clientId once per lead
  // ("clientId" IN (x, x, x, ...)), a shape PostgreSQL plans as a sequential scan of every tenant's messages.
  const [leads, messages] = await Promise.all([
    db.lead.findMany({
      where: { clientId, id: { in: leadIds } },
      select: { id: true, name: true, threadFingerprint: true, campaign: { select: { name: true } } },
    }),
    db.leadMessage.findMany({
      where: { clientId, leadId: { in: leadIds } },
      orderBy: [{ leadId: "asc" }, { sentAt: "asc" }, { id: "asc" }],
      select: { leadId: true, direction: true, body: true, sentAt: true },
    }),
  ]);
  const threads = new Map<string, PendingThread>(
    leads.map((l) => [
      l.id,
      { leadId: l.id, leadName: l.name, campaignName: l.campaign?.name ?? null, messages: [], fingerprint: l.threadFingerprint },
    ]),
  );
  for (const { leadId, ...message } of messages) threads.get(leadId)?.messages.push(message);
  return threads;
}

async function extractOne(run: PackRun, thread: PendingThread, options: ExtractOptions, results: ResultWriter): Promise<void> {
  if (run.signal.aborted) return;
  let insight: LeadInsight;
  let usage: LlmUsage;
  const log = options.call.log?.child({ leadId: thread.leadId });
  try {
    ({ value: insight, usage } = await options.llmSlots.run(
      () => options.llm.extractLeadInsight(thread, { ...options.call, signal: run.signal, log }),
      run.signal,
      run.pack.clientId,
    ));
  } catch (err) {
    // Cancelled or shutting down: leave the lead PENDING for whoever resumes the pack.
    if (run.signal.aborted) return;
    if (!(err instanceof LlmError)) throw err;
    log?.warn({ error: err.message, llmCalls: err.usage.llmCalls }, "lead failed to summarize; the pack goes on without it");
    options.metrics?.failedLeads.inc();
    await results.write({ leadId: thread.leadId, status: "FAILED", error: err.message, usage: err.usage });
    return;
  }
  await results.write({ leadId: thread.leadId, status: "EXTRACTED", insight, fingerprint: thread.fingerprint, usage });
}

type LeadResult =
  | { leadId: string; status: "EXTRACTED"; insight: LeadInsight; fingerprint: string; usage: LlmUsage }
  | { leadId: string; status: "FAILED"; error: string; usage: LlmUsage };

interface ResultWriter {
  /** Resolves once the result is committed; rejects if its batch's statement failed. */
  write(result: LeadResult): Promise<void>;
}

/**
 * Group commit: results that arrive while a write is in flight go out together in the next one, so a pack pays one
 * statement per batch instead of a transaction per lead, and a slow LLM still sees each result written at once.
 * Each lead's task waits for its own result's commit before it takes the next lead, so a crash loses at most the
 * calls in flight (never a result whose lead then moved on), exactly as with one transaction per lead.
 */
function createResultWriter(run: PackRun, model: string, provider: string): ResultWriter {
  let queued: Array<{ result: LeadResult; resolve: () => void; reject: (err: unknown) => void }> = [];
  let writing = false;
  const drain = async () => {
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
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
    }
    writing = false;
  };
  return {
    write(result) {
      return new Promise((resolve, reject) => {
        queued.push({ result, resolve, reject });
        if (writing) return;
        writing = true;
        // One turn of the event loop lets results that finished together share the first write too.
        setImmediate(() => void drain());
      });
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
  acquire(run: PackRun, model: string, provider: string): { writer: ResultWriter; release(): void } {
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
 * again. Per lead it moves the lead's status off PENDING (only if it still is) and, only for the leads it moved,
 * upserts the cached summary and books one EXTRACTION ledger row when the lead cost calls (none for the offline
 * provider, which makes no calls): a second attempt at the same chunk that finished a lead too late books nothing. Timestamps travel as
 * ISO strings cast to timestamp(3), as Prisma stores them.
 */
async function writeResults(run: PackRun, results: LeadResult[], model: string, provider: string): Promise<void> {
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
