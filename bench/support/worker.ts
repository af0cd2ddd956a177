// The real worker runtime in this process (what worker/src/main.ts starts), with an injected LLM provider.
import { DEFAULT_MODEL_POLICY } from "@insights/shared/llm-models";
import { createLogger } from "@insights/shared/logger";
import { createRedis } from "@insights/shared/redis";
import type { LlmProvider } from "@insights/worker/llm/provider";
import { DEFAULT_TUNING, startWorkers, type WorkerTuning } from "@insights/worker/runtime/start-workers";
import type { BenchEnv } from "./bench-env.ts";

export async function startBenchWorker(
  env: BenchEnv,
  llm: LlmProvider,
  tuning: Partial<WorkerTuning> = {},
  prefix = env.prefix,
): Promise<{ close(): Promise<void> }> {
  const connection = createRedis(env.redisUrl, { role: "bench-worker" });
  const subscriber = createRedis(env.redisUrl, { role: "bench-worker-cancel" });
  const runtime = await startWorkers({
    db: env.db,
    connection,
    subscriber,
    prefix,
    llm,
    models: DEFAULT_MODEL_POLICY,
    webhooks: { secrets: null, allowPrivate: false },
    logger: createLogger("bench-worker", process.env.BENCH_LOG_LEVEL ?? "silent"),
    tuning: { ...DEFAULT_TUNING, ...tuning },
  });
  return {
    async close() {
      await runtime.close();
      await Promise.all([connection.quit(), subscriber.quit()]);
    },
  };
}
