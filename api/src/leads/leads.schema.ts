import { z } from "zod";
import { MessageDirection } from "@insights/shared/db/client";
import { id, isoDateTime, text } from "../http/common.schema.ts";

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

export const leadsBatchBody = z
  .strictObject({ leads: z.array(lead).min(1).max(MAX_LEADS_PER_BATCH) })
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.leads.forEach((l, index) => {
      if (seen.has(l.id)) ctx.addIssue({ code: "custom", path: ["leads", index, "id"], message: "is repeated in this batch" });
      seen.add(l.id);
    });
  });

export type LeadInput = z.infer<typeof lead>;

export const leadParams = z.object({ leadId: id });
