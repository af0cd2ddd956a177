// The LLM through the official openai client, against OpenAI or any compatible server (OPENAI_BASE_URL).
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import type { z } from "zod";
import { llmErrorKindOf, observeLlmCall, type LlmMetrics } from "../runtime/metrics.ts";
import { tracedLlmCall } from "./llm-span.ts";
import { chatAnswerMessages, leadInsightMessages, packSynthesisMessages } from "./prompts.ts";
import { addUsage, LlmError, NO_USAGE, type Completion, type LlmCallOptions, type LlmProvider, type LlmUsage } from "./provider.ts";
import type { RateLimiter } from "./rate-limit.ts";
import { RetriesExhaustedError, describeLlmError, withRetries, type RetryPolicy } from "./retry.ts";
import { chatAnswerSchema, leadInsightSchema, packSynthesisSchema, TASKS } from "./schemas.ts";

export interface OpenAiProviderOptions {
  apiKey: string;
  baseURL?: string | undefined;
  /** Per HTTP request. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Extra attempts when the answer does not match its schema. */
  malformedRetries: number;
  /** Spaces every HTTP request (retries included) under the deployment's rate. */
  rateLimiter: RateLimiter;
  /** Latency, tokens and errors of every HTTP request, by task. */
  metrics?: LlmMetrics | undefined;
}

type ChatMessage = { role: "system" | "user" | "assistant"; content: string };

export function createOpenAiProvider(options: OpenAiProviderOptions): LlmProvider {
  // The client's own retries are off: ours honour retry-after with a cap and stop at once on cancellation.
  const client = new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    timeout: options.timeoutMs,
    maxRetries: 0,
  });

  // Built once per task: converting a zod schema to JSON Schema costs more CPU than the rest of a call's own work.
  const formats = new Map<string, ReturnType<typeof zodResponseFormat>>();
  const formatFor = (schema: z.ZodType, task: string) => {
    let format = formats.get(task);
    if (!format) formats.set(task, (format = zodResponseFormat(schema, task)));
    return format;
  };

  async function complete<S extends z.ZodType>(
    schema: S,
    task: string,
    messages: ChatMessage[],
    call: LlmCallOptions,
  ): Promise<Completion<z.infer<S>>> {
    const responseFormat = formatFor(schema, task);
    let usage: LlmUsage = NO_USAGE;
    let problem = "";
    for (let attempt = 0; attempt <= options.malformedRetries; attempt++) {
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      try {
        completion = await withRetries(
          async () => {
            await options.rateLimiter.acquire(call.signal);
            return observeLlmCall(options.metrics, task, () =>
              tracedLlmCall(task, call.model, () =>
                client.chat.completions.create(
                  {
                    model: call.model,
                    messages,
                    response_format: responseFormat,
                    reasoning_effort: call.reasoningEffort,
                  },
                  { signal: call.signal },
                ),
              ),
            );
          },
          options.retry,
          call.signal,
          (err, retry, delayMs) =>
            call.log?.info(
              { task, retry, of: options.retry.maxRetries, reason: llmErrorKindOf(err), error: describeLlmError(err), delayMs: Math.round(delayMs) },
              "LLM call failed; retrying",
            ),
        );
      } catch (err) {
        if (call.signal.aborted) throw err;
        throw new LlmError(err instanceof RetriesExhaustedError ? err.message : describeLlmError(err), usage);
      }
      usage = addUsage(usage, {
        llmCalls: 1,
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
      });
      options.metrics?.tokens.inc({ task, direction: "input" }, completion.usage?.prompt_tokens ?? 0);
      options.metrics?.tokens.inc({ task, direction: "output" }, completion.usage?.completion_tokens ?? 0);
      const content = completion.choices[0]?.message?.content ?? "";
      const parsed = parseJson(content);
      const result = parsed === undefined ? undefined : schema.safeParse(parsed);
      if (result?.success) return { value: result.data, usage };
      options.metrics?.errors.inc({ task, kind: "malformed" });
      problem = result ? result.error.issues.map((i) => `${i.path.join(".") || "answer"}: ${i.message}`).join("; ") : "not JSON";
      if (attempt < options.malformedRetries) {
        call.log?.info({ task, retry: attempt + 1, of: options.malformedRetries, reason: "malformed", error: problem }, "LLM answer did not match its schema; asking again");
      }
    }
    throw new LlmError(`the model's answer did not match the expected shape ${options.malformedRetries + 1} times (${problem})`, usage);
  }

  return {
    name: "openai",
    modelFor: (requested) => requested,
    extractLeadInsight: (thread, call) => complete(leadInsightSchema, TASKS.leadInsight, leadInsightMessages(thread), call),
    synthesizePack: async (digest, call) => {
      const { value, usage } = await complete(packSynthesisSchema, TASKS.packSynthesis, packSynthesisMessages(digest), call);
      return { value: value.synthesis, usage };
    },
    answerQuestion: (context, call) => complete(chatAnswerSchema, TASKS.chatAnswer, chatAnswerMessages(context), call),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
