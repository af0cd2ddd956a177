// `npm start -- --pretty`: the whole product on this machine with readable log lines. Runs the real start script
// (migrations, then the API and a worker as child processes) on a database and queue prefix of its own, and reads
// what a developer's terminal shows: every service line prefixed, and pino's JSON turned into one readable line.
import { spawn } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createIsolatedDatabase } from "./support/database.ts";
import { freePort, waitForOutput, type ServiceProcess } from "./support/processes.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const TSX_LOADER = pathToFileURL(path.join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;

let database: Awaited<ReturnType<typeof createIsolatedDatabase>>;
let proc: ServiceProcess;
let stdout = "";

beforeAll(async () => {
  database = await createIsolatedDatabase();
  // `npm start` is `tsx scripts/start-local.ts`; the loader form keeps it one process that our signal reaches.
  const child = spawn(process.execPath, ["--import", TSX_LOADER, path.join(ROOT, "scripts/start-local.ts"), "--pretty"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      DATABASE_URL: database.url,
      REDIS_URL: inject("redisUrl"),
      QUEUE_PREFIX: `${inject("queuePrefix")}-start`,
      PORT: String(await freePort()),
      METRICS_PORT: "0",
      AUTH_JWT_SECRET: "start-local-test-secret-0123456789abcdef",
      SHUTDOWN_TIMEOUT_MS: "3000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  let all = "";
  child.stdout.on("data", (d: Buffer) => (all += d.toString()));
  child.stderr.on("data", (d: Buffer) => (all += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  proc = {
    child,
    output: () => all,
    exited,
    kill: async (signal = "SIGTERM") => {
      child.kill(signal);
      return exited;
    },
  };
}, 60_000);

afterAll(async () => {
  await proc?.kill("SIGINT");
  await database?.drop();
}, 30_000);

describe("npm start -- --pretty", () => {
  it("prints each service's log lines readable, one per line, behind the process prefix", async () => {
    await waitForOutput(proc, /^api {4}\| .*API listening/m, 45_000);
    await waitForOutput(proc, /^worker \| .*worker started/m, 45_000);
    const lines = stdout.split("\n").filter((line) => /^(api|worker) +\| /.test(line));
    expect(lines.length).toBeGreaterThan(1);
    // Readable: time, level, message, then the fields; no JSON line left behind the prefix.
    expect(lines.find((l) => l.includes("API listening"))).toMatch(
      /^api {4}\| \[\d\d:\d\d:\d\d\.\d{3}\] INFO: API listening on \S+ \{.*"port":\d+/,
    );
    expect(lines.find((l) => l.includes("worker started"))).toMatch(/^worker \| \[\d\d:\d\d:\d\d\.\d{3}\] INFO: worker started/);
    expect(lines.filter((l) => /^\w+ +\| \{/.test(l))).toEqual([]);
  });

  it("stops both services on Ctrl-C", async () => {
    expect(await proc.kill("SIGINT")).toBe(0);
  }, 30_000);
});
