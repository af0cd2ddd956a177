// A zero-latency LLM inside the process: valid answers at once, no HTTP, so a pack's wall time is the pipeline's own
// overhead (queue, Postgres, pool). It counts its calls like the fake server counts requests.
import type { LlmProvider, LeadThread } from "@insights/worker/llm/provider";
import type { LeadInsight } from "@insights/worker/llm/schemas";

const USAGE = { llmCalls: 1, inputTokens: 120, outputTokens: 30 };

export interface InstantLlm extends LlmProvider {
  calls: { extract: number; synthesize: number; answer: number };
}

/** The same rule the fake LLM server answers with, so outcomes are known from the seeded threads. */
function insightOf(thread: LeadThread): LeadInsight {
  const inbound = thread.messages
    .filter((m) => m.direction === "INBOUND")
    .map((m) => m.body.toLowerCase())
    .join(" ");
  const outcome = !inbound
    ? "NO_REPLY"
    : inbound.includes("unsubscribe")
      ? "UNSUBSCRIBED"
      : inbound.includes("book a call")
        ? "MEETING_BOOKED"
        : inbound.includes("pricing")
          ? "INTERESTED"
          : "NOT_INTERESTED";
  return {
    outcome,
    sentiment: outcome === "MEETING_BOOKED" || outcome === "INTERESTED" ? "positive" : "neutral",
    summary: `Instant summary: ${outcome.toLowerCase()}.`,
    keyFacts: [],
    objections: [],
    nextStep: null,
  };
}

export function createInstantLlm(): InstantLlm {
  const calls = { extract: 0, synthesize: 0, answer: 0 };
  return {
    name: "openai",
    calls,
    modelFor: (requested) => requested,
    extractLeadInsight: async (thread) => {
      calls.extract++;
      return { value: insightOf(thread), usage: USAGE };
    },
    synthesizePack: async () => {
      calls.synthesize++;
      return { value: "Instant synthesis.", usage: USAGE };
    },
    answerQuestion: async () => {
      calls.answer++;
      return { value: { answer: "Instant answer.", citedLeadIds: [], suggestedActions: [] }, usage: USAGE };
    },
  };
}
