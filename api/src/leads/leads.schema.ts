import { z } from "zod";
import { MessageDirection } from "@insights/shared/db/client";
import { id, isoDateTime, text, workspaceParams } from "../http/common.schema.ts";

/** Per call; the host sends a large workspace in batches. */
export const MAX_LEADS_PER_BATCH = 500;
export const MAX_MESSAGES_PER_LEAD = 1000;

const threadMessage = z.strictObject({
  id,
  direction: z.enum(MessageDirection),
  body: text.max(20_000),
  sentAt: isoDateTime,
});

const lead = z
  .strictObject({
    id,
    name: text.max(200).nullish(),
    email: text.max(320).nullish(),
    campaignId: id.nullish(),
    messages: z.array(threadMessage).max(MAX_MESSAGES_PER_LEAD),
  })
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.messages.forEach((message, index) => {
      if (seen.has(message.id)) {
        ctx.addIssue({ code: "custom", path: ["messages", index, "id"], message: "is repeated in this thread" });
      }
      seen.add(message.id);
    });
  });

export const leadsBatchBody = z.strictObject({ leads: z.array(lead).min(1).max(MAX_LEADS_PER_BATCH) }).superRefine((value, ctx) => {
  const seen = new Set<string>();
  value.leads.forEach((l, index) => {
    if (seen.has(l.id)) ctx.addIssue({ code: "custom", path: ["leads", index, "id"], message: "is repeated in this batch" });
    seen.add(l.id);
  });
});

export type LeadInput = z.infer<typeof lead>;

export const leadPath = workspaceParams.extend({ leadId: id });

/** What one ingestion call did. */
export const ingestionResponse = z.object({
  received: z.number().int(),
  created: z.number().int(),
  /** Leads whose thread changed (or is new): their cached summaries no longer apply. */
  threadsChanged: z.number().int(),
});
export type IngestionResponse = z.output<typeof ingestionResponse>;

export const leadInsightResponse = z.object({
  leadId: z.string(),
  outcome: z.string(),
  /** {summary, sentiment, keyFacts, objections, nextStep} */
  summary: z.unknown(),
  model: z.string(),
  /** "openai" or "offline" (the built-in extractive provider). */
  provider: z.string(),
  promptVersion: z.string(),
  threadFingerprint: z.string(),
  /** The thread changed since this summary was made; the next pack over it will re-extract it. */
  stale: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type LeadInsightResponse = z.output<typeof leadInsightResponse>;

export const leadErasureResponse = z.object({
  leadId: z.string(),
  erasedAt: z.date(),
  /** Packs that held the lead, now being rebuilt without it. */
  rebuiltPackIds: z.array(z.string()),
  /** Answers that drew on the lead, whose text was removed. */
  redactedMessageIds: z.array(z.string()),
});
