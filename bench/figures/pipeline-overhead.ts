// Figure 1: a 2,000-lead pack with a zero-latency LLM, against 2,000 raw BullMQ no-op jobs on the same Redis with the
// same concurrency. Both are timed from the first enqueue to the last unit done; runs alternate to share any drift.
import { Queue, Worker } from "bullmq";
import { createRedis } from "@insights/shared/redis";
import { DEFAULT_TUNING } from "@insights/worker/runtime/start-workers";
import { seedBenchWorkspace, startApi, type BenchEnv } from "../support/bench-env.ts";
import { createInstantLlm } from "../support/instant-llm.ts";
import { computePack, median } from "../support/packs.ts";
import { startBenchWorker } from "../support/worker.ts";
import type { Figure } from "../support/report.ts";

const UNITS = 2000;
const ROUNDS = 5;

/** 2,000 no-op jobs through a plain Queue and Worker: BullMQ's own cost per unit. */
async function rawBullmq(env: BenchEnv, concurrency: number, round: number): Promise<number> {
  const connection = createRedis(env.redisUrl, { role: "bench-raw" });
  const name = `bench-noop-${round}`;
  const queue = new Queue(name, { connection, prefix: env.prefix });
  let done = 0;
  let finish!: () => void;
  const allDone = new Promise<void>((resolve) => (finish = resolve));
  const worker = new Worker(
    name,
    async () => {
      if (++done === UNITS) finish();
    },
    { connection: createRedis(env.redisUrl, { role: "bench-raw-worker" }), prefix: env.prefix, concurrency, autorun: false },
  );
  await worker.waitUntilReady();
  const startedAt = performance.now();
  void worker.run();
  await queue.addBulk(Array.from({ length: UNITS }, (_, i) => ({ name: "noop", data: { i }, opts: { removeOnComplete: true } })));
  await allDone;
  const ms = performance.now() - startedAt;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return ms;
}

export async function pipelineOverhead(env: BenchEnv): Promise<Figure> {
  const llm = createInstantLlm();
  const concurrency = DEFAULT_TUNING.llmConcurrency;
  const worker = await startBenchWorker(env, llm);
  const api = await startApi(env);
  const workspaces = [];
  for (let i = 0; i < ROUNDS + 1; i++) workspaces.push(await seedBenchWorkspace(env, UNITS));
  const raw: number[] = [];
  const pipeline: number[] = [];
  try {
    // A warm-up of each, untimed: module loading and first connections are not the pipeline's steady cost.
    await rawBullmq(env, concurrency, 99);
    await computePack(api, env.db, workspaces[ROUNDS]!);
    for (let round = 0; round < ROUNDS; round++) {
      raw.push(await rawBullmq(env, concurrency, round));
      const pack = await computePack(api, env.db, workspaces[round]!);
      if (pack.totalLeads !== UNITS || pack.cachedLeads !== 0) throw new Error(`unexpected pack: ${JSON.stringify(pack)}`);
      pipeline.push(pack.wallMs);
    }
  } finally {
    await api.close();
    await worker.close();
  }
  const ratio = median(pipeline) / median(raw);
  return {
    id: "pipeline-overhead",
    title: "Pipeline overhead (2,000 leads, zero-latency LLM) vs raw BullMQ no-op jobs",
    measured: ratio,
    unit: "×",
    target: { op: "<=", value: 2 },
    detail: {
      units: UNITS,
      concurrency,
      rounds: ROUNDS,
      pipelineMs: pipeline,
      rawBullmqMs: raw,
      pipelineMedianMs: median(pipeline),
      rawBullmqMedianMs: median(raw),
      llmCalls: llm.calls,
    },
  };
}
