// Extraction: one structured summary per lead thread, cached in LeadConversationInsight and reused while the
// thread's fingerprint, the prompt version and the model are unchanged.
import type { Db } from "@insights/shared/db/client";
import { LlmError, type LeadThread, type LlmCallOptions, type LlmProvider, type LlmUsage } from "../llm/provider.ts";
import { PROMPT_VERSION } from "../llm/prompts.ts";
import type { LeadInsight } from "../llm/schemas.ts";
import { forEachConcurrently } from "../runtime/pool.ts";
import type { PackRun } from "./pack-run.ts";
import type { ProgressWriter } from "./progress.ts";

export interface ExtractOptions {
  llm: LlmProvider;
  call: Omit<LlmCallOptions, "signal">;
  concurrency: number;
  /** Leads read from Postgres per query; only one page (plus the calls in flight) is held in memory. */
  pageSize: number;
  progress: ProgressWriter;
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

/** Summarizes every PENDING lead of the run. Returns when none is left, or early when the run's signal aborts. */
export async function extractPendingLeads(run: PackRun, options: ExtractOptions): Promise<void> {
  await forEachConcurrently(
    pendingThreads(run, options.pageSize),
    options.concurrency,
    async (thread) => {
      await extractOne(run, thread, options);
      options.progress.tick();
    },
    run.signal,
  );
  await options.progress.flush();
}

interface PendingThread extends LeadThread {
  fingerprint: string;
}

/** Pages through the run's PENDING leads in selection order, loading each page's threads in two queries. */
async function* pendingThreads(run: PackRun, pageSize: number): AsyncGenerator<PendingThread> {
  let after = 0;
  for (;;) {
    await run.assertCurrent();
    const page = await run.db.insightContextPackLead.findMany({
      where: { packId: run.id, status: "PENDING", position: { gt: after } },
      orderBy: { position: "asc" },
      take: pageSize,
      select: { leadId: true, position: true },
    });
    if (page.length === 0) return;
    after = page.at(-1)!.position;
    const leads = await loadThreads(run.db, run.pack.clientId, page.map((p) => p.leadId));
    for (const { leadId } of page) {
      const lead = leads.get(leadId);
      if (lead) yield lead;
    }
  }
}

async function loadThreads(db: Db, clientId: string, leadIds: string[]): Promise<Map<string, PendingThread>> {
  const rows = await db.lead.findMany({
    where: { clientId, id: { in: leadIds } },
    select: {
      id: true,
      name: true,
      threadFingerprint: true,
      campaign: { select: { name: true } },
      messages: { orderBy: [{ sentAt: "asc" }, { id: "asc" }], select: { direction: true, body: true, sentAt: true } },
    },
  });
  return new Map(
    rows.map((r) => [
      r.id,
      { leadId: r.id, leadName: r.name, campaignName: r.campaign?.name ?? null, messages: r.messages, fingerprint: r.threadFingerprint },
    ]),
  );
}

async function extractOne(run: PackRun, thread: PendingThread, options: ExtractOptions): Promise<void> {
  if (run.signal.aborted) return;
  let insight: LeadInsight;
  let usage: LlmUsage;
  try {
    ({ value: insight, usage } = await options.llm.extractLeadInsight(thread, { ...options.call, signal: run.signal }));
  } catch (err) {
    // Cancelled or shutting down: leave the lead PENDING for whoever resumes the pack.
    if (run.signal.aborted) return;
    if (!(err instanceof LlmError)) throw err;
    await run.db.$transaction([
      run.db.insightContextPackLead.updateMany({
        where: { packId: run.id, leadId: thread.leadId, status: "PENDING" },
        data: { status: "FAILED", error: err.message, ...err.usage },
      }),
      ...recordExtractionUsage(run, err.usage),
    ]);
    return;
  }
  const model = options.llm.modelFor(options.call.model);
  const key = { clientId: run.pack.clientId, leadId: thread.leadId };
  const cached = {
    outcome: insight.outcome,
    summary: insight,
    threadFingerprint: thread.fingerprint,
    promptVersion: PROMPT_VERSION,
    model,
    provider: options.llm.name,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
  };
  // The summary and the lead's status land together: a crash after the LLM call loses that one call, never a
  // stored summary, and a resumed run never summarizes the lead again.
  await run.db.$transaction([
    run.db.leadConversationInsight.upsert({
      where: { clientId_leadId: key },
      create: { ...key, ...cached },
      update: cached,
    }),
    run.db.insightContextPackLead.updateMany({
      where: { packId: run.id, leadId: thread.leadId, status: "PENDING" },
      data: { status: "EXTRACTED", ...usage },
    }),
    ...recordExtractionUsage(run, usage),
  ]);
}

/** The ledger row for one lead's calls (none for the offline provider, which makes no calls). */
function recordExtractionUsage(run: PackRun, usage: LlmUsage) {
  if (usage.llmCalls === 0) return [];
  return [run.db.insightLlmUsage.create({ data: { clientId: run.pack.clientId, kind: "EXTRACTION", packId: run.id, ...usage } })];
}
