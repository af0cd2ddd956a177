// Issue 12's figures, on real worker processes (`npm run start:worker`) and a 100 ms fake model in its own process:
// - scale-out: one 2,000-lead pack with 3 worker processes vs 1 (the speed-up; 3× is the limit);
// - fairness: a 20-lead pack's wall time while another workspace has four 1,000-lead packs in flight, over alone;
// - replies under load: question-to-reply time under that same load, over idle.
import type { Db } from "@insights/shared/db/client";
import { startService, waitForOutput, type ServiceProcess } from "../../tests/support/processes.ts";
import { seedBenchWorkspace, startApi, type BenchApi, type BenchEnv, type BenchWorkspace } from "../support/bench-env.ts";
import { startFakeLlmProcess, type FakeLlmProcess } from "../support/fake-llm-process.ts";
import { callApi, computePack, median, newSession, waitForPack } from "../support/packs.ts";
import type { Figure } from "../support/report.ts";

const LATENCY_MS = 100;
const BIG_PACK = 2000;
const SMALL_PACK = 20;
const BACKLOG = { packs: 4, leads: 1000 };
const ROUNDS = 3;
/** Worker knobs passed through from the bench's own environment, to measure other settings than the defaults. */
const KNOBS = ["PACK_CHUNK_SIZE", "CHUNK_CONCURRENCY", "LLM_CONCURRENCY", "PACK_CONCURRENCY"] as const;

async function startWorkerProcesses(env: BenchEnv, fake: FakeLlmProcess, prefix: string, n: number): Promise<ServiceProcess[]> {
  const procs = Array.from({ length: n }, () =>
    startService("worker", {
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: prefix,
      OPENAI_API_KEY: "bench-key",
      OPENAI_BASE_URL: fake.baseURL,
      ...Object.fromEntries(KNOBS.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))),
    }),
  );
  await Promise.all(procs.map((p) => waitForOutput(p, /worker started/)));
  return procs;
}

async function stopAll(procs: ServiceProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.kill("SIGKILL")));
}

