import { Prisma } from "@insights/shared/db/client";
import type { PackRun } from "./pack-run.ts";

/**
 * Writes the run's lead list in one statement: the leads in the window and campaigns, most recent activity first,
 * up to the cap. Nothing is read into this process, whatever the workspace's size. Runs in one transaction with
 * the stage change, so a crash leaves either no list (the retry selects again) or a whole one.
 */
export async function selectLeads(run: PackRun, maxLeads: number): Promise<number> {
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
      await run.update({ stage: "EXTRACTING", totalLeads: total }, tx);
      return total;
    },
    { timeout: 60_000 },
  );
}
