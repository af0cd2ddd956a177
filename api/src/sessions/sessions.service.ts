import type { Db, InsightChatSession, Tx } from "@insights/shared/db/client";
import { lockCallerMembership } from "../auth/membership-lock.ts";
import { AppError, notFound } from "../http/app-error.ts";
import { afterCursor, toPage, type Cursor } from "../http/pagination.ts";
import type { Caller } from "../http/request-context.ts";
import { retentionCutoff } from "@insights/shared/retention";
import { recordAuditEvent } from "../audit/audit.service.ts";
import type { SessionResponse } from "./sessions.schema.ts";
import type { JobClient } from "../jobs/job-client.ts";
import type { LiveEvents } from "../live/live-events.ts";

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

/**
 * Inside a write's transaction: the decisive check that the caller may still write to the session. The session row
 * is share-locked, so a concurrent delete (which locks it for a change) either committed before this read, and the
 * write is refused (404 for members, 409 for admins, as `findWritableSession`), or waits until this transaction has
 * committed, and then finds, cancels and audits what it wrote. Share locks do not block each other: concurrent
 * writes to one session run side by side. `admin`: the write is an admin's (403 if the caller no longer is one).
 */
export async function lockWritableSession(tx: Tx, caller: Caller, sessionId: string, need = { admin: false }): Promise<void> {
  const { isAdmin } = await lockCallerMembership(tx, caller, need);
  const [session] = await tx.$queryRaw<Array<{ deletedAt: Date | null }>>`
    SELECT "deletedAt" FROM "InsightChatSession" WHERE "id" = ${sessionId} AND "clientId" = ${caller.workspaceId} FOR SHARE`;
  if (!session || (session.deletedAt && !isAdmin)) throw notFound("session");
  if (session.deletedAt) throw new AppError("CONFLICT", "the session is deleted; restore it first");
}

/**
 * The session row locked for a change (delete, restore), after the caller's admin role is checked under its lock.
 * FOR NO KEY UPDATE, not FOR UPDATE: it still excludes the writers' share locks, but not the key-share lock a
 * worker's transaction takes on the session when it writes a pack row twice (PostgreSQL then re-checks the foreign
 * key), which would deadlock with this transaction cancelling that pack.
 */
async function lockSessionForAdmin(tx: Tx, caller: Caller, sessionId: string) {
  await lockCallerMembership(tx, caller, { admin: true });
  const [session] = await tx.$queryRaw<Array<{ deletedAt: Date | null; deletedById: string | null }>>`
    SELECT "deletedAt", "deletedById" FROM "InsightChatSession"
    WHERE "id" = ${sessionId} AND "clientId" = ${caller.workspaceId} FOR NO KEY UPDATE`;
  if (!session) throw notFound("session");
  return session;
}

export async function createSession(db: Db, caller: Caller, input: { title?: string | undefined }) {
  const session = await db.$transaction(async (tx) => {
    await lockCallerMembership(tx, caller, { admin: false });
    return tx.insightChatSession.create({
      data: { clientId: caller.workspaceId, createdById: caller.userId, title: input.title ?? "New insights chat" },
    });
  });
  return toSessionDto(session);
}

export async function listSessions(db: Db, caller: Caller, query: { includeDeleted: boolean; cursor?: Cursor | undefined; limit: number }) {
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

export async function renameSession(db: Db, live: LiveEvents, caller: Caller, sessionId: string, title: string) {
  await findWritableSession(db, caller, sessionId);
  const session = toSessionDto(
    await db.$transaction(async (tx) => {
      await lockWritableSession(tx, caller, sessionId);
      return tx.insightChatSession.update({ where: { id: sessionId }, data: { title } });
    }),
  );
  await live.sessionUpdated(session);
  return session;
}

/**
 * Admin: soft delete. Under the session's row lock, so every pack and reply created before it is visible to it and
 * nothing can be added after it (see `lockWritableSession`): it cancels the session's unfinished packs and pending
 * replies, each in one statement that returns exactly what it cancelled, and names them in its audit event. Workers
 * write a pack's or reply's result only while it is still RUNNING or PENDING, so none completes after this.
 */
export async function deleteSession(db: Db, jobs: JobClient, live: LiveEvents, caller: Caller, sessionId: string) {
  await findVisibleSession(db, caller, sessionId);
  const { session, cancelled, failedReplies } = await db.$transaction(async (tx) => {
    const existing = await lockSessionForAdmin(tx, caller, sessionId);
    if (existing.deletedAt) throw new AppError("CONFLICT", "the session is already deleted");
    const reason = "cancelled: the session was deleted";
    const session = await tx.insightChatSession.update({
      where: { id: sessionId },
      data: { deletedAt: new Date(), deletedById: caller.userId },
    });
    const packs = await tx.insightContextPack.updateManyAndReturn({
      where: { sessionId, status: { in: ["PENDING", "RUNNING"] } },
      data: { status: "CANCELLED", error: reason },
      select: { id: true, generation: true },
    });
    const replies = await tx.insightChatMessage.updateManyAndReturn({
      where: { sessionId, role: "ASSISTANT", status: "PENDING" },
      data: { status: "FAILED", error: reason, completedAt: new Date() },
      select: { id: true },
    });
    await recordAuditEvent(tx, caller, {
      action: "SESSION_DELETED",
      sessionId,
      details: { cancelledPackIds: packs.map((p) => p.id), cancelledReplyIds: replies.map((r) => r.id) },
    });
    return { session, cancelled: packs, failedReplies: replies };
  });
  // The packs and replies first: session.deleted closes the session's streams.
  for (const pack of cancelled) await live.packUpdated(pack.id);
  await live.messagesUpdated(failedReplies.map((r) => r.id));
  const deleted = toSessionDto(session);
  await live.sessionDeleted(deleted);
  await Promise.all(cancelled.map((p) => jobs.cancelPack(p.id, p.generation)));
  return deleted;
}

/**
 * Admin: undo a soft delete, within the retention period. The purge locks the same row: whichever comes second sees
 * what the first did (a restored session is not purged; a purged one is not found).
 */
export async function restoreSession(db: Db, live: LiveEvents, caller: Caller, sessionId: string, retentionDays: number) {
  await findVisibleSession(db, caller, sessionId);
  const session = await db.$transaction(async (tx) => {
    const existing = await lockSessionForAdmin(tx, caller, sessionId);
    if (!existing.deletedAt) throw new AppError("CONFLICT", "the session is not deleted");
    if (existing.deletedAt < retentionCutoff(retentionDays)) {
      throw new AppError("CONFLICT", `the restore period of ${retentionDays} days has ended; the session is being purged`);
    }
    await recordAuditEvent(tx, caller, {
      action: "SESSION_RESTORED",
      sessionId,
      details: { deletedAt: existing.deletedAt.toISOString(), deletedById: existing.deletedById },
    });
    return tx.insightChatSession.update({ where: { id: sessionId }, data: { deletedAt: null, deletedById: null } });
  });
  const restored = toSessionDto(session);
  await live.sessionUpdated(restored);
  return restored;
}
