import type { Db } from "@insights/shared/db/client";
import { recordAuditEvent } from "../audit/audit.service.ts";
import { notFound, validationFailed } from "../http/app-error.ts";
import type { Actor, Caller } from "../http/request-context.ts";
import type { IngestionResponse, LeadInput, LeadInsightResponse } from "./leads.schema.ts";
import { fingerprintThread } from "./thread-fingerprint.ts";

/**
 * Upserts a batch of leads by the host's id; each lead's thread is replaced by the one sent. Threads whose
 * fingerprint is unchanged are not rewritten, so re-pushing a workspace is cheap and keeps cached insights valid.
 * The whole batch is one transaction: it lands entirely or not at all.
 */
export async function ingestLeads(db: Db, caller: Actor, leads: LeadInput[]): Promise<IngestionResponse> {
  await assertCampaignsExist(db, caller, leads);
  const now = new Date();
  const prepared = leads.map((lead) => ({
    lead,
    fingerprint: fingerprintThread(lead.messages),
    // biome-ignore lint/complexity/useMathMinMax: these are Dates; Math.max would turn them into numbers
    lastActivityAt: lead.messages.reduce((max, m) => (m.sentAt > max ? m.sentAt : max), new Date(0)),
  }));

  return db.$transaction(
    async (tx) => {
      const existing = await tx.lead.findMany({
        where: { clientId: caller.workspaceId, id: { in: leads.map((l) => l.id) } },
        select: { id: true, threadFingerprint: true },
      });
      const known = new Map(existing.map((row) => [row.id, row.threadFingerprint]));
      const changed = prepared.filter((p) => known.get(p.lead.id) !== p.fingerprint);

      // One statement for the whole batch: per-row upserts would cost a round trip each. Timestamps travel as ISO
      // strings cast to timestamp(3), the UTC wall-clock form Prisma stores, whatever the server's time zone.
      await tx.$executeRaw`
        INSERT INTO "Lead" ("clientId", "id", "campaignId", "name", "email", "lastActivityAt", "threadFingerprint",
                            "messageCount", "inboundMessageCount", "threadUpdatedAt", "updatedAt")
        SELECT ${caller.workspaceId}, t.id, t.campaign_id, t.name, t.email, t.last_activity_at, t.fingerprint,
               t.message_count, t.inbound_count, ${now.toISOString()}::timestamp(3), ${now.toISOString()}::timestamp(3)
        FROM unnest(
          ${prepared.map((p) => p.lead.id)}::text[],
          ${prepared.map((p) => p.lead.campaignId ?? null)}::text[],
          ${prepared.map((p) => p.lead.name ?? null)}::text[],
          ${prepared.map((p) => p.lead.email ?? null)}::text[],
          ${prepared.map((p) => (p.lead.messages.length ? p.lastActivityAt : now).toISOString())}::timestamp(3)[],
          ${prepared.map((p) => p.fingerprint)}::text[],
          ${prepared.map((p) => p.lead.messages.length)}::int[],
          ${prepared.map((p) => p.lead.messages.filter((m) => m.direction === "INBOUND").length)}::int[]
        ) AS t(id, campaign_id, name, email, last_activity_at, fingerprint, message_count, inbound_count)
        ON CONFLICT ("clientId", "id") DO UPDATE SET
          "campaignId" = EXCLUDED."campaignId",
          "name" = EXCLUDED."name",
          "email" = EXCLUDED."email",
          "lastActivityAt" = EXCLUDED."lastActivityAt",
          "threadFingerprint" = EXCLUDED."threadFingerprint",
          "threadUpdatedAt" = CASE WHEN "Lead"."threadFingerprint" = EXCLUDED."threadFingerprint"
                                   THEN "Lead"."threadUpdatedAt" ELSE EXCLUDED."threadUpdatedAt" END,
          "messageCount" = EXCLUDED."messageCount",
          "inboundMessageCount" = EXCLUDED."inboundMessageCount",
          "updatedAt" = EXCLUDED."updatedAt"`;

      if (changed.length > 0) {
        // Only a lead that already existed can have an old thread to remove (a new one has none).
        const replaced = changed.filter((p) => known.has(p.lead.id)).map((p) => p.lead.id);
        if (replaced.length > 0) {
          await tx.leadMessage.deleteMany({ where: { clientId: caller.workspaceId, leadId: { in: replaced } } });
        }
        // One statement with one array per column, like the leads above: a multi-row VALUES list would carry six
        // parameters per message (thousands per batch) through the client's query builder.
        const messages = changed.flatMap((p) => p.lead.messages.map((m) => ({ leadId: p.lead.id, m })));
        if (messages.length > 0) {
          await tx.$executeRaw`
            INSERT INTO "LeadMessage" ("clientId", "leadId", "id", "direction", "body", "sentAt")
            SELECT ${caller.workspaceId}, t.lead_id, t.id, t.direction::"MessageDirection", t.body, t.sent_at
            FROM unnest(
              ${messages.map(({ leadId }) => leadId)}::text[],
              ${messages.map(({ m }) => m.id)}::text[],
              ${messages.map(({ m }) => m.direction)}::text[],
              ${messages.map(({ m }) => m.body)}::text[],
              ${messages.map(({ m }) => m.sentAt.toISOString())}::timestamp(3)[]
            ) AS t(lead_id, id, direction, body, sent_at)`;
        }
      }

      const summary = {
        received: leads.length,
        created: prepared.filter((p) => !known.has(p.lead.id)).length,
        threadsChanged: changed.length,
      };
      await recordAuditEvent(tx, caller, {
        action: "LEADS_INGESTED",
        details: { ...summary, changedLeadIds: changed.map((p) => p.lead.id) },
      });
      return summary;
    },
    { timeout: 30_000 },
  );
}

async function assertCampaignsExist(db: Db, caller: Actor, leads: LeadInput[]): Promise<void> {
  const wanted = [...new Set(leads.flatMap((l) => (l.campaignId ? [l.campaignId] : [])))];
  if (wanted.length === 0) return;
  const found = await db.campaign.findMany({
    where: { clientId: caller.workspaceId, id: { in: wanted } },
    select: { id: true },
  });
  const known = new Set(found.map((c) => c.id));
  const fields = leads.flatMap((l, index) =>
    l.campaignId && !known.has(l.campaignId)
      ? [{ path: `body.leads.${index}.campaignId`, message: "is not a campaign of this workspace; PUT it first" }]
      : [],
  );
  if (fields.length > 0) throw validationFailed(fields);
}

export async function getLeadInsight(db: Db, caller: Caller, leadId: string): Promise<LeadInsightResponse> {
  const lead = await db.lead.findUnique({
    where: { clientId_id: { clientId: caller.workspaceId, id: leadId } },
    select: { threadFingerprint: true, conversationInsight: true },
  });
  if (!lead) throw notFound("lead");
  const insight = lead.conversationInsight;
  if (!insight) throw notFound("insight for this lead (no pack has summarized its thread yet)");
  return {
    leadId,
    outcome: insight.outcome,
    summary: insight.summary,
    model: insight.model,
    provider: insight.provider,
    promptVersion: insight.promptVersion,
    threadFingerprint: insight.threadFingerprint,
    stale: insight.threadFingerprint !== lead.threadFingerprint,
    createdAt: insight.createdAt,
    updatedAt: insight.updatedAt,
  };
}
