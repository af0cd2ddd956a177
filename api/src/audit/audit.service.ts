import type { Db, InsightChatAuditAction, InsightChatAuditEvent, Prisma, Tx } from "@insights/shared/db/client";
import type { Actor, Caller } from "../http/request-context.ts";
import { afterCursor, toPage, type Cursor } from "../http/pagination.ts";
import type { AuditEventResponse } from "./audit.schema.ts";

export interface AuditEntry {
  action: InsightChatAuditAction;
  sessionId?: string;
  packId?: string;
  details?: Prisma.InputJsonObject;
}

/**
 * Appends an audit event. Always called with the transaction that makes the change it records, so an event
 * exists exactly when its change does.
 */
export async function recordAuditEvent(tx: Tx, actor: Actor, entry: AuditEntry): Promise<void> {
  await tx.insightChatAuditEvent.create({
    data: {
      clientId: actor.workspaceId,
      actorType: actor.userId ? "USER" : "SERVICE",
      actorId: actor.userId,
      action: entry.action,
      sessionId: entry.sessionId ?? null,
      packId: entry.packId ?? null,
      details: entry.details ?? {},
    },
  });
}

export interface AuditFilter {
  sessionId?: string | undefined;
  packId?: string | undefined;
  action?: InsightChatAuditAction | undefined;
  cursor?: Cursor | undefined;
  limit: number;
}

/** Newest first. */
export async function listAuditEvents(db: Db, caller: Caller, filter: AuditFilter) {
  const rows = await db.insightChatAuditEvent.findMany({
    where: {
      clientId: caller.workspaceId,
      ...(filter.sessionId ? { sessionId: filter.sessionId } : {}),
      ...(filter.packId ? { packId: filter.packId } : {}),
      ...(filter.action ? { action: filter.action } : {}),
      ...afterCursor(filter.cursor, "desc"),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: filter.limit + 1,
    include: { actor: { select: { id: true, email: true, name: true } } },
  });
  const page = toPage(rows, filter.limit);
  return { events: page.items.map(toAuditEventDto), nextCursor: page.nextCursor };
}

type AuditRow = InsightChatAuditEvent & { actor: { id: string; email: string; name: string | null } | null };

function toAuditEventDto(row: AuditRow): AuditEventResponse {
  return {
    id: row.id,
    workspaceId: row.clientId,
    action: row.action,
    actor: row.actor ? { type: row.actorType, ...row.actor } : { type: row.actorType },
    sessionId: row.sessionId,
    packId: row.packId,
    details: row.details,
    createdAt: row.createdAt,
  };
}
