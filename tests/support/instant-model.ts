// A model inside the test process that answers every lead at once with the same valid summary ("no reply"), for
// tests about what the pipeline does around the model. `onExtract` runs at each lead's call, before it answers.
import type { LlmProvider } from "@insights/worker/llm/provider";

export function instantModel(onExtract: () => void = () => {}): LlmProvider {
  return {
    name: "openai",
    modelFor: (requested) => requested,
    extractLeadInsight: async () => {
      onExtract();
      const value = {
        outcome: "NO_REPLY" as const,
        sentiment: "neutral" as const,
        summary: "No reply.",
        keyFacts: [],
        objections: [],
        nextStep: null,
      };
      return { value, usage: { llmCalls: 1, inputTokens: 10, outputTokens: 5 } };
    },
    synthesizePack: async () => ({ value: "Synthesis.", usage: { llmCalls: 1, inputTokens: 10, outputTokens: 5 } }),
    answerQuestion: async () => {
      throw new Error("not asked");
    },
  };
}
