// The live-events figures of issue 11, each against a baseline measured in the same run:
// - delivery latency from a worker's commit to an SSE client, p50 and p99, next to a bare Redis XADD→XREAD round
//   trip (target: p99 at most 3× the round trip's p99);
// - the time from the model's first token to the first answer piece at an SSE client (target: at most 30 ms);
// - 1,000 concurrent streams on one API process: errors (target 0), memory per stream (target at most 64 KB).
import { request, Agent } from "node:http";
import { readServerSentEvents } from "@insights/api/cli/sse-reader";
import { publishPackUpdated } from "@insights/shared/live/publish";
import { createSessionEventLog } from "@insights/shared/live/session-events";
import { createRedis } from "@insights/shared/redis";
import { startFakeLlm } from "../../tests/support/fake-llm.ts";
import { BENCH_JWT_SECRET, seedBenchWorkspace, startApi, type BenchApi, type BenchEnv } from "../support/bench-env.ts";
import { fakeLlmProvider } from "../support/fake-llm-provider.ts";
import { startServerProcess } from "../support/load.ts";
import { callApi, computePack, median, newSession } from "../support/packs.ts";
import type { Figure } from "../support/report.ts";
import { startBenchWorker } from "../support/worker.ts";

const DELIVERIES = 300;
const WARM_UP = 30;
const QUESTIONS = 20;
const STREAMS = 1000;

// biome-ignore lint/suspicious/noExplicitAny: each figure reads the fields of the events it counts
type Arrival = { at: number; event: string; data: any };

/** Follows a session's events, stamping each with its arrival time; resolves once the stream is open. */
async function follow(api: BenchApi, path: string, token: string, onEvent: (e: Arrival) => void) {
  const abort = new AbortController();
  const res = await fetch(`${api.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`events: ${res.status}`);
  const body = res.body;
  void (async () => {
    try {
      for await (const e of readServerSentEvents(body)) onEvent({ at: performance.now(), event: e.event, data: JSON.parse(e.data) });
    } catch {
      // closed
    }
  })();
  return { close: () => abort.abort() };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};
const round2 = (n: number) => Math.round(n * 100) / 100;

/** Waits (without polling) until `check` holds for an arrival. */
function arrivalOf(
  arrivals: Arrival[],
  waiters: Array<() => void>,
  check: (e: Arrival) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<Arrival> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} in ${timeoutMs} ms (${arrivals.length} events arrived)`)), timeoutMs);
    const look = () => {
      const found = arrivals.find(check);
      if (!found) return false;
      clearTimeout(timer);
      resolve(found);
      return true;
    };
    const wait = () => {
      if (!look()) waiters.push(wait);
    };
    wait();
  });
}

