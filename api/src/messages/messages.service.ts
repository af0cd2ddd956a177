import type { Db, Tx } from "@insights/shared/db/client";
import { authorSelect, toMessageView, type MessageRow } from "@insights/shared/views/message-view";
import { recordAuditEvent } from "../audit/audit.service.ts";
import type { MessageResponse } from "./messages.schema.ts";
import { AppError, notFound } from "../http/app-error.ts";
import type { JobClient } from "../jobs/job-client.ts";
import type { LiveEvents } from "../live/live-events.ts";
import { afterCursor, toPage, type Cursor } from "../http/pagination.ts";
import type { Caller } from "../http/request-context.ts";
import { findVisibleSession, findWritableSession, lockWritableSession } from "../sessions/sessions.service.ts";

/** The shared builder, checked against the response schema here. */
export const toMessageDto: (row: MessageRow) => MessageResponse = toMessageView;

/** Oldest first, the order a chat reads in. */
export async function listMessages(db: Db, caller: Caller, sessionId: string, page: { cursor?: Cursor | undefined; limit: number }) {
  await findVisibleSession(db, caller, sessionId);
  const rows = await db.insightChatMessage.findMany({
    where: { sessionId, ...afterCursor(page.cursor, "asc") },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    take: page.limit + 1,
    include: { author: authorSelect },
  });
  const result = toPage(rows, page.limit);
  return { messages: result.items.map(toMessageDto), nextCursor: result.nextCursor };
}

/** The newest `count` messages, oldest first (the session's visibility is the caller's to check). */
export async function lastMessages(db: Db, sessionId: string, count: number) {
  const rows = await db.insightChatMessage.findMany({
    where: { sessionId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: count,
    include: { author: authorSelect },
  });
  return rows.reverse().map(toMessageDto);
}

/**
 * Stores the caller's USER message and, when the session has a COMPLETE pack (or the request names one), a
 * PENDING ASSISTANT reply that a worker completes from that pack. Both messages and their audit events land in one
 * transaction, under the session's share lock and the pack's (so a concurrent session delete cancels the reply, or
 * refuses the question; a concurrent pack delete or recompute waits for the reply to exist); the reply's job is
 * enqueued after it commits (a missed enqueue is picked up by the reconciler).
 */
export async function createUserMessage(
  deps: { db: Db; jobs: JobClient; live: LiveEvents },
  caller: Caller,
  sessionId: string,
  input: { content: string; packId?: string | undefined },
) {
  const { db, jobs } = deps;
  await findWritableSession(db, caller, sessionId);

  const { message, reply } = await db.$transaction(async (tx) => {
    await lockWritableSession(tx, caller, sessionId);
    const packId = await lockPackToAnswerFrom(tx, sessionId, input.packId);
    if (packId) jobs.assertAvailable();
    const now = new Date();
    const message = await tx.insightChatMessage.create({
      data: {
        clientId: caller.workspaceId,
        sessionId,
        role: "USER",
        content: input.content,
        authorId: caller.userId,
        createdAt: now,
        completedAt: now,
      },
      include: { author: authorSelect },
    });
    await recordAuditEvent(tx, caller, { action: "MESSAGE_CREATED", sessionId, details: { messageId: message.id, role: "USER" } });
    if (!packId) return { message, reply: null };
    const reply = await tx.insightChatMessage.create({
      data: {
        clientId: caller.workspaceId,
        sessionId,
        role: "ASSISTANT",
        status: "PENDING",
        content: "",
        packId,
        replyToId: message.id,
        // Strictly after the question, so the two always list in order.
        createdAt: new Date(now.getTime() + 1),
      },
      include: { author: authorSelect },
    });
    await recordAuditEvent(tx, caller, {
      action: "MESSAGE_CREATED",
      sessionId,
      packId,
      details: { messageId: reply.id, role: "ASSISTANT", replyToId: message.id },
    });
    return { message, reply };
  });
  const created = { message: toMessageDto(message), reply: reply ? toMessageDto(reply) : null };
  await deps.live.messageCreated(created.message);
  if (created.reply) {
    await deps.live.messageCreated(created.reply);
    await jobs.enqueueCommitted("answerMessage", { messageId: created.reply.id });
  }
  return created;
}

/**
 * The named pack (which must be this session's and COMPLETE), else the session's newest COMPLETE pack, else none;
 * share-locked, so it stays COMPLETE and present until the reply that names it has committed.
 */
async function lockPackToAnswerFrom(tx: Tx, sessionId: string, packId: string | undefined): Promise<string | null> {
  if (packId) {
    const [pack] = await tx.$queryRaw<Array<{ status: string }>>`
      SELECT "status"::text AS "status" FROM "InsightContextPack" WHERE "id" = ${packId} AND "sessionId" = ${sessionId} FOR SHARE`;
    if (!pack) throw notFound("pack in this session");
    if (pack.status !== "COMPLETE") {
      throw new AppError("CONFLICT", `the pack is ${pack.status}; answers come from COMPLETE packs only`);
    }
    return packId;
  }
  const [newest] = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT "id" FROM "InsightContextPack" WHERE "sessionId" = ${sessionId} AND "status" = 'COMPLETE'
    ORDER BY "completedAt" DESC, "id" DESC LIMIT 1 FOR SHARE`;
  return newest?.id ?? null;
}
