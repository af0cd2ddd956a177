// Retention: a soft-deleted session can be restored for SESSION_RETENTION_DAYS; after that this job purges it,
// with its messages and packs. Each purge is one transaction with its SYSTEM audit event, so a session is either
// still restorable or gone with a record of its purge; audit events and the usage ledger keep their ids.
import type { Db } from "@insights/shared/db/client";
import type { Logger } from "@insights/shared/logger";
import { IDEMPOTENCY_KEY_TTL_MS, retentionCutoff } from "@insights/shared/retention";

const BATCH = 100;

export interface PurgeDeps {
  db: Db;
  logger: Logger;
  retentionDays: number;
}

export async function purgeExpiredSessions(deps: PurgeDeps, now = new Date()): Promise<{ purged: number; expiredKeys: number }> {
  const { db, logger } = deps;
  const cutoff = retentionCutoff(deps.retentionDays, now);
  let purged = 0;
  for (;;) {
    const expired = await db.insightChatSession.findMany({
      where: { deletedAt: { lt: cutoff } },
      select: { id: true },
      orderBy: { deletedAt: "asc" },
      take: BATCH,
    });
    if (expired.length === 0) break;
    for (const { id } of expired) {
      if (await purgeSession(db, id, cutoff)) purged++;
    }
    if (expired.length < BATCH) break;
  }
  if (purged > 0) logger.info({ purged, retentionDays: deps.retentionDays }, "purged expired sessions");
  // The same sweep drops Idempotency-Keys past their 24 hours: the API already ignores them, this only frees space.
  const { count: expiredKeys } = await db.idempotencyKey.deleteMany({
    where: { createdAt: { lt: new Date(now.getTime() - IDEMPOTENCY_KEY_TTL_MS) } },
  });
  return { purged, expiredKeys };
}

async function purgeSession(db: Db, sessionId: string, cutoff: Date): Promise<boolean> {
  return db.$transaction(async (tx) => {
    // Re-read under a row lock: a restore that committed since the scan wins, and the session is kept.
    const [session] = await tx.$queryRaw<Array<{ clientId: string; deletedAt: Date | null; deletedById: string | null }>>`
      SELECT "clientId", "deletedAt", "deletedById" FROM "InsightChatSession" WHERE "id" = ${sessionId} FOR UPDATE`;
    if (!session?.deletedAt || session.deletedAt >= cutoff) return false;
    const [messages, packs] = await Promise.all([
      tx.insightChatMessage.count({ where: { sessionId } }),
      tx.insightContextPack.findMany({ where: { sessionId }, select: { id: true } }),
    ]);
    // Messages and packs (with their lead lists) go with the session by cascade.
    await tx.insightChatSession.delete({ where: { id: sessionId } });
    await tx.insightChatAuditEvent.create({
      data: {
        clientId: session.clientId,
        actorType: "SYSTEM",
        action: "SESSION_PURGED",
        sessionId,
        details: {
          reason: "retention period ended",
          deletedAt: session.deletedAt.toISOString(),
          deletedById: session.deletedById,
          purgedMessages: messages,
          purgedPackIds: packs.map((p) => p.id),
        },
      },
    });
    return true;
  });
}
