// One CLIENT span per HTTP request to the LLM (a retried call is several), inside the job's span: a slow pack's
// trace shows which calls were slow, which were retried and why. A no-op while tracing is off.
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { tracer } from "@insights/shared/tracing";
import { llmErrorKindOf } from "../runtime/metrics.ts";

interface WithUsage {
  usage?: { prompt_tokens: number; completion_tokens: number } | null | undefined;
}

export function tracedLlmCall<T extends WithUsage>(task: string, model: string, call: () => Promise<T>): Promise<T> {
  const attributes = { "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "insights.llm.task": task };
  return tracer().startActiveSpan(`llm ${task}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await call();
      if (result.usage) {
        span.setAttributes({
          "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
          "gen_ai.usage.output_tokens": result.usage.completion_tokens,
        });
      }
      return result;
    } catch (err) {
      const kind = llmErrorKindOf(err) ?? "aborted";
      span.setAttribute("error.type", kind);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message.slice(0, 200) : kind });
      throw err;
    } finally {
      span.end();
    }
  });
}
