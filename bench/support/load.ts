// A small closed-loop load generator: N keep-alive connections, each sending its next request as soon as the last
// answer has been read. The same generator measures the API and its hello-world baseline in the same run.
import { fork, type ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  unexpected: number;
  p50Ms: number;
  p99Ms: number;
}

export async function measureThroughput(options: {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  warmupMs: number;
  durationMs: number;
  expectStatus: number;
}): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const url = new URL(options.url);
  const latencies: number[] = [];
  let unexpected = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const end = measureFrom + options.durationMs;
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: "GET", agent, headers: options.headers },
        (res) => {
          res.on("data", () => undefined);
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end();
    });
  const connection = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const status = await once();
      const t1 = performance.now();
      if (t0 < measureFrom || t1 > end) continue;
      latencies.push(t1 - t0);
      if (status !== options.expectStatus) unexpected++;
    }
  };
  await Promise.all(Array.from({ length: options.connections }, connection));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requestsPerSecond: latencies.length / (options.durationMs / 1000),
    requests: latencies.length,
    unexpected,
    p50Ms: Math.round(at(0.5) * 100) / 100,
    p99Ms: Math.round(at(0.99) * 100) / 100,
  };
}

const serversDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../servers");

/** Starts bench/servers/<name>.ts in a child process; resolves once it listens. */
export async function startServerProcess(
  name: string,
  env: Record<string, string> = {},
): Promise<{ port: number; pid: number; memory(): Promise<NodeJS.MemoryUsage>; close(): Promise<void> }> {
  const child: ChildProcess = fork(path.join(serversDir, `${name}.ts`), [], {
    // BENCH_CPU_PROF=<dir> writes each server's CPU profile there when it exits (node --cpu-prof).
    execArgv: ["--import", "tsx", ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once("message", resolve as never);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return {
    port,
    pid: child.pid!,
    // Servers that answer a "memory" message (after a full GC when run with --expose-gc).
    memory: () =>
      new Promise((resolve) => {
        child.once("message", (m) => resolve((m as { memory: NodeJS.MemoryUsage }).memory));
        child.send("memory");
      }),
    close: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.disconnect();
      }),
  };
}
