// The real worker runtime, in-process, on the harness's queues, with the LLM at its HTTP boundary (a fake
// OpenAI-compatible server) so the openai client code runs for real.
import { afterAll, afterEach, inject } from "vitest";
import type { ModelPolicy } from "@insights/shared/llm-models";
import type { WebhookSettings } from "@insights/shared/webhooks/secret-box";
import { createLogger, type Logger } from "@insights/shared/logger";
import { createRedis } from "@insights/shared/redis";
import { createOpenAiProvider } from "@insights/worker/llm/openai-provider";
import type { LlmProvider } from "@insights/worker/llm/provider";
import { unlimited, type RateLimiter } from "@insights/worker/llm/rate-limit";
import type { WorkerMetrics } from "@insights/worker/runtime/metrics";
import { DEFAULT_TUNING, startWorkers, type WorkerRuntime, type WorkerTuning } from "@insights/worker/runtime/start-workers";
import { startFakeLlm, type FakeLlm } from "./fake-llm.ts";
import {
  bearer,
  createHarness,
  requestPackInNewSession,
  TEST_MODELS,
  TEST_WEBHOOKS,
  type Harness,
  type HarnessOptions,
  type TestWorkspace,
} from "./harness.ts";

/**
 * Test files share the run's database, and a worker's maintenance acts on every row in its database: a reconciler
 * would adopt other files' unfinished packs into its own queue, and the retention sweep would purge other files'
 * sessions. So test workers leave both alone unless a test opts in, on a database of its own (support/database.ts).
 */
export const SHARED_DATABASE_SAFE = { reconcileGraceMs: 3_600_000, sessionRetentionDays: 36_500 } as const;

export function fakeLlmProvider(
  fake: FakeLlm,
  overrides: { timeoutMs?: number; maxRetries?: number; rateLimiter?: RateLimiter } = {},
): LlmProvider {
  return createOpenAiProvider({
    apiKey: "test-key",
    baseURL: fake.baseURL,
    timeoutMs: overrides.timeoutMs ?? 5000,
    retry: { maxRetries: overrides.maxRetries ?? 3, baseDelayMs: 10, maxDelayMs: 2000 },
    malformedRetries: 1,
    rateLimiter: overrides.rateLimiter ?? unlimited,
  });
}

export async function startTestWorker(
  h: Harness,
  llm: LlmProvider,
  tuning: Partial<WorkerTuning> = {},
  /** `models` and `webhooks`: the deployment's settings (TEST_MODELS and TEST_WEBHOOKS by default). */
  observe: { logger?: Logger; metrics?: WorkerMetrics; models?: ModelPolicy; webhooks?: WebhookSettings } = {},
): Promise<WorkerRuntime> {
  const connection = createRedis(inject("redisUrl"), { role: "worker-test" });
  const subscriber = createRedis(inject("redisUrl"), { role: "worker-test-cancel" });
  const runtime = await startWorkers({
    db: h.db,
    connection,
    subscriber,
    prefix: h.prefix,
    llm,
    models: observe.models ?? TEST_MODELS,
    webhooks: observe.webhooks ?? TEST_WEBHOOKS,
    logger: observe.logger ?? createLogger("worker-test", process.env.TEST_LOG_LEVEL ?? "silent"),
    metrics: observe.metrics,
    tuning: { ...DEFAULT_TUNING, ...SHARED_DATABASE_SAFE, progressIntervalMs: 50, ...tuning },
  });
  return {
    async close() {
      await runtime.close();
      await Promise.all([connection.quit(), subscriber.quit()]);
    },
  };
}

/**
 * What most test files start with: the API harness, the fake model and one in-process worker calling it. The model's
 * script is reset after each test; all three close after the file. Call it at the top of the file.
 */
export async function useFakeModelWorker(
  options: { harness?: HarnessOptions; tuning?: Partial<WorkerTuning> } = {},
): Promise<{ h: Harness; fake: FakeLlm; worker: WorkerRuntime }> {
  const h = createHarness(options.harness);
  const fake = await startFakeLlm();
  const worker = await startTestWorker(h, fakeLlmProvider(fake), options.tuning);
  afterEach(() => fake.reset());
  afterAll(async () => {
    await worker.close();
    await fake.close();
    await h.close();
  });
  return { h, fake, worker };
}

/** Polls until `check` returns a value (not undefined), or fails with the last value seen. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 50, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A member opens a session and asks for a pack over the last 90 days; resolves once a worker completed it. */
export async function completePackInNewSession(h: Harness, ws: TestWorkspace): Promise<{ sessionId: string; packId: string }> {
  const requested = await requestPackInNewSession(h, ws);
  await waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}/insights/packs/${requested.packId}`).set(bearer(ws.tokens.member));
      return res.body.status === "COMPLETE" ? true : undefined;
    },
    { what: "the pack to complete" },
  );
  return requested;
}
