// Workspace LLM usage over time, from the append-only ledger: what extraction, synthesis and answers spent, and
// what reusing cached lead summaries and packs saved.
import type { Db, LlmUsageKind } from "@insights/shared/db/client";
import type { Caller } from "../http/request-context.ts";
import type { UsageResponse } from "./usage.schema.ts";

const SPENT: LlmUsageKind[] = ["EXTRACTION", "SYNTHESIS", "ANSWER"];
const SAVED: LlmUsageKind[] = ["CACHE_REUSE", "PACK_REUSE"];

interface Row {
  day: Date;
  kind: LlmUsageKind;
  llmCalls: number;
  inputTokens: number;
  outputTokens: number;
  savedInputTokens: number;
  savedOutputTokens: number;
}

export async function getUsage(db: Db, caller: Caller, range: { from: Date; to: Date }): Promise<UsageResponse> {
  const rows = await db.$queryRaw<Row[]>`
    SELECT date_trunc('day', "createdAt") AS day, "kind",
           sum("llmCalls")::int AS "llmCalls", sum("inputTokens")::int AS "inputTokens",
           sum("outputTokens")::int AS "outputTokens", sum("savedInputTokens")::int AS "savedInputTokens",
           sum("savedOutputTokens")::int AS "savedOutputTokens"
    FROM "InsightLlmUsage"
    WHERE "clientId" = ${caller.workspaceId}
      AND "createdAt" >= ${range.from.toISOString()}::timestamp(3) AND "createdAt" < ${range.to.toISOString()}::timestamp(3)
    GROUP BY 1, 2
    ORDER BY 1, 2`;

  const spent = (kinds: LlmUsageKind[]) => {
    const picked = rows.filter((r) => kinds.includes(r.kind));
    return {
      llmCalls: sum(picked, "llmCalls"),
      inputTokens: sum(picked, "inputTokens"),
      outputTokens: sum(picked, "outputTokens"),
    };
  };
  const saved = (kinds: LlmUsageKind[]) => {
    const picked = rows.filter((r) => kinds.includes(r.kind));
    return { inputTokens: sum(picked, "savedInputTokens"), outputTokens: sum(picked, "savedOutputTokens") };
  };
  const days = [...new Set(rows.map((r) => r.day.toISOString().slice(0, 10)))];

  return {
    from: range.from,
    to: range.to,
    totals: spent(SPENT),
    byKind: { EXTRACTION: spent(["EXTRACTION"]), SYNTHESIS: spent(["SYNTHESIS"]), ANSWER: spent(["ANSWER"]) },
    saved: {
      ...saved(SAVED),
      cachedLeadSummaries: saved(["CACHE_REUSE"]),
      reusedPacks: saved(["PACK_REUSE"]),
    },
    byDay: days.map((date) => {
      const onDay = (r: Row) => r.day.toISOString().startsWith(date);
      const dayRows = rows.filter(onDay);
      return {
        date,
        llmCalls: sum(
          dayRows.filter((r) => SPENT.includes(r.kind)),
          "llmCalls",
        ),
        inputTokens: sum(
          dayRows.filter((r) => SPENT.includes(r.kind)),
          "inputTokens",
        ),
        outputTokens: sum(
          dayRows.filter((r) => SPENT.includes(r.kind)),
          "outputTokens",
        ),
        savedInputTokens: sum(dayRows, "savedInputTokens"),
        savedOutputTokens: sum(dayRows, "savedOutputTokens"),
      };
    }),
  };
}

const sum = (rows: Row[], field: keyof Omit<Row, "day" | "kind">) => rows.reduce((total, r) => total + r[field], 0);
