// The worker's real OpenAI provider pointed at the tests' fake OpenAI-compatible server (tests/support/fake-llm.ts),
// so the openai client, its HTTP and its JSON run for real and only the model's thinking time is simulated.
import { createOpenAiProvider } from "@insights/worker/llm/openai-provider";
import type { LlmProvider } from "@insights/worker/llm/provider";
import { unlimited } from "@insights/worker/llm/rate-limit";

export function fakeLlmProvider(fake: { baseURL: string }): LlmProvider {
  return createOpenAiProvider({
    apiKey: "bench-key",
    baseURL: fake.baseURL,
    timeoutMs: 30_000,
    retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 1000 },
    malformedRetries: 1,
    rateLimiter: unlimited,
  });
}