async function deliveryLatency(env: BenchEnv): Promise<Figure> {
  const api = await startApi(env);
  const ws = await seedBenchWorkspace(env, 0);
  const sessionId = await newSession(api, ws);
  const requested = await callApi(api, "POST", `${ws.base}/insights/sessions/${sessionId}/packs`, ws.tokens.member, {
    window: { preset: "LAST_7_DAYS" },
  });
  const packId = requested.body.id as string;
  const arrivals: Arrival[] = [];
  const waiters: Array<() => void> = [];
  const stream = await follow(api, `${ws.base}/insights/sessions/${sessionId}/events`, ws.tokens.member, (e) => {
    arrivals.push(e);
    for (const w of waiters.splice(0)) w();
  });
  // The worker's side: a commit of the pack's progress, then its publish of the row that write returned, as the
  // worker's progress writer does (no worker runs here, so nothing else writes the row).
  const redis = createRedis(env.redisUrl, { role: "bench-live-publisher" });
  const log = createSessionEventLog(redis, env.prefix);
  const delivery: number[] = [];
  try {
    // The first WARM_UP deliveries are untimed: the first calls of each path (the script's load into Redis, the view's
    // code, the SSE write) are a process's one-time cost, not its delivery latency.
    for (let i = 1; i <= WARM_UP + DELIVERIES; i++) {
      const row = await env.db.insightContextPack.update({ where: { id: packId }, data: { processedLeads: i } });
      const committedAt = performance.now();
      const arrived = arrivalOf(
        arrivals,
        waiters,
        (e) => e.event === "pack.updated" && e.data.progress.processedLeads === i,
        `progress ${i}`,
      );
      await publishPackUpdated(env.db, log, row);
      const at = (await arrived).at;
      if (i > WARM_UP) delivery.push(at - committedAt);
    }
  } finally {
    stream.close();
    await api.close();
  }

  // The baseline: a bare XADD on one connection, read by a blocked XREAD on another.
  const reader = createRedis(env.redisUrl, { role: "bench-live-reader" });
  const key = `${env.prefix}:bench-xread`;
  const roundTrip: number[] = [];
  try {
    let last = "0-0";
    for (let i = 0; i < WARM_UP + DELIVERIES; i++) {
      const read = reader.xread("BLOCK", 5000, "STREAMS", key, last) as Promise<Array<[string, Array<[string, string[]]>]> | null>;
      // Let the XREAD reach Redis and block before the XADD is sent.
      await new Promise((r) => setTimeout(r, 1));
      const sentAt = performance.now();
      await redis.xadd(key, "*", "i", String(i));
      const reply = await read;
      if (i >= WARM_UP) roundTrip.push(performance.now() - sentAt);
      last = reply?.[0]?.[1].at(-1)?.[0] ?? last;
    }
  } finally {
    await redis.del(key);
    await Promise.all([reader.quit(), redis.quit()]);
  }
  const p99 = quantile(delivery, 0.99);
  const baselineP99 = quantile(roundTrip, 0.99);
  return {
    id: "live-delivery",
    title: "commit → SSE client p99 / bare XADD→XREAD p99",
    measured: p99 / baselineP99,
    unit: "×",
    target: { op: "<=", value: 3 },
    detail: {
      deliveries: DELIVERIES,
      deliveryMs: { p50: round2(quantile(delivery, 0.5)), p99: round2(p99), max: round2(Math.max(...delivery)) },
      xaddXreadMs: { p50: round2(quantile(roundTrip, 0.5)), p99: round2(baselineP99) },
      note: "delivery includes building the pack's view from the row the write returned (as the worker publishes it)",
    },
  };
}

async function firstPieceOverhead(env: BenchEnv): Promise<Figure> {
  const fake = await startFakeLlm();
  const prefix = `${env.prefix}-ttfp`;
  const worker = await startBenchWorker(env, fakeLlmProvider(fake), {}, prefix);
  const api = await startApi(env, prefix);
  const ws = await seedBenchWorkspace(env, 20);
  const pack = await computePack(api, env.db, ws);
  const session = await env.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.packId }, select: { sessionId: true } });
  const arrivals: Arrival[] = [];
  const waiters: Array<() => void> = [];
  const stream = await follow(api, `${ws.base}/insights/sessions/${session.sessionId}/events`, ws.tokens.member, (e) => {
    arrivals.push(e);
    for (const w of waiters.splice(0)) w();
  });
  fake.latencyMs = 50; // the model "thinks" before its first token
  fake.streamChunkChars = 16;
  const overhead: number[] = [];
  const total: number[] = [];
  // The fake model stamps Date.now(); the client, performance.now(): both are read on this process's one clock.
  const toPerf = (epochMs: number) => epochMs - Date.now() + performance.now();
  try {
    for (let i = 0; i < QUESTIONS; i++) {
      const askedAt = performance.now();
      const asked = await callApi(api, "POST", `${ws.base}/insights/sessions/${session.sessionId}/messages`, ws.tokens.member, {
        content: `Question ${i}: who replied?`,
      });
      const replyId = asked.body.reply.id as string;
      const first = await arrivalOf(arrivals, waiters, (e) => e.event === "message.delta" && e.data.messageId === replyId, "first piece");
      await arrivalOf(arrivals, waiters, (e) => e.event === "message.updated" && e.data.id === replyId, "answer");
      overhead.push(first.at - toPerf(fake.firstChunkAt[i]!));
      total.push(first.at - askedAt);
    }
  } finally {
    stream.close();
    await api.close();
    await worker.close();
    await fake.close();
  }
  return {
    id: "live-first-piece",
    title: "model's first token → first answer piece at the SSE client (median)",
    measured: median(overhead),
    unit: " ms",
    target: { op: "<=", value: 30 },
    detail: {
      questions: QUESTIONS,
      overheadMs: { p50: round2(median(overhead)), p99: round2(quantile(overhead, 0.99)) },
      questionToFirstPieceMs: { p50: round2(median(total)), p99: round2(quantile(total, 0.99)) },
      modelLatencyBeforeFirstTokenMs: fake.latencyMs,
    },
  };
}

