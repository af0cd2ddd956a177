import type { Db, InsightChatSession } from "@insights/shared/db/client";
import { AppError, notFound } from "../http/app-error.ts";
import { afterCursor, toPage, type Cursor } from "../http/pagination.ts";
import type { Caller } from "../http/request-context.ts";
import { retentionCutoff } from "@insights/shared/retention";
import { recordAuditEvent } from "../audit/audit.service.ts";
import type { SessionResponse } from "./sessions.schema.ts";
import type { JobClient } from "../jobs/job-client.ts";

export function toSessionDto(row: InsightChatSession): SessionResponse {
  return {
    id: row.id,
    workspaceId: row.clientId,
    title: row.title,
    createdById: row.createdById,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    deletedAt: row.deletedAt,
    deletedById: row.deletedById,
  };
}

/**
 * The session as the caller may see it. A deleted session does not exist for members; admins still see it, so
 * they can restore it.
 */
export async function findVisibleSession(db: Db, caller: Caller, sessionId: string): Promise<InsightChatSession> {
  const session = await db.insightChatSession.findFirst({ where: { id: sessionId, clientId: caller.workspaceId } });
  if (!session || (session.deletedAt && !caller.isAdmin)) throw notFound("session");
  return session;
}

/** As `findVisibleSession`, for changes: a deleted session must be restored before anything is added to it. */
export async function findWritableSession(db: Db, caller: Caller, sessionId: string): Promise<InsightChatSession> {
  const session = await findVisibleSession(db, caller, sessionId);
  if (session.deletedAt) throw new AppError("CONFLICT", "the session is deleted; restore it first");
  return session;
}

export async function createSession(db: Db, caller: Caller, input: { title?: string | undefined }) {
  const session = await db.insightChatSession.create({
    data: { clientId: caller.workspaceId, createdById: caller.userId, title: input.title ?? "New insights chat" },
  });
  return toSessionDto(session);
}

export async function listSessions(
  db: Db,
  caller: Caller,
  query: { includeDeleted: boolean; cursor?: Cursor | undefined; limit: number },
) {
  if (query.includeDeleted && !caller.isAdmin) {
    throw new AppError("FORBIDDEN", "only workspace admins can list deleted sessions");
  }
  const rows = await db.insightChatSession.findMany({
    where: {
      clientId: caller.workspaceId,
      ...(query.includeDeleted ? {} : { deletedAt: null }),
      ...afterCursor(query.cursor, "desc"),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: query.limit + 1,
  });
  const page = toPage(rows, query.limit);
  return { sessions: page.items.map(toSessionDto), nextCursor: page.nextCursor };
}

export async function getSession(db: Db, caller: Caller, sessionId: string) {
  return toSessionDto(await findVisibleSession(db, caller, sessionId));
}

export async function renameSession(db: Db, caller: Caller, sessionId: string, title: string) {
  await findWritableSession(db, caller, sessionId);
  const session = await db.insightChatSession.update({ where: { id: sessionId }, data: { title } });
  return toSessionDto(session);
}

/**
 * Admin: soft delete, cancelling the session's unfinished packs in the same transaction. The conditional update
 * makes a concurrent second delete a conflict, not a second event.
 */
export async function deleteSession(db: Db, jobs: JobClient, caller: Caller, sessionId: string) {
  await findVisibleSession(db, caller, sessionId);
  const { session, cancelled } = await db.$transaction(async (tx) => {
    const deletedAt = new Date();
    const { count } = await tx.insightChatSession.updateMany({
      where: { id: sessionId, clientId: caller.workspaceId, deletedAt: null },
      data: { deletedAt, deletedById: caller.userId },
    });
    if (count === 0) throw new AppError("CONFLICT", "the session is already deleted");
    const running = await tx.insightContextPack.findMany({
      where: { sessionId, status: { in: ["PENDING", "RUNNING"] } },
      select: { id: true, generation: true },
    });
    await tx.insightContextPack.updateMany({
      where: { sessionId, status: { in: ["PENDING", "RUNNING"] } },
      data: { status: "CANCELLED", error: "cancelled: the session was deleted" },
    });
    await recordAuditEvent(tx, caller, {
      action: "SESSION_DELETED",
      sessionId,
      details: { cancelledPackIds: running.map((p) => p.id) },
    });
    return { session: await tx.insightChatSession.findUniqueOrThrow({ where: { id: sessionId } }), cancelled: running };
  });
  await Promise.all(cancelled.map((p) => jobs.cancelPack(p.id, p.generation)));
  return toSessionDto(session);
}

/** Admin: undo a soft delete, within the retention period (after it, the worker purges the session). */
export async function restoreSession(db: Db, caller: Caller, sessionId: string, retentionDays: number) {
  const existing = await findVisibleSession(db, caller, sessionId);
  if (existing.deletedAt && existing.deletedAt < retentionCutoff(retentionDays)) {
    throw new AppError("CONFLICT", `the restore period of ${retentionDays} days has ended; the session is being purged`);
  }
  const session = await db.$transaction(async (tx) => {
    const { count } = await tx.insightChatSession.updateMany({
      where: { id: sessionId, clientId: caller.workspaceId, deletedAt: { not: null } },
      data: { deletedAt: null, deletedById: null },
    });
    if (count === 0) throw new AppError("CONFLICT", "the session is not deleted");
    await recordAuditEvent(tx, caller, {
      action: "SESSION_RESTORED",
      sessionId,
      details: { deletedAt: existing.deletedAt?.toISOString() ?? null, deletedById: existing.deletedById },
    });
    return tx.insightChatSession.findUniqueOrThrow({ where: { id: sessionId } });
  });
  return toSessionDto(session);
}
