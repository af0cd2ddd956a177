// `npm start`: the whole product on this machine in one terminal: migrations, then one API and one worker as child
// processes. They stay separate processes, as in production (docker-compose.yml), so nothing here hides a worker
// inside the web process; this script only supervises them.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { prettyFactory } from "pino-pretty";
import { loadLocalEnv } from "../shared/src/config.ts";
import { deployMigrations } from "../prisma/tools/schema-engine.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CHECK_TIMEOUT_MS = 3000;
const STOP_GRACE_MS = 15_000; // the API drains for up to 10 s; the worker hands running packs back to the queue
const say = (line: string) => process.stderr.write(`start: ${line}\n`);

// `npm start -- --pretty`: each JSON log line becomes one readable line, formatted here (before the `api    |`
// prefix is added, which would keep a pino-pretty further down the pipe from reading it). Off: the JSON as is.
const pretty = process.argv.includes("--pretty")
  ? prettyFactory({
      colorize: process.stdout.isTTY,
      singleLine: true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,service,name",
    })
  : null;
const readable = (line: string): string[] => (pretty && line.startsWith("{") ? pretty(line).trimEnd().split("\n") : [line]);

// Variables already set win over the file, so `PORT=3999 npm start` works.
const envFile = loadLocalEnv(root) ?? "the environment";
say(`using ${envFile}${envFile === ".env.example" ? " (copy it to .env to change settings)" : ""}`);
const databaseUrl = process.env.DATABASE_URL ?? "";
const redisUrl = process.env.REDIS_URL ?? "";
if (!databaseUrl || !redisUrl) {
  say(`set DATABASE_URL and REDIS_URL in ${envFile} or the environment (see .env.example)`);
  process.exit(1);
}

// Checked here, before anything starts, so a stopped server gives one line saying what to do instead of two
// processes logging reconnect errors.
async function checkPostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
  try {
    await client.connect();
    return null;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "3D000") return null; // the server answers; the database itself is created by the migrations
    if (code === "28P01" || code === "28000") {
      return `PostgreSQL refused the login at ${redact(databaseUrl)} — fix the user/password in DATABASE_URL`;
    }
    return `PostgreSQL is not answering at ${redact(databaseUrl)} — start it (see README) or set DATABASE_URL`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(): Promise<string | null> {
  // No retries and no offline queue: one attempt, answered or not within the timeout.
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: CHECK_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch {
    return `Redis is not answering at ${redact(redisUrl)} — start it (see README) or set REDIS_URL`;
  } finally {
    redis.disconnect();
  }
}

const redact = (url: string) => (URL.canParse(url) && new URL(url).password ? url.replace(/:[^:@/]*@/, ":***@") : url || "(unset)");

const problem = (await checkPostgres()) ?? (await checkRedis());
if (problem) {
  say(problem);
  process.exit(1);
}

try {
  const { applied } = await deployMigrations(databaseUrl);
  say(applied.length ? `applied migrations: ${applied.join(", ")}` : "database is up to date");
} catch (error) {
  say(`migrations failed: ${String((error as Error).message ?? error).split("\n")[0]}`);
  process.exit(1);
}

const children = new Map<string, ChildProcess>();
let stopping = false;
let failed = false;

function run(name: string, script: string): void {
  // `node --import tsx`, not the tsx CLI: one process per service, so a signal reaches the service itself.
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: root,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Line by line, so a prefix never lands in the middle of a log line.
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    createInterface({ input: stream }).on("line", (line) => {
      for (const text of readable(line)) out.write(`${name.padEnd(6)} | ${text}\n`);
    });
  }
  // "close", not "exit": it comes after the last output line has been forwarded.
  child.on("close", (code, signal) => {
    children.delete(name);
    if (!stopping) {
      // One half of the product is gone: take the other down too, rather than leave it looking healthy.
      failed = true;
      say(`${name} exited (${signal ?? `code ${code}`}); stopping the rest`);
      stop("SIGTERM");
    } else if (code !== 0 && signal === null) failed = true;
    if (children.size > 0) return;
    say(failed ? "stopped after a failure" : "stopped");
    process.exit(failed ? 1 : 0);
  });
  children.set(name, child);
}

function stop(signal: NodeJS.Signals): void {
  if (stopping) {
    // A second Ctrl-C means "now": do not wait for draining.
    for (const child of children.values()) child.kill("SIGKILL");
    return;
  }
  stopping = true;
  for (const child of children.values()) child.kill(signal);
  setTimeout(() => {
    say(`still running after ${STOP_GRACE_MS / 1000} s; killing`);
    for (const child of children.values()) child.kill("SIGKILL");
  }, STOP_GRACE_MS).unref();
}

process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
run("api", "api/src/main.ts");
run("worker", "worker/src/main.ts");
say(`API on http://localhost:${process.env.PORT ?? 3000}; try \`npm run cli -- demo\` in another terminal. Ctrl-C stops both.`);