/** Opens `count` streams on a session; resolves once each has its snapshot (or failed). */
async function openStreams(url: string, token: string, count: number) {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const state = { errors: 0, updated: 0, onUpdated: () => undefined as void };
  const requests: Array<ReturnType<typeof request>> = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
            if (res.statusCode !== 200) state.errors++;
            let seenSnapshot = false;
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              if (!seenSnapshot && chunk.includes("event: session.snapshot")) {
                seenSnapshot = true;
                resolve();
              }
              if (chunk.includes("event: session.updated")) {
                state.updated++;
                state.onUpdated();
              }
            });
            res.on("error", () => undefined);
            res.on("close", () => (seenSnapshot ? undefined : resolve()));
          });
          req.on("error", () => {
            state.errors++;
            resolve();
          });
          req.end();
          requests.push(req);
        }),
    ),
  );
  return {
    state,
    /** Resolves true once every open stream has seen a session.updated (false after 30 s). */
    allUpdated: () =>
      Promise.race([
        new Promise<boolean>((resolve) => (state.onUpdated = () => (state.updated >= count - state.errors ? resolve(true) : undefined))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000)),
      ]),
    close: () => {
      for (const req of requests) req.destroy();
      agent.destroy();
    },
  };
}

async function concurrentStreams(env: BenchEnv): Promise<Figure[]> {
  const api = await startServerProcess("api-server", {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    QUEUE_PREFIX: env.prefix,
    AUTH_JWT_SECRET: BENCH_JWT_SECRET,
    LIVE_MAX_STREAMS_PER_USER: String(STREAMS),
    NODE_OPTIONS: "--expose-gc",
  });
  const ws = await seedBenchWorkspace(env, 0);
  const base = `http://127.0.0.1:${api.port}`;
  const send = (method: string, path: string, body: object) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${ws.tokens.member}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const sessionId = ((await (await send("POST", `${ws.base}/insights/sessions`, {})).json()) as { id: string }).id;
  const url = `${base}${ws.base}/insights/sessions/${sessionId}/events`;
  const rounds: Array<{ errors: number; updated: number; delivered: boolean; rssGrowthKB: number; heapUsedGrowthKB: number }> = [];
  try {
    // Twice: the first round also pays the process's one-time growth (code, heap reservations, allocator arenas);
    // the second, on a warm process, is what each further stream costs.
    for (let round = 0; round < 2; round++) {
      const before = await api.memory();
      const streams = await openStreams(url, ws.tokens.member, STREAMS);
      const after = await api.memory();
      const updated = streams.allUpdated();
      await send("PATCH", `${ws.base}/insights/sessions/${sessionId}`, { title: `Seen by a thousand streams (${round})` });
      const delivered = await updated;
      streams.close();
      rounds.push({
        errors: streams.state.errors + (STREAMS - streams.state.errors - streams.state.updated),
        updated: streams.state.updated,
        delivered,
        rssGrowthKB: round2((after.rss - before.rss) / STREAMS / 1024),
        heapUsedGrowthKB: round2((after.heapUsed - before.heapUsed) / STREAMS / 1024),
      });
      // Let the server see every close before the next round's baseline.
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    await api.close();
  }
  const warm = rounds[1]!;
  return [
    {
      id: "live-streams-errors",
      title: `${STREAMS} concurrent streams on one API process, twice: errors`,
      measured: rounds[0]!.errors + warm.errors,
      unit: "",
      target: { op: "==", value: 0 },
      detail: { streams: STREAMS, rounds },
    },
    {
      id: "live-streams-memory",
      title: "memory per open stream on a warm process (RSS growth / streams)",
      measured: warm.rssGrowthKB,
      unit: " KB",
      target: { op: "<=", value: 64 },
      detail: {
        firstRoundRssPerStreamKB: rounds[0]!.rssGrowthKB,
        heapUsedPerStreamKB: warm.heapUsedGrowthKB,
        note: "memory read after a full GC in the API process; the first round includes one-time growth",
      },
    },
  ];
}

export async function live(env: BenchEnv): Promise<Figure[]> {
  return [await deliveryLatency(env), await firstPieceOverhead(env), ...(await concurrentStreams(env))];
}
