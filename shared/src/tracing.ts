// Traces (OpenTelemetry): an API request, the job it enqueues, the worker's run of that job and each LLM call in it,
// as one trace. Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test hands in its own span processor): then a
// process registers a tracer provider and exports over OTLP/HTTP. Off, every tracer is OpenTelemetry's no-op and
// jobs carry no trace context, so tracing costs nothing: the SDK (about a second of imports on a busy machine) is
// loaded only when tracing starts.
import { SpanKind, trace, type Tracer } from "@opentelemetry/api";
import type { Sampler, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { BullMQOtel } from "bullmq-otel";

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans go to `<endpoint>/v1/traces`. */
  endpoint?: string | undefined;
  /** Instead of the exporter (tests read spans from memory). */
  processor?: SpanProcessor;
}

export interface Tracing {
  /** Sends what is buffered, then stops. */
  shutdown(): Promise<void>;
}

// BullMQ's hook into OpenTelemetry, handed to every Queue and Worker once tracing is on: the producer puts the
// trace context into the job's options, the worker continues the trace from there.
let jobTelemetry: BullMQOtel | undefined;

/** Starts tracing for this process when there is somewhere to send spans; returns null (tracing off) otherwise. */
export async function startTracing(service: string, options: TracingOptions): Promise<Tracing | null> {
  if (!options.processor && !options.endpoint) return null;
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, sdk, { NodeTracerProvider }, { BullMQOtel }] = await Promise.all([
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/sdk-trace-node"),
    import("bullmq-otel"),
  ]);
  const processor =
    options.processor ?? new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/+$/, "")}/v1/traces` }));
  // BullMQ also traces its own housekeeping (every poll for a job, every stalled-job check), each as a trace of its
  // own: noise that would outnumber the requests. Those traces start with an INTERNAL span; every trace worth
  // keeping starts with a request (SERVER), an enqueue outside one (PRODUCER) or a job (CONSUMER). Children follow
  // their root's decision.
  const withoutHousekeeping: Sampler = new sdk.ParentBasedSampler({
    root: {
      shouldSample: (_context, _traceId, _name, kind) => ({
        decision: kind === SpanKind.INTERNAL ? sdk.SamplingDecision.NOT_RECORD : sdk.SamplingDecision.RECORD_AND_SAMPLED,
      }),
      toString: () => "WithoutHousekeeping",
    },
  });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    sampler: withoutHousekeeping,
    spanProcessors: [processor],
  });
  // Global tracer provider, AsyncLocalStorage context (so spans nest across awaits), W3C trace-context propagation.
  provider.register();
  jobTelemetry = new BullMQOtel({ tracerName: "bullmq" });
  return { shutdown: () => provider.shutdown() };
}

/** Whether this process started tracing: while it has not, a span would be OpenTelemetry's no-op. */
export const tracingStarted = (): boolean => jobTelemetry !== undefined;

/** For a BullMQ Queue's or Worker's `telemetry` option: undefined while tracing is off. */
export const bullmqTelemetry = (): BullMQOtel | undefined => jobTelemetry;

export const tracer = (): Tracer => trace.getTracer("insights");
