import type { Db, InsightChatMessage } from "@insights/shared/db/client";
import { recordAuditEvent } from "../audit/audit.service.ts";
import { afterCursor, toPage, type Cursor } from "../http/pagination.ts";
import type { Caller } from "../http/request-context.ts";
import { findVisibleSession, findWritableSession } from "../sessions/sessions.service.ts";

const authorSelect = { select: { id: true, email: true, name: true } } as const;
type MessageRow = InsightChatMessage & { author: { id: string; email: string; name: string | null } | null };

export function toMessageDto(row: MessageRow) {
  return {
    id: row.id,
    sessionId: row.sessionId,
    role: row.role,
    status: row.status,
    content: row.content,
    author: row.author,
    packId: row.packId,
    error: row.error,
    model: row.model,
    suggestions: row.suggestions,
    usage: { llmCalls: row.llmCalls, inputTokens: row.inputTokens, outputTokens: row.outputTokens },
    createdAt: row.createdAt,
    completedAt: row.completedAt,
  };
}

/** Oldest first, the order a chat reads in. */
export async function listMessages(
  db: Db,
  caller: Caller,
  sessionId: string,
  page: { cursor?: Cursor | undefined; limit: number },
) {
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

/** Stores the caller's USER message and its audit event in one transaction. */
export async function createUserMessage(db: Db, caller: Caller, sessionId: string, input: { content: string }) {
  await findWritableSession(db, caller, sessionId);
  const message = await db.$transaction(async (tx) => {
    const created = await tx.insightChatMessage.create({
      data: {
        clientId: caller.workspaceId,
        sessionId,
        role: "USER",
        content: input.content,
        authorId: caller.userId,
        completedAt: new Date(),
      },
      include: { author: authorSelect },
    });
    await recordAuditEvent(tx, caller, {
      action: "MESSAGE_CREATED",
      sessionId,
      details: { messageId: created.id, role: "USER" },
    });
    return created;
  });
  return { message: toMessageDto(message), reply: null };
}
