// A message as clients see it (`GET /messages`, and the live message events): one builder for the API and the worker.
import type { InsightChatMessage } from "../db/client.ts";
import type { SuggestedAction } from "../insights/shapes.ts";

/** Include this wherever a message is read to be shown: the view names its author. */
export const authorSelect = { select: { id: true, email: true, name: true } } as const;
export type MessageRow = InsightChatMessage & { author: { id: string; email: string; name: string | null } | null };

export function toMessageView(row: MessageRow) {
  return {
    id: row.id,
    sessionId: row.sessionId,
    role: row.role,
    status: row.status,
    content: row.content,
    author: row.author,
    packId: row.packId,
    replyToId: row.replyToId,
    error: row.error,
    model: row.model,
    // Written by the worker as this shape (shared/src/insights/shapes.ts); null on questions and notes.
    suggestions: row.suggestions as SuggestedAction[] | null,
    citedLeadIds: row.citedLeadIds,
    usage: { llmCalls: row.llmCalls, inputTokens: row.inputTokens, outputTokens: row.outputTokens },
    createdAt: row.createdAt,
    completedAt: row.completedAt,
  };
}
