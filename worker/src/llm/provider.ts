import type { ActionType } from "@insights/shared/insights/shapes";
import { effectiveModel, type ModelPolicy } from "@insights/shared/llm-models";
import type { Logger } from "@insights/shared/logger";
import type { ChatAnswer, LeadInsight } from "./schemas.ts";

export interface LlmUsage {
  llmCalls: number;
  inputTokens: number;
  outputTokens: number;
}

export const NO_USAGE: LlmUsage = { llmCalls: 0, inputTokens: 0, outputTokens: 0 };

export const addUsage = (a: LlmUsage, b: LlmUsage): LlmUsage => ({
  llmCalls: a.llmCalls + b.llmCalls,
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
});

/** The workspace's settings, as they reach every call. */
export interface LlmCallOptions {
  model: string;
  reasoningEffort: "low" | "medium" | "high";
  signal: AbortSignal;
  /** The caller's logger (job, pack, lead or message ids): retries and their reasons are logged through it. */
  log?: Logger | undefined;
}

/**
 * The model and effort a workspace's settings ask for: its model if the deployment still allows it (see
 * llm-models.ts), and its effort, "medium" without a settings row (the schema's default); the API validates the
 * effort on write.
 */
export function callSettingsOf(
  settings: { insightsChatModel: string | null; insightsChatReasoningEffort: string } | null,
  models: ModelPolicy,
): Pick<LlmCallOptions, "model" | "reasoningEffort"> {
  return {
    model: effectiveModel(settings?.insightsChatModel, models),
    reasoningEffort: (settings?.insightsChatReasoningEffort ?? "medium") as LlmCallOptions["reasoningEffort"],
  };
}

export interface ThreadMessage {
  direction: "INBOUND" | "OUTBOUND";
  body: string;
  sentAt: Date;
}

export interface LeadThread {
  leadId: string;
  leadName: string | null;
  campaignName: string | null;
  messages: ThreadMessage[];
}

/** What synthesis sees: metrics and a sample of lead summaries, never raw threads. */
export interface PackDigest {
  scopeDescription: string;
  metrics: object;
  summaries: Array<{ leadName: string | null; campaignName: string | null; outcome: string; summary: string; objections: string[] }>;
}

/**
 * What an answer sees: the pack (synthesis and metrics), the lead summaries most relevant to the question, and a
 * bounded window of the conversation. Never a raw thread.
 */
export interface AnswerContext {
  question: string;
  scopeDescription: string;
  synthesis: string;
  metrics: object;
  summaries: Array<{
    leadId: string;
    leadName: string | null;
    campaignName: string | null;
    outcome: string;
    summary: string;
    keyFacts: string[];
    objections: string[];
    nextStep: string | null;
  }>;
  history: Array<{ role: "USER" | "ASSISTANT"; content: string }>;
  /** Action types whose workspace toggle is on; the only ones an answer may suggest. */
  enabledActions: ActionType[];
}

/** Where a streamed answer's text goes as the model writes it. */
export interface AnswerStream {
  /** A new try at the answer starts (the first, or a retry): the pieces of any earlier try are void. */
  begin(): void;
  /** The next piece of the answer's text; within one try the pieces concatenate to the final answer. */
  text(piece: string): void;
}

export interface Completion<T> {
  value: T;
  usage: LlmUsage;
}

/**
 * The LLM as the pipeline sees it. Two implementations: the OpenAI client (any OpenAI-compatible server) and the
 * built-in offline provider, which needs no key and labels everything it writes.
 */
export interface LlmProvider {
  readonly name: "openai" | "offline";
  /** The model recorded on results: the workspace's choice, or the offline provider's own name. */
  modelFor(requested: string): string;
  extractLeadInsight(thread: LeadThread, options: LlmCallOptions): Promise<Completion<LeadInsight>>;
  synthesizePack(digest: PackDigest, options: LlmCallOptions): Promise<Completion<string>>;
  /** Streams the answer's text to `stream` as it is written; the result is the whole answer. */
  answerQuestion(context: AnswerContext, options: LlmCallOptions, stream: AnswerStream): Promise<Completion<ChatAnswer>>;
}

/** An LLM failure a person can read; `usage` counts the calls it cost anyway. */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly usage: LlmUsage,
  ) {
    super(message);
    this.name = "LlmError";
  }
}
