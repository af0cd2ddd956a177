// The LLM through the official openai client, against OpenAI or any compatible server (OPENAI_BASE_URL).
import OpenAI, { APIConnectionError, APIError } from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import type { z } from "zod";
import { llmErrorKindOf, observeLlmCall, type LlmMetrics } from "../runtime/metrics.ts";
import { tracedLlmCall } from "./llm-span.ts";
import { chatAnswerMessages, leadInsightMessages, packSynthesisMessages } from "./prompts.ts";
import { createLlmFetch } from "./http-fetch.ts";
import { JsonFieldStream } from "./json-field-stream.ts";
import {
  addUsage,
  LlmError,
  NO_USAGE,
  type AnswerStream,
  type Completion,
  type LlmCallOptions,
  type LlmProvider,
  type LlmUsage,
} from "./provider.ts";
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
type RawReply = { content: string; usage: OpenAI.Completions.CompletionUsage | null | undefined };

/** The field of the chat answer that streams to the member; the rest arrives with the final message. */
const STREAMED_FIELD = "answer";

export function createOpenAiProvider(options: OpenAiProviderOptions): LlmProvider {
  // The client's own retries are off: ours honour retry-after with a cap and stop at once on cancellation.
  const client = new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    timeout: options.timeoutMs,
    maxRetries: 0,
    fetch: createLlmFetch(),
  });

  // Built once per task: converting a zod schema to JSON Schema costs more CPU than the rest of a call's own work.
  const formats = new Map<string, ReturnType<typeof zodResponseFormat>>();
  const formatFor = (task: string) => formats.get(task)!;

  /** One request, whole: the reply's text and token counts. */
  async function requestWhole(task: string, messages: ChatMessage[], call: LlmCallOptions): Promise<RawReply> {
    const completion = await client.chat.completions.create(
      { model: call.model, messages, response_format: formatFor(task), reasoning_effort: call.reasoningEffort },
      { signal: call.signal },
    );
    return { content: completion.choices[0]?.message?.content ?? "", usage: completion.usage };
  }

  /** One request, streamed: the answer field's text goes to `stream` as the chunks arrive. */
  async function requestStreamed(task: string, messages: ChatMessage[], call: LlmCallOptions, stream: AnswerStream): Promise<RawReply> {
    stream.begin();
    const chunks = await client.chat.completions.create(
      {
        model: call.model,
        messages,
        response_format: formatFor(task),
        reasoning_effort: call.reasoningEffort,
        stream: true,
        stream_options: { include_usage: true },
      },
      { signal: call.signal },
    );
    const answer = new JsonFieldStream(STREAMED_FIELD, (piece) => stream.text(piece));
    let content = "";
    let usage: RawReply["usage"];
    try {
      for await (const chunk of chunks) {
        const piece = chunk.choices[0]?.delta?.content;
        if (piece) {
          content += piece;
          answer.push(piece);
        }
        if (chunk.usage) usage = chunk.usage;
      }
    } catch (err) {
      // A stream that breaks off part way is a dropped connection: retried like one, as a new try.
      if (call.signal.aborted || err instanceof APIError) throw err;
      throw new APIConnectionError({ message: `the answer stream broke off (${(err as Error).message})`, cause: err as Error });
    }
    return { content, usage };
  }

  async function complete<S extends z.ZodType>(
    schema: S,
    task: string,
    messages: ChatMessage[],
    call: LlmCallOptions,
    stream?: AnswerStream,
  ): Promise<Completion<z.infer<S>>> {
    formats.set(task, formats.get(task) ?? zodResponseFormat(schema, task));
    let usage: LlmUsage = NO_USAGE;
    let problem = "";
    for (let attempt = 0; attempt <= options.malformedRetries; attempt++) {
      let reply: RawReply;
      try {
        reply = await withRetries(
          async () => {
            await options.rateLimiter.acquire(call.signal, task === TASKS.chatAnswer ? "reply" : "packs");
            return observeLlmCall(options.metrics, task, () =>
              tracedLlmCall(task, call.model, () =>
                stream ? requestStreamed(task, messages, call, stream) : requestWhole(task, messages, call),
              ),
            );
          },
          options.retry,
          call.signal,
          (err, retry, delayMs) =>
            call.log?.info(
              {
                task,
                retry,
                of: options.retry.maxRetries,
                reason: llmErrorKindOf(err),
                error: describeLlmError(err),
                delayMs: Math.round(delayMs),
              },
              "LLM call failed; retrying",
            ),
        );
      } catch (err) {
        if (call.signal.aborted) throw err;
        throw new LlmError(err instanceof RetriesExhaustedError ? err.message : describeLlmError(err), usage);
      }
      usage = addUsage(usage, {
        llmCalls: 1,
        inputTokens: reply.usage?.prompt_tokens ?? 0,
        outputTokens: reply.usage?.completion_tokens ?? 0,
      });
      options.metrics?.tokens.inc({ task, direction: "input" }, reply.usage?.prompt_tokens ?? 0);
      options.metrics?.tokens.inc({ task, direction: "output" }, reply.usage?.completion_tokens ?? 0);
      const parsed = parseJson(reply.content);
      const result = parsed === undefined ? undefined : schema.safeParse(parsed);
      if (result?.success) return { value: result.data, usage };
      options.metrics?.errors.inc({ task, kind: "malformed" });
      problem = result ? result.error.issues.map((i) => `${i.path.join(".") || "answer"}: ${i.message}`).join("; ") : "not JSON";
      if (attempt < options.malformedRetries) {
        call.log?.info(
          { task, retry: attempt + 1, of: options.malformedRetries, reason: "malformed", error: problem },
          "LLM answer did not match its schema; asking again",
        );
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
    answerQuestion: (context, call, stream) => complete(chatAnswerSchema, TASKS.chatAnswer, chatAnswerMessages(context), call, stream),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