/** Asks a question in a session whose pack is complete; the time until its reply is COMPLETE. */
async function timedReply(api: BenchApi, db: Db, ws: BenchWorkspace, sessionId: string): Promise<number> {
  const startedAt = Date.now();
  const res = await callApi(api, "POST", `${ws.base}/insights/sessions/${sessionId}/messages`, ws.tokens.member, {
    content: "Who asked for pricing?",
  });
  if (res.status !== 201) throw new Error(`question: ${res.status} ${JSON.stringify(res.body)}`);
  const replyId = res.body.reply.id as string;
  for (;;) {
    const reply = await db.insightChatMessage.findUnique({ where: { id: replyId }, select: { status: true, completedAt: true } });
    if (reply?.status === "COMPLETE") return (reply.completedAt ?? new Date()).getTime() - startedAt;
    if (reply?.status === "FAILED") throw new Error(`reply ${replyId} failed`);
    if (Date.now() - startedAt > 120_000) throw new Error(`reply ${replyId} not answered in 2 min`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function requestPack(api: BenchApi, ws: BenchWorkspace): Promise<{ packId: string; startedAt: number }> {
  const sessionId = await newSession(api, ws);
  const startedAt = Date.now();
  const res = await callApi(api, "POST", `${ws.base}/insights/sessions/${sessionId}/packs`, ws.tokens.member, {
    window: { preset: "LAST_90_DAYS" },
  });
  if (res.status !== 202) throw new Error(`pack request: ${res.status} ${JSON.stringify(res.body)}`);
  return { packId: res.body.id, startedAt };
}

export async function scheduling(env: BenchEnv): Promise<Figure[]> {
  const fake = await startFakeLlmProcess();
  await fake.setLatency(LATENCY_MS);
  const prefix = `${env.prefix}-sched`;
  const api = await startApi(env, prefix);
  let procs: ServiceProcess[] = [];
  try {
    // Scale-out: the same 2,000-lead pack (a fresh workspace each time, so nothing is cached) on 1, then 3 processes.
    const wallByWorkers: Record<number, number> = {};
    for (const n of [1, 3]) {
      procs = await startWorkerProcesses(env, fake, prefix, n);
      const ws = await seedBenchWorkspace(env, BIG_PACK);
      const pack = await computePack(api, env.db, ws);
      if (pack.totalLeads !== BIG_PACK || pack.failedLeads !== 0) throw new Error(`unexpected pack: ${JSON.stringify(pack)}`);
      wallByWorkers[n] = pack.wallMs;
      if (n === 1) await stopAll(procs);
    }

    // Fairness and replies, on the 3 processes: idle figures first, then the same under another workspace's backlog.
    const smallAlone: number[] = [];
    let replySession = "";
    let replyWs: BenchWorkspace | null = null;
    for (let round = 0; round < ROUNDS; round++) {
      const ws = await seedBenchWorkspace(env, SMALL_PACK);
      const { packId, startedAt } = await requestPack(api, ws);
      smallAlone.push((await waitForPack(env.db, packId, startedAt)).wallMs);
      replyWs = ws;
      replySession = (await env.db.insightContextPack.findUniqueOrThrow({ where: { id: packId } })).sessionId;
    }
    const replyIdle: number[] = [];
    for (let round = 0; round < ROUNDS; round++) replyIdle.push(await timedReply(api, env.db, replyWs!, replySession));

    const big = await seedBenchWorkspace(env, BACKLOG.leads);
    const backlog = await Promise.all(Array.from({ length: BACKLOG.packs }, () => requestPack(api, big)));
    // In flight: the backlog's chunks are queued and running before the small workspace asks.
    for (;;) {
      const extracted = await env.db.insightContextPackLead.count({
        where: { packId: { in: backlog.map((b) => b.packId) }, status: "EXTRACTED" },
      });
      if (extracted >= 100) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const smallLoaded: number[] = [];
    const replyLoaded: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const ws = await seedBenchWorkspace(env, SMALL_PACK);
      const { packId, startedAt } = await requestPack(api, ws);
      smallLoaded.push((await waitForPack(env.db, packId, startedAt)).wallMs);
      replyLoaded.push(await timedReply(api, env.db, replyWs!, replySession));
    }
    const backlogLeft = await env.db.insightContextPackLead.count({
      where: { packId: { in: backlog.map((b) => b.packId) }, status: "PENDING" },
    });

    const speedUp = wallByWorkers[1]! / wallByWorkers[3]!;
    return [
      {
        id: "scale-out",
        title: "One 2,000-lead pack, 3 worker processes vs 1: speed-up (100 ms LLM)",
        measured: speedUp,
        unit: "×",
        target: { op: ">=", value: 2.5 },
        detail: {
          knobs: Object.fromEntries(KNOBS.map((k) => [k, process.env[k] ?? "default"])),
          leads: BIG_PACK,
          latencyMs: LATENCY_MS,
          wallMsOneWorker: wallByWorkers[1],
          wallMsThreeWorkers: wallByWorkers[3],
        },
      },
      {
        id: "fairness",
        title: "20-lead pack under another workspace's 4×1,000-lead backlog / alone (3 workers)",
        measured: median(smallLoaded) / median(smallAlone),
        unit: "×",
        target: { op: "<=", value: 1.5 },
        detail: { smallAlone, smallLoaded, backlogLeadsStillPendingAfter: backlogLeft },
      },
      {
        id: "replies-under-load",
        title: "Question-to-reply time under that backlog / idle",
        measured: median(replyLoaded) / median(replyIdle),
        unit: "×",
        target: { op: "<=", value: 1.5 },
        detail: { replyIdle, replyLoaded },
      },
    ];
  } finally {
    await stopAll(procs);
    await api.close();
    await fake.close();
  }
}
