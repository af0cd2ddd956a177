// Lead erasure (a prospect asked to be forgotten): the lead's thread, its cached insight and its rows in packs go,
// and every pack that held it is rebuilt without it. A finished pack restarts at synthesis from the summaries it
// still holds, so the rebuild pays for one synthesis and no extraction; a running one restarts where it was. Answers
// that drew on the lead lose their text. All of it is one transaction with its LEAD_ERASED audit event, which names
// the lead's id only.
import { Prisma, type Db, type InsightContextPackStage, type Tx } from "@insights/shared/db/client";
import type { z } from "zod";
import { recordAuditEvent } from "../audit/audit.service.ts";
import { notFound } from "../http/app-error.ts";
import type { Actor } from "../http/request-context.ts";
import type { JobClient } from "../jobs/job-client.ts";
import type { LiveEvents } from "../live/live-events.ts";
import type { leadErasureResponse } from "./leads.schema.ts";

/** What replaces an answer that drew on an erased lead. */
const ERASED_ANSWER = "This answer drew on a lead whose data was erased on request; ask again for an answer without it.";

type LeadErasure = z.output<typeof leadErasureResponse>;

export async function eraseLead(deps: { db: Db; jobs: JobClient; live: LiveEvents }, actor: Actor, leadId: string): Promise<LeadErasure> {
  const { db, jobs, live } = deps;
  jobs.assertAvailable();
  const { restarted, redacted, packSessions, erasure } = await db.$transaction(async (tx) => {
    // The row lock orders this against ingestion of the same lead and against a concurrent erasure.
    const [lead] = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT "id" FROM "Lead" WHERE "clientId" = ${actor.workspaceId} AND "id" = ${leadId} FOR UPDATE`;
    if (!lead) throw notFound("lead");
    const packIds = (
      await tx.insightContextPackLead.findMany({ where: { clientId: actor.workspaceId, leadId }, select: { packId: true } })
    ).map((row) => row.packId);
    const packSessions = await tx.insightContextPack.findMany({ where: { id: { in: packIds } }, select: { sessionId: true } });

    // The thread, the cached insight and the pack rows go with the lead (cascades).
    await tx.lead.delete({ where: { clientId_id: { clientId: actor.workspaceId, id: leadId } } });
    const restarted = await restartPacksWithout(tx, packIds);
    const redacted = await tx.$queryRaw<Array<{ id: string; sessionId: string }>>`
      UPDATE "InsightChatMessage"
      SET "content" = ${ERASED_ANSWER}, "suggestions" = NULL, "citedLeadIds" = array_remove("citedLeadIds", ${leadId})
      WHERE "clientId" = ${actor.workspaceId} AND "role" = 'ASSISTANT' AND ${leadId} = ANY("citedLeadIds")
      RETURNING "id", "sessionId"`;
    // A stored Idempotency-Key answer for one of these packs (200/202) carries its old synthesis; a retry of that
    // request is harmless without it (it finds the pack by its scope). Message answers (201) hold no lead text.
    if (packIds.length > 0) {
      await tx.$executeRaw`
        DELETE FROM "IdempotencyKey"
        WHERE "clientId" = ${actor.workspaceId} AND "responseStatus" <> 201
          AND "responseBody" LIKE ANY(${packIds.map((id) => `%${id}%`)}::text[])`;
    }
    const erasure: LeadErasure = {
      leadId,
      erasedAt: new Date(),
      rebuiltPackIds: restarted.map((p) => p.id),
      redactedMessageIds: redacted.map((m) => m.id),
    };
    await recordAuditEvent(tx, actor, {
      action: "LEAD_ERASED",
      details: { leadId, rebuiltPackIds: erasure.rebuiltPackIds, redactedMessageIds: erasure.redactedMessageIds },
    });
    return { restarted, redacted, packSessions, erasure };
  });
  // The sessions' live logs may quote the lead (a pack's synthesis, an answer, its streamed pieces): they go before
  // the new state is published, and a client resuming from before gets a snapshot of that state.
  await live.forgetSessions([...packSessions, ...redacted].map((row) => row.sessionId));
  await Promise.all(restarted.map((p) => live.packUpdated(p.id)));
  await live.messagesUpdated(redacted.map((m) => m.id));
  await Promise.all(restarted.map((p) => jobs.enqueuePack(p)));
  return erasure;
}

/**
 * A new generation for every pack that held the lead: a run in flight (which may be writing a synthesis that
 * quotes the lead) finds the pack no longer its own at its next write and stops. Finished packs restart at
 * synthesis with counters recounted from the rows that remain; running ones where they were. A cancelled pack
 * stays cancelled, without whatever it had written.
 */
async function restartPacksWithout(tx: Tx, packIds: string[]): Promise<Array<{ id: string; generation: number; clientId: string }>> {
  if (packIds.length === 0) return [];
  const packs = await tx.insightContextPack.findMany({ where: { id: { in: packIds } }, orderBy: { id: "asc" } });
  const restarted: Array<{ id: string; generation: number; clientId: string }> = [];
  for (const pack of packs) {
    if (pack.status === "CANCELLED") {
      await tx.insightContextPack.update({ where: { id: pack.id }, data: { synthesis: null, metrics: Prisma.DbNull } });
      continue;
    }
    const counts = await tx.insightContextPackLead.groupBy({ by: ["status"], where: { packId: pack.id }, _count: true });
    const count = (status?: string) => counts.filter((c) => !status || c.status === status).reduce((n, c) => n + c._count, 0);
    const total = count();
    const processed = total - count("PENDING");
    const finished = pack.status === "COMPLETE" || pack.status === "FAILED";
    const stage: InsightContextPackStage =
      finished || pack.stage === "DONE" ? "SYNTHESIZING" : pack.stage === "SELECTING" ? "QUEUED" : pack.stage;
    const updated = await tx.insightContextPack.update({
      where: { id: pack.id },
      data: {
        status: "PENDING",
        stage,
        generation: { increment: 1 },
        runToken: null,
        synthesis: null,
        metrics: Prisma.DbNull,
        error: null,
        completedAt: null,
        totalLeads: total,
        processedLeads: processed,
        cachedLeads: count("CACHED"),
        failedLeads: count("FAILED"),
        percent: total === 0 ? 0 : Math.floor((processed / total) * 100),
      },
      select: { id: true, generation: true, clientId: true },
    });
    restarted.push(updated);
  }
  return restarted;
}
