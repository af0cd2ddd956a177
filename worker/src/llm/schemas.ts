// What the LLM must return, as zod schemas: sent to the model as JSON Schema (structured output) and used again to
// validate its answer, so a malformed answer is caught here and never stored.
import { z } from "zod";
import { ConversationInsightOutcome } from "@insights/shared/db/client";
import { suggestedActionSchema } from "@insights/shared/insights/shapes";

export const leadInsightSchema = z.object({
  outcome: z.enum(ConversationInsightOutcome),
  sentiment: z.enum(["positive", "neutral", "negative"]),
  summary: z.string().min(1).max(1000),
  keyFacts: z.array(z.string().max(300)).max(8),
  objections: z.array(z.string().max(300)).max(6),
  nextStep: z.string().max(300).nullable(),
});
export type LeadInsight = z.infer<typeof leadInsightSchema>;

export const packSynthesisSchema = z.object({
  synthesis: z.string().min(1).max(12_000),
});
export type PackSynthesis = z.infer<typeof packSynthesisSchema>;

export const chatAnswerSchema = z.object({
  answer: z.string().min(1).max(12_000),
  citedLeadIds: z.array(z.string().max(128)).max(50),
  suggestedActions: z.array(suggestedActionSchema).max(5),
});
export type ChatAnswer = z.infer<typeof chatAnswerSchema>;

/** Structured-output names; the fake LLM server in the tests tells tasks apart by them. */
export const TASKS = { leadInsight: "lead_insight", packSynthesis: "pack_synthesis", chatAnswer: "chat_answer" } as const;
