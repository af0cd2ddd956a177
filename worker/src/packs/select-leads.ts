import { Prisma } from "@insights/shared/db/client";
import { PROMPT_VERSION } from "../llm/prompts.ts";
import type { PackRun, RunCall } from "./pack-run.ts";

/**
 * Writes the run's lead list in one statement: the leads in the window and campaigns, most recent activity first,
 * up to the cap. Nothing is read into this process, whatever the workspace's size. `cachedModel`: the model whose
 * cached summaries the run reuses (null for a forced recompute, which reuses none); those leads are marked CACHED in
 * the same transaction. `call`: the model and effort the run's calls use from here on, stored with the list. It runs
 * in one transaction with the stage change, so a crash leaves either no list (the retry selects again) or a whole
 * one, its cached leads marked and its model fixed: a retry never pays the model for a summary it had.
 */
export async function selectLeads(run: PackRun, maxLeads: number, options: { call: RunCall; cachedModel: string | null }): Promise<number> {
  const { pack } = run;
  const campaignFilter = pack.campaignIds.length > 0 ? Prisma.sql`AND l."campaignId" = ANY(${pack.campaignIds}::text[])` : Prisma.empty;
  return run.db.$transaction(
    async (tx) => {
      await run.update({ stage: "SELECTING" }, tx);
      await tx.insightContextPackLead.deleteMany({ where: { packId: pack.id } });
      await tx.insightContextPackChunk.deleteMany({ where: { packId: pack.id } }); // planned again over the new list
      const total = await tx.$executeRaw`
      INSERT INTO "InsightContextPackLead" ("packId", "clientId", "leadId", "position")
      SELECT ${pack.id}, l."clientId", l."id", row_number() OVER (ORDER BY l."lastActivityAt" DESC, l."id")
      FROM "Lead" l
      WHERE l."clientId" = ${pack.clientId}
        AND l."lastActivityAt" >= ${pack.windowFrom.toISOString()}::timestamp(3)
        AND l."lastActivityAt" <= ${pack.windowTo.toISOString()}::timestamp(3)
        ${campaignFilter}
      ORDER BY l."lastActivityAt" DESC, l."id"
      LIMIT ${maxLeads}`;
      if (options.cachedModel !== null) await markCachedLeads(run, options.cachedModel, tx);
      await run.update(
        {
          stage: "EXTRACTING",
          totalLeads: total,
          listGeneration: run.generation,
          runModel: options.call.model,
          runReasoningEffort: options.call.reasoningEffort,
        },
        tx,
      );
      return total;
    },
    { timeout: 60_000 },
  );
}

/**
 * Marks every lead whose cached summary is still valid as CACHED, in one statement and without an LLM call.
 */
async function markCachedLeads(run: PackRun, model: string, tx: Prisma.TransactionClient): Promise<void> {
  // One statement marks the rows and books what they saved (each summary's original cost), so the ledger and the
  // statuses can never disagree.
  await tx.$executeRaw`
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
