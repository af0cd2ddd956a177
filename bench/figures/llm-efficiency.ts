// Figure 2: 1,000 leads, a fake LLM that takes 100 ms per call, 32 calls in flight. The ideal is the LLM's own time:
// ceil(N / C) rounds of one latency each, plus one synthesis call. Measured: request to COMPLETE.
import { seedBenchWorkspace, startApi, type BenchEnv } from "../support/bench-env.ts";
import { fakeLlmProvider } from "../support/fake-llm-provider.ts";
import { startFakeLlmProcess } from "../support/fake-llm-process.ts";
import { computePack, median } from "../support/packs.ts";
import { startBenchWorker } from "../support/worker.ts";
import type { Figure } from "../support/report.ts";

const LEADS = 1000;
const CONCURRENCY = 32;
const LATENCY_MS = 100;
const ROUNDS = 3;

export async function llmEfficiency(env: BenchEnv): Promise<Figure> {
  const fake = await startFakeLlmProcess();
  const prefix = `${env.prefix}-llm`;
  const worker = await startBenchWorker(env, fakeLlmProvider(fake), { llmConcurrency: CONCURRENCY }, prefix);
  const api = await startApi(env, prefix);
  const runs: Array<{ wallMs: number; extractCalls: number; synthesisCalls: number }> = [];
  try {
    const warm = await seedBenchWorkspace(env, 100);
    await computePack(api, env.db, warm);
    for (let round = 0; round < ROUNDS; round++) {
      const ws = await seedBenchWorkspace(env, LEADS);
      await fake.reset();
      await fake.setLatency(LATENCY_MS);
      const pack = await computePack(api, env.db, ws);
      if (pack.totalLeads !== LEADS || pack.failedLeads !== 0) throw new Error(`unexpected pack: ${JSON.stringify(pack)}`);
      const { calls } = await fake.stats();
      runs.push({ wallMs: pack.wallMs, extractCalls: calls.lead_insight, synthesisCalls: calls.pack_synthesis });
    }
  } finally {
    await api.close();
    await worker.close();
    await fake.close();
  }
  const idealMs = Math.ceil(LEADS / CONCURRENCY) * LATENCY_MS + LATENCY_MS;
  const wall = median(runs.map((r) => r.wallMs));
  return {
    id: "llm-efficiency",
    title: "LLM-bound wall time / ideal (1,000 leads, 100 ms LLM, 32 in flight)",
    measured: wall / idealMs,
    unit: "×",
    target: { op: "<=", value: 1.1 },
    detail: { leads: LEADS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, idealMs, medianWallMs: wall, runs },
  };
}
