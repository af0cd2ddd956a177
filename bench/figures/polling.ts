// Figure 4: GET /packs/:id throughput, answered 200 and answered 304 (If-None-Match), against a bare Express 5
// hello-world. Each server runs in a child process of its own; the load generator (this process) is the same for
// all three, and the three are measured in alternation, twice, keeping the median of each.
import { BENCH_JWT_SECRET, seedBenchWorkspace, startApi, type BenchEnv } from "../support/bench-env.ts";
import { createInstantLlm } from "../support/instant-llm.ts";
import { measureThroughput, startServerProcess, type LoadResult } from "../support/load.ts";
import { computePack, median } from "../support/packs.ts";
import { startBenchWorker } from "../support/worker.ts";
import type { Figure } from "../support/report.ts";

const CONNECTIONS = 32;
const WARMUP_MS = 1000;
const DURATION_MS = 4000;
const ROUNDS = 2;

export async function polling(env: BenchEnv): Promise<Figure[]> {
  // A COMPLETE 200-lead pack to poll.
  const prefix = `${env.prefix}-poll`;
  const worker = await startBenchWorker(env, createInstantLlm(), {}, prefix);
  const inProcessApi = await startApi(env, prefix);
  const ws = await seedBenchWorkspace(env, 200);
  const pack = await computePack(inProcessApi, env.db, ws);
  await inProcessApi.close();
  await worker.close();

  const hello = await startServerProcess("hello-server");
  const api = await startServerProcess("api-server", {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    QUEUE_PREFIX: prefix,
    AUTH_JWT_SECRET: BENCH_JWT_SECRET,
  });
  const packUrl = `http://127.0.0.1:${api.port}${ws.base}/insights/packs/${pack.packId}`;
  const auth = { authorization: `Bearer ${ws.tokens.member}` };
  const first = await fetch(packUrl, { headers: auth });
  const etag = first.headers.get("etag");
  await first.text();
  if (first.status !== 200 || !etag) throw new Error(`GET pack: ${first.status}, etag ${etag}`);

  const load = { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS };
  const runs: Record<"hello" | "pack200" | "pack304", LoadResult[]> = { hello: [], pack200: [], pack304: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      runs.hello.push(await measureThroughput({ ...load, url: `http://127.0.0.1:${hello.port}/`, expectStatus: 200 }));
      runs.pack200.push(await measureThroughput({ ...load, url: packUrl, headers: auth, expectStatus: 200 }));
      // As fetch sends a hand-set If-None-Match: with Cache-Control: no-cache.
      const revalidate = { ...auth, "if-none-match": etag, "cache-control": "no-cache" };
      runs.pack304.push(await measureThroughput({ ...load, url: packUrl, headers: revalidate, expectStatus: 304 }));
    }
  } finally {
    await Promise.all([hello.close(), api.close()]);
  }
  for (const [name, results] of Object.entries(runs)) {
    if (results.some((r) => r.unexpected > 0)) throw new Error(`${name}: unexpected statuses ${JSON.stringify(results)}`);
  }
  const rps = (k: keyof typeof runs) => median(runs[k].map((r) => r.requestsPerSecond));
  const detail = {
    connections: CONNECTIONS,
    durationMs: DURATION_MS,
    warmupMs: WARMUP_MS,
    helloRps: rps("hello"),
    pack200Rps: rps("pack200"),
    pack304Rps: rps("pack304"),
    runs,
  };
  return [
    {
      id: "polling-200",
      title: "GET /packs/:id 200 throughput / Express hello-world",
      measured: rps("pack200") / rps("hello"),
      unit: "×",
      target: { op: ">=", value: 0.5 },
      detail,
    },
    {
      id: "polling-304",
      title: "GET /packs/:id 304 throughput / Express hello-world",
      measured: rps("pack304") / rps("hello"),
      unit: "×",
      target: { op: ">=", value: 0.6 },
      detail: { see: "polling-200" },
    },
  ];
}
