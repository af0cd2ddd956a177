// Builds what an answer sees, within fixed budgets: the pack, the lead summaries most relevant to the question
// (ranked by Postgres full-text search over the cached summaries), and the last few messages of the session.
// Raw thread text is never read here: LeadMessage is not queried on this path.
import { Prisma, type Db, type InsightChatMessage, type InsightContextPack, type WorkspaceSettings } from "@insights/shared/db/client";
import type { AnswerContext } from "../llm/provider.ts";
import type { ActionType } from "@insights/shared/insights/shapes";
import type { LeadInsight } from "../llm/schemas.ts";
import { describeScope } from "../packs/synthesize-pack.ts";

/** ~4k tokens of summaries, ~1.5k of history: an answer's prompt stays small whatever the pack's size. */
const SUMMARY_BUDGET_CHARS = 16_000;
const SUMMARY_CANDIDATES = 60;
const HISTORY_MESSAGES = 10;
const HISTORY_BUDGET_CHARS = 6_000;
const HISTORY_MESSAGE_CHARS = 1_500;

const STOPWORDS = new Set(
  "the and for are was were what which who whom whose why how when where with from that this those these have has had not but any all can our your their about into over than then them they you did does doing just more most some such only very will would should could".split(
    " ",
  ),
);

/** An OR query of the question's words, so a summary matching any of them ranks; null when none is usable. */
export function toSearchQuery(question: string): string | null {
  const words = [...new Set(question.toLowerCase().match(/[a-z0-9]{3,}/g) ?? [])].filter((w) => !STOPWORDS.has(w));
  return words.length ? words.slice(0, 32).join(" | ") : null;
}

export async function relevantSummaries(db: Db, pack: InsightContextPack, question: string): Promise<AnswerContext["summaries"]> {
  const query = toSearchQuery(question);
  const rank = query
    ? Prisma.sql`ts_rank(to_tsvector('english', i."summary"::text || ' ' || coalesce(l."name", '') || ' ' || coalesce(c."name", '')), to_tsquery('english', ${query}))`
    : // An expression, not a bare 0: `ORDER BY 0` would name a (nonexistent) select-list position.
      Prisma.sql`0::real`;
  const rows = await db.$queryRaw<
    Array<{ leadId: string; leadName: string | null; campaignName: string | null; outcome: string; summary: LeadInsight }>
  >`
    SELECT l."id" AS "leadId", l."name" AS "leadName", c."name" AS "campaignName", i."outcome", i."summary"
    FROM "InsightContextPackLead" pl
    JOIN "Lead" l ON l."clientId" = pl."clientId" AND l."id" = pl."leadId"
    JOIN "LeadConversationInsight" i ON i."clientId" = pl."clientId" AND i."leadId" = pl."leadId"
    LEFT JOIN "Campaign" c ON c."clientId" = l."clientId" AND c."id" = l."campaignId"
    WHERE pl."packId" = ${pack.id} AND pl."status" IN ('EXTRACTED', 'CACHED')
    ORDER BY ${rank} DESC, pl."position" ASC
    LIMIT ${SUMMARY_CANDIDATES}`;
  const picked: AnswerContext["summaries"] = [];
  let used = 0;
  for (const row of rows) {
    const item = {
      leadId: row.leadId,
      leadName: row.leadName,
      campaignName: row.campaignName,
      outcome: row.outcome,
      summary: row.summary.summary,
      keyFacts: row.summary.keyFacts ?? [],
      objections: row.summary.objections ?? [],
      nextStep: row.summary.nextStep ?? null,
    };
    const size = JSON.stringify(item).length;
    if (used + size > SUMMARY_BUDGET_CHARS) break;
    used += size;
    picked.push(item);
  }
  return picked;
}

/** The session's latest exchanges before this question, newest kept first when the budget runs out. */
export async function recentHistory(db: Db, reply: InsightChatMessage): Promise<AnswerContext["history"]> {
  const rows = await db.insightChatMessage.findMany({
    where: {
      sessionId: reply.sessionId,
      status: "COMPLETE",
      role: { in: ["USER", "ASSISTANT"] },
      createdAt: { lte: reply.createdAt },
      id: { notIn: [reply.id, ...(reply.replyToId ? [reply.replyToId] : [])] },
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: HISTORY_MESSAGES,
    select: { role: true, content: true },
  });
  const history: AnswerContext["history"] = [];
  let used = 0;
  for (const row of rows) {
    const content = row.content.length > HISTORY_MESSAGE_CHARS ? `${row.content.slice(0, HISTORY_MESSAGE_CHARS)}…` : row.content;
    if (used + content.length > HISTORY_BUDGET_CHARS) break;
    used += content.length;
    history.unshift({ role: row.role as "USER" | "ASSISTANT", content });
  }
  return history;
}

export function enabledActions(settings: WorkspaceSettings | null): ActionType[] {
  if (!settings) return [];
  return [
    ...(settings.insightsChatEnableCampaignChanges ? (["CAMPAIGN_CHANGE"] as const) : []),
    ...(settings.insightsChatEnableExperimentWrites ? (["EXPERIMENT_WRITE"] as const) : []),
    ...(settings.insightsChatEnableFollowupPauses ? (["FOLLOWUP_PAUSE"] as const) : []),
  ];
}

export async function buildAnswerContext(
  db: Db,
  reply: InsightChatMessage,
  question: string,
  pack: InsightContextPack,
  settings: WorkspaceSettings | null,
): Promise<AnswerContext> {
  const [summaries, history] = await Promise.all([relevantSummaries(db, pack, question), recentHistory(db, reply)]);
  return {
    question,
    scopeDescription: describeScope(pack),
    synthesis: pack.synthesis ?? "",
    metrics: (pack.metrics ?? {}) as object,
    summaries,
    history,
    enabledActions: enabledActions(settings),
  };
}
