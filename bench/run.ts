// `npm run bench`: every figure of issue 6, each against its baseline measured in this same process and run, then a
// table and a JSON file in bench/results/. `npm run bench -- --only pipeline,polling` runs a subset.
// Not part of CI: it takes minutes and wants a quiet machine. It makes its own database and queue prefix and
// removes both at the end.
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createBenchEnv } from "./support/bench-env.ts";
import { formatTable, isMet, machine, writeResults, type Figure } from "./support/report.ts";
import { incrementalAndTokens } from "./figures/incremental.ts";
import { llmEfficiency } from "./figures/llm-efficiency.ts";
import { memory } from "./figures/memory.ts";
import { pipelineOverhead } from "./figures/pipeline-overhead.ts";
import { live } from "./figures/live.ts";
import { polling } from "./figures/polling.ts";
import { scheduling } from "./figures/scheduling.ts";

const FIGURES: Record<string, (env: Awaited<ReturnType<typeof createBenchEnv>>) => Promise<Figure | Figure[]>> = {
  pipeline: pipelineOverhead,
  llm: llmEfficiency,
  incremental: incrementalAndTokens,
  polling,
  memory,
  live,
  scheduling,
};

const onlyArg = process.argv.findIndex((a) => a === "--only" || a.startsWith("--only="));
const only = onlyArg < 0 ? null : (process.argv[onlyArg]!.split("=")[1] ?? process.argv[onlyArg + 1] ?? "").split(",");
const unknown = only?.filter((k) => !(k in FIGURES)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`unknown figure(s) ${unknown.join(", ")}; choose from ${Object.keys(FIGURES).join(", ")}\n`);
  process.exit(2);
}
const selected = Object.keys(FIGURES).filter((k) => !only || only.includes(k));

const env = await createBenchEnv();
const figures: Figure[] = [];
const startedAt = new Date();
const machineBefore = machine();
// The machine is shared: the 1-minute load average is sampled through the run and reported with the figures.
const loadSamples: number[] = [];
const sampler = setInterval(() => loadSamples.push(loadavg()[0]!), 5000);
try {
  for (const key of selected) {
    const t0 = performance.now();
    process.stdout.write(`${key}: running…\n`);
    const loadBefore = loadavg()[0]!;
    const result = await FIGURES[key]!(env);
    for (const f of [result].flat()) {
      f.detail.loadAverage = { before: loadBefore, after: loadavg()[0]! };
      figures.push(f);
      process.stdout.write(
        `${key}: ${f.title}: ${f.measured.toFixed(3)}${f.unit} (${isMet(f) ? "met" : "missed"}) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    }
  }
} finally {
  clearInterval(sampler);
  await env.close();
}
const machineAfter = machine();
const load = {
  min: Math.min(...loadSamples),
  mean: Math.round((loadSamples.reduce((a, b) => a + b, 0) / Math.max(1, loadSamples.length)) * 100) / 100,
  max: Math.max(...loadSamples),
};
process.stdout.write(
  `\n${formatTable(figures)}\n\n1-minute load average during the run: min ${load.min}, mean ${load.mean}, max ${load.max} ` +
    `on ${machineAfter.cpus} CPUs (before ${machineBefore.loadAvg[0]}, after ${machineAfter.loadAvg[0]})\n`,
);
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");
const file = await writeResults(dir, { startedAt, finishedAt: new Date(), machineBefore, machineAfter, loadDuringRun: load, figures });
process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
process.exit(0);
