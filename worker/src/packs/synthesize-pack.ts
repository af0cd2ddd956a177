// Synthesis: metrics computed in SQL over the run's summarized leads, and one LLM call over those metrics plus a
// sample of summaries that fits a fixed budget, so the prompt's size does not grow with the workspace.
import type { ConversationInsightOutcome, InsightContextPack } from "@insights/shared/db/client";
import type { PackMetrics } from "@insights/shared/insights/shapes";
import type { LlmCallOptions, LlmProvider, LlmUsage, PackDigest } from "../llm/provider.ts";
import type { LeadInsight } from "../llm/schemas.ts";
import type { PackRun } from "./pack-run.ts";

const POSITIVE_OUTCOMES: ConversationInsightOutcome[] = ["MEETING_BOOKED", "INTERESTED"];
/** Summaries considered for the synthesis prompt, and the characters they may fill (~6k tokens). */
const SAMPLE_CANDIDATES = 600;
const SAMPLE_BUDGET_CHARS = 24_000;

const rate = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 1000) / 1000);

export async function computeMetrics(run: PackRun, provider: string): Promise<PackMetrics> {
  const groups = await run.db.$queryRaw<
    Array<{ outcome: ConversationInsightOutcome; campaignId: string | null; campaignName: string | null; n: number; replied: number }>
  >`
    SELECT i."outcome", l."campaignId", c."name" AS "campaignName",
           count(*)::int AS n, count(*) FILTER (WHERE l."inboundMessageCount" > 0)::int AS replied
    FROM "InsightContextPackLead" pl
    JOIN "Lead" l ON l."clientId" = pl."clientId" AND l."id" = pl."leadId"
    JOIN "LeadConversationInsight" i ON i."clientId" = pl."clientId" AND i."leadId" = pl."leadId"
    LEFT JOIN "Campaign" c ON c."clientId" = l."clientId" AND c."id" = l."campaignId"
    WHERE pl."packId" = ${run.id} AND pl."status" IN ('EXTRACTED', 'CACHED')
    GROUP BY i."outcome", l."campaignId", c."name"`;
  const statuses = await run.db.insightContextPackLead.groupBy({
    by: ["status"],
    where: { packId: run.id },
    _count: { _all: true },
  });
  const statusCount = (s: string) => statuses.find((x) => x.status === s)?._count._all ?? 0;

  const byOutcome: PackMetrics["byOutcome"] = {};
  const campaigns = new Map<string, PackMetrics["byCampaign"][number]>();
  let summarized = 0;
  let replied = 0;
  let positive = 0;
  for (const g of groups) {
    const isPositive = POSITIVE_OUTCOMES.includes(g.outcome) ? g.n : 0;
    byOutcome[g.outcome] = (byOutcome[g.outcome] ?? 0) + g.n;
    summarized += g.n;
    replied += g.replied;
    positive += isPositive;
    const key = g.campaignId ?? "";
    const c = campaigns.get(key) ?? {
      campaignId: g.campaignId,
      campaignName: g.campaignName,
      leads: 0,
      replied: 0,
      positive: 0,
      replyRate: 0,
      positiveRate: 0,
    };
    c.leads += g.n;
    c.replied += g.replied;
    c.positive += isPositive;
    campaigns.set(key, c);
  }
  const byCampaign = [...campaigns.values()]
    .map((c) => ({ ...c, replyRate: rate(c.replied, c.leads), positiveRate: rate(c.positive, c.leads) }))
    .sort((a, b) => b.leads - a.leads);
  return {
    provider,
    counts: {
      total: run.pack.totalLeads,
      summarized,
      extracted: statusCount("EXTRACTED"),
      cached: statusCount("CACHED"),
      failed: statusCount("FAILED"),
    },
    byOutcome,
    byCampaign,
    replyRate: rate(replied, summarized),
    positiveRate: rate(positive, summarized),
  };
}

/** A sample of summaries that covers every outcome: round-robin across outcomes, newest activity first. */
export async function sampleSummaries(run: PackRun): Promise<PackDigest["summaries"]> {
  const rows = await run.db.$queryRaw<
    Array<{ outcome: string; summary: LeadInsight; leadName: string | null; campaignName: string | null }>
  >`
    SELECT i."outcome", i."summary", l."name" AS "leadName", c."name" AS "campaignName"
    FROM "InsightContextPackLead" pl
    JOIN "Lead" l ON l."clientId" = pl."clientId" AND l."id" = pl."leadId"
    JOIN "LeadConversationInsight" i ON i."clientId" = pl."clientId" AND i."leadId" = pl."leadId"
    LEFT JOIN "Campaign" c ON c."clientId" = l."clientId" AND c."id" = l."campaignId"
    WHERE pl."packId" = ${run.id} AND pl."status" IN ('EXTRACTED', 'CACHED')
    ORDER BY pl."position"
    LIMIT ${SAMPLE_CANDIDATES}`;
  const byOutcome = new Map<string, typeof rows>();
  for (const row of rows) byOutcome.set(row.outcome, [...(byOutcome.get(row.outcome) ?? []), row]);
  const queues = [...byOutcome.values()];
  const sample: PackDigest["summaries"] = [];
  let used = 0;
  for (let i = 0; queues.some((q) => i < q.length); i++) {
    for (const q of queues) {
      const row = q[i];
      if (!row) continue;
      const item = {
        leadName: row.leadName,
        campaignName: row.campaignName,
        outcome: row.outcome,
        summary: row.summary.summary,
        objections: row.summary.objections ?? [],
      };
      const size = item.summary.length + item.objections.join(" ").length + 60;
      if (used + size > SAMPLE_BUDGET_CHARS) return sample;
      used += size;
      sample.push(item);
    }
  }
  return sample;
}

export function describeScope(pack: InsightContextPack): string {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const campaigns = pack.campaignIds.length ? `campaigns ${pack.campaignIds.join(", ")}` : "all campaigns";
  return `${pack.windowPreset} (${day(pack.windowFrom)} to ${day(pack.windowTo)}), ${campaigns}`;
}

export async function synthesize(
  run: PackRun,
  llm: LlmProvider,
  call: Omit<LlmCallOptions, "signal">,
  metrics: PackMetrics,
): Promise<{ synthesis: string; usage: LlmUsage }> {
  const digest: PackDigest = { scopeDescription: describeScope(run.pack), metrics, summaries: await sampleSummaries(run) };
  const { value, usage } = await llm.synthesizePack(digest, { ...call, signal: run.signal });
  return { synthesis: value, usage };
}
