// Figure 5: the worker's peak RSS (VmHWM) computing a 50,000-lead pack, against its peak for a 5,000-lead pack. Each
// size gets a fresh worker process, started as `npm run start:worker` would (node --import tsx worker/src/main.ts),
// on this run's database and a queue prefix of its own, with the built-in offline provider (zero latency, no HTTP).
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { seedBenchWorkspace, startApi, type BenchEnv, type BenchWorkspace } from "../support/bench-env.ts";
import { computePack } from "../support/packs.ts";
import type { Figure } from "../support/report.ts";

const SMALL = 5_000;
const LARGE = 50_000;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

async function statusKb(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
}

async function peakRssFor(env: BenchEnv, ws: BenchWorkspace, leads: number) {
  const prefix = `${env.prefix}-mem${leads}`;
  const child = spawn(process.execPath, ["--import", "tsx", "worker/src/main.ts"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: prefix,
      PACK_MAX_LEADS: String(LARGE),
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("worker started")) resolve();
    });
    void exited.then((code) => reject(new Error(`worker exited with ${code}: ${output}`)));
  });
  const idleRssKb = await statusKb(child.pid!, "VmRSS");
  const api = await startApi(env, prefix);
  // RSS every second while the pack runs: a plateau says memory is bounded, a ramp says something accumulates.
  const rssTimelineMiB: number[] = [];
  const sampler = setInterval(() => {
    statusKb(child.pid!, "VmRSS").then(
      (kb) => rssTimelineMiB.push(Math.round(kb / 1024)),
      () => undefined,
    );
  }, 1000);
  try {
    const pack = await computePack(api, env.db, ws);
    if (pack.totalLeads !== leads || pack.failedLeads !== 0) throw new Error(`unexpected pack: ${JSON.stringify(pack)}`);
    const peakKb = await statusKb(child.pid!, "VmHWM");
    return { leads, wallMs: pack.wallMs, idleRssMiB: idleRssKb / 1024, peakRssMiB: peakKb / 1024, rssTimelineMiB };
  } finally {
    clearInterval(sampler);
    await api.close();
    child.kill("SIGTERM");
    await exited;
  }
}

export async function memory(env: BenchEnv): Promise<Figure> {
  const small = await seedBenchWorkspace(env, SMALL);
  const large = await seedBenchWorkspace(env, LARGE);
  const smallRun = await peakRssFor(env, small, SMALL);
  const largeRun = await peakRssFor(env, large, LARGE);
  return {
    id: "memory",
    title: "Worker peak RSS, 50,000-lead pack / 5,000-lead pack",
    measured: largeRun.peakRssMiB / smallRun.peakRssMiB,
    unit: "×",
    target: { op: "<=", value: 1.5 },
    detail: { provider: "offline (built in)", small: smallRun, large: largeRun },
  };
}
