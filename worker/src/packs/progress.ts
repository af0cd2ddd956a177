// Progress on the pack row, at a bounded rate: every lead's status lives in its own InsightContextPackLead row, and
// the pack row gets the aggregate at most once per interval. Counts are recomputed from those rows, never kept in
// memory, so a resumed run continues from the true figures and progress never goes backwards. Each write is also
// the run's check that it is still current.
import { Prisma, type InsightContextPack } from "@insights/shared/db/client";
import type { PackRun, RunPack } from "./pack-run.ts";

export interface ProgressWriter {
  /** Called after each lead; writes when the pack's interval has passed. */
  tick(): void;
  /** Writes if the interval has passed, waits for any write in flight, and reports a write that failed. */
  flush(): Promise<void>;
}

/**
 * When this process last wrote each pack's progress. Every chunk of a pack that runs here shares one interval, so a
 * pack of many short chunks neither writes its row (and publishes an event) twice per chunk nor goes unreported.
 */
export class ProgressPacer {
  private readonly lastWrite = new Map<string, number>();

  constructor(readonly intervalMs: number) {}

  /** True, and the pack's interval starts again, when its last write here is at least an interval old. */
  due(packId: string): boolean {
    const now = Date.now();
    if (now - (this.lastWrite.get(packId) ?? 0) < this.intervalMs) return false;
    this.lastWrite.set(packId, now);
    // Bounded: packs not written for a while are forgotten (a forgotten pack is simply due).
    if (this.lastWrite.size > 1000) {
      for (const [id, at] of this.lastWrite) if (now - at > 10 * this.intervalMs) this.lastWrite.delete(id);
    }
    return true;
  }
}

/** `afterWrite` runs after each write has committed, with the row written (the live `pack.updated` event). */
export function createProgressWriter(
  run: PackRun<RunPack>,
  pacer: ProgressPacer,
  afterWrite: (row: InsightContextPack) => Promise<void>,
): ProgressWriter {
  let inFlight: Promise<void> | null = null;
  let failure: unknown = null;

  const write = async () => {
    await afterWrite(await writeProgress(run));
  };
  const schedule = () => {
    if (inFlight) return inFlight;
    inFlight = write()
      .catch((err: unknown) => {
        failure = err;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };

  return {
    tick() {
      if (!inFlight && pacer.due(run.id)) void schedule();
    },
    async flush() {
      if (inFlight) await inFlight;
      if (pacer.due(run.id)) await schedule();
      if (failure) throw failure;
    },
  };
}

/**
 * GREATEST keeps every figure monotonic even if two writers race. Percent stays below 100 until the pack is done.
 * Returns the row as written (every column, as findUnique reads it).
 */
export async function writeProgress(run: PackRun<RunPack>): Promise<InsightContextPack> {
  const [row] = await run.db.$queryRaw<InsightContextPack[]>`
    UPDATE "InsightContextPack" p SET
      "processedLeads" = GREATEST(p."processedLeads", a.processed),
      "cachedLeads"    = GREATEST(p."cachedLeads", a.cached),
      "failedLeads"    = GREATEST(p."failedLeads", a.failed),
      "percent"        = GREATEST(p."percent", CASE WHEN p."totalLeads" = 0 THEN 0
                                                     ELSE LEAST(99, a.processed * 100 / p."totalLeads") END),
      "llmCalls"       = GREATEST(p."llmCalls", a.calls),
      "inputTokens"    = GREATEST(p."inputTokens", a.input_tokens),
      "outputTokens"   = GREATEST(p."outputTokens", a.output_tokens),
      "updatedAt"      = (now() AT TIME ZONE 'UTC')
    FROM (
      SELECT count(*) FILTER (WHERE status <> 'PENDING')::int AS processed,
             count(*) FILTER (WHERE status = 'CACHED')::int AS cached,
             count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
             COALESCE(sum("llmCalls"), 0)::int AS calls,
             COALESCE(sum("inputTokens"), 0)::int AS input_tokens,
             COALESCE(sum("outputTokens"), 0)::int AS output_tokens
      FROM "InsightContextPackLead" WHERE "packId" = ${run.id}
    ) a
    WHERE p."id" = ${run.id} AND p."generation" = ${run.generation} AND p."status" = 'RUNNING'
      AND ${ownership(run)}
    RETURNING p.*`;
  // Gone, no longer RUNNING, or taken over by another worker's run. This also stops the run when a cancellation
  // message never arrived, so a missed message (or a lost job lock) costs at most one progress interval of work.
  if (!row) run.ended();
  return row;
}

/** The pack job's run holds the pack's token; a chunk job's holds its chunk's. */
function ownership(run: PackRun<RunPack>): Prisma.Sql {
  if (!run.chunk) return Prisma.sql`p."runToken" = ${run.pack.runToken}`;
  return Prisma.sql`EXISTS (SELECT 1 FROM "InsightContextPackChunk" c WHERE c."packId" = p."id" AND c."index" = ${run.chunk.index}
                            AND c."runToken" = ${run.chunk.runToken} AND NOT c."done")`;
}
