// A pack as clients see it (`GET /packs/:id`, and the live `pack.updated` event the worker publishes): one builder
// for both, so a streamed pack and a polled one are the same object.
import { Prisma, type Db, type InsightContextPack } from "../db/client.ts";
import type { PackMetrics } from "../insights/shapes.ts";
import { RELATIVE_WINDOW_STALE_AFTER_MS } from "../scope/scope.ts";

/**
 * SQL over a pack aliased `p`: true when a thread in its scope changed after it completed (an index range on
 * `Lead (clientId, threadUpdatedAt)` from `completedAt` on). The one definition of that half of `stale`: the view
 * below and the API's version tag (which must change whenever `stale` does) both use it.
 */
export const THREADS_CHANGED_SINCE_COMPLETED = Prisma.sql`EXISTS (
        SELECT 1 FROM "Lead" l
        WHERE l."clientId" = p."clientId"
          AND l."threadUpdatedAt" > p."completedAt"
          AND l."lastActivityAt" >= p."windowFrom"
          AND (p."windowPreset" <> 'CUSTOM' OR l."lastActivityAt" <= p."windowTo")
          AND (cardinality(p."campaignIds") = 0 OR l."campaignId" = ANY(p."campaignIds")))`;

type StalenessFields = Pick<InsightContextPack, "status" | "completedAt" | "windowPreset">;

/** Whether staleness applies at all (a COMPLETE pack), and whether its relative window has moved on since. */
export function stalenessOf(pack: StalenessFields, now = Date.now()): "never" | "aged" | "ask-threads" {
  if (pack.status !== "COMPLETE" || !pack.completedAt) return "never";
  if (pack.windowPreset !== "CUSTOM" && now - pack.completedAt.getTime() > RELATIVE_WINDOW_STALE_AFTER_MS) return "aged";
  return "ask-threads";
}

/**
 * The COMPLETE packs that are stale: a thread in their scope changed after they completed, or their relative window
 * has moved on. One query for all of them.
 */
async function stalePackIds(db: Db, packs: InsightContextPack[]): Promise<Set<string>> {
  const stale = new Set<string>();
  const toCheck: string[] = [];
  for (const pack of packs) {
    const staleness = stalenessOf(pack);
    if (staleness === "aged") stale.add(pack.id);
    else if (staleness === "ask-threads") toCheck.push(pack.id);
  }
  if (toCheck.length === 0) return stale;
  const changed = await db.$queryRaw<Array<{ id: string }>>`
    SELECT p."id" FROM "InsightContextPack" p
    WHERE p."id" = ANY(${toCheck}::text[]) AND ${THREADS_CHANGED_SINCE_COMPLETED}`;
  for (const { id } of changed) stale.add(id);
  return stale;
}

/** Which leads failed and why, for a person to read (the first few of each pack; `failedLeads` has the count). */
const FAILURE_SAMPLE = 10;
async function failureSamples(db: Db, packs: InsightContextPack[]) {
  const ids = packs.filter((pack) => pack.failedLeads > 0).map((pack) => pack.id);
  const samples = new Map<string, Array<{ leadId: string; error: string | null }>>();
  if (ids.length === 0) return samples;
  const rows = await db.$queryRaw<Array<{ packId: string; leadId: string; error: string | null }>>`
    SELECT "packId", "leadId", "error" FROM (
      SELECT "packId", "leadId", "error", "position",
             row_number() OVER (PARTITION BY "packId" ORDER BY "position") AS n
      FROM "InsightContextPackLead"
      WHERE "packId" = ANY(${ids}::text[]) AND "status" = 'FAILED'
    ) failed
    WHERE n <= ${FAILURE_SAMPLE}
    ORDER BY "packId", "position"`;
  for (const { packId, leadId, error } of rows) {
    const list = samples.get(packId) ?? [];
    list.push({ leadId, error });
    samples.set(packId, list);
  }
  return samples;
}

export async function toPackView(db: Db, pack: InsightContextPack) {
  const [view] = await toPackViews(db, [pack]);
  return view!;
}

/** Packs as the API returns them, with one query for staleness and one for failures however many there are. */
export async function toPackViews(db: Db, packs: InsightContextPack[]) {
  const [stale, failures] = await Promise.all([stalePackIds(db, packs), failureSamples(db, packs)]);
  return packs.map((pack) => ({
    id: pack.id,
    sessionId: pack.sessionId,
    scopeKey: pack.scopeKey,
    scope: {
      window: { preset: pack.windowPreset, from: pack.windowFrom, to: pack.windowTo },
      campaignIds: pack.campaignIds,
      campaignCap: pack.campaignCap,
    },
    status: pack.status,
    progress: {
      stage: pack.stage,
      totalLeads: pack.totalLeads,
      processedLeads: pack.processedLeads,
      cachedLeads: pack.cachedLeads,
      failedLeads: pack.failedLeads,
      percent: pack.percent,
    },
    synthesis: pack.synthesis,
    // Written by the worker as this shape (shared/src/insights/shapes.ts); null until the pack completes.
    metrics: pack.metrics as PackMetrics | null,
    provider: pack.provider,
    model: pack.model,
    usage: { llmCalls: pack.llmCalls, inputTokens: pack.inputTokens, outputTokens: pack.outputTokens },
    generation: pack.generation,
    stale: stale.has(pack.id),
    error: pack.error,
    failures: failures.get(pack.id) ?? [],
    createdAt: pack.createdAt,
    startedAt: pack.startedAt,
    completedAt: pack.completedAt,
  }));
}
