import { z } from "zod";
import { suggestedActionSchema } from "@insights/shared/insights/shapes";
import { id, text } from "../http/common.schema.ts";
import { pageQuery } from "../http/pagination.ts";

export const createMessageBody = z.strictObject({
  content: text.trim().min(1, "must not be empty").max(8000),
  /** Answer from this pack instead of the session's newest COMPLETE one. */
  packId: id.optional(),
});

export const listMessagesQuery = z.object(pageQuery);

const author = z.object({ id: z.string(), email: z.string(), name: z.string().nullable() });
const usage = z.object({ llmCalls: z.number().int(), inputTokens: z.number().int(), outputTokens: z.number().int() });

/** A message as the API returns it: a member's question, an assistant reply (PENDING until answered), or a note. */
export const messageResponse = z.object({
  id: z.string(),
  sessionId: z.string(),
  role: z.enum(["USER", "ASSISTANT", "SYSTEM"]),
  status: z.enum(["PENDING", "COMPLETE", "FAILED"]),
  content: z.string(),
  author: author.nullable(),
  packId: z.string().nullable(),
  replyToId: z.string().nullable(),
  error: z.string().nullable(),
  model: z.string().nullable(),
  /** Structured action suggestions (only for the workspace's toggles that are on); never executed. */
  suggestions: z.array(suggestedActionSchema).nullable(),
  citedLeadIds: z.array(z.string()),
  usage,
  createdAt: z.date(),
  completedAt: z.date().nullable(),
});
export type MessageResponse = z.output<typeof messageResponse>;

export const messagePage = z.object({ messages: z.array(messageResponse), nextCursor: z.string().nullable() });
/** A question and the reply a worker will complete (none when the session has no COMPLETE pack yet). */
export const createdMessages = z.object({ message: messageResponse, reply: messageResponse.nullable() });
