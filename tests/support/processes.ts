// Real processes for the reliability tests: the API and worker as `npm run start:*` would run them, and private
// Redis and PostgreSQL servers on ports of their own, which a test may stop and start. The shared servers are never
// touched.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = path.resolve(import.meta.dirname, "../..");
// The tsx loader inside this one node process (the tsx CLI would add a wrapper process that a signal to it does not
// reliably reach through: SIGKILL on the wrapper orphans the real service).
const TSX_LOADER = pathToFileURL(path.join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything it printed, for assertions and for debugging a failure. */
  output: () => string;
  exited: Promise<number | null>;
  kill: (signal?: NodeJS.Signals) => Promise<number | null>;
}

function supervise(child: ChildProcess): ServiceProcess {
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return {
    child,
    output: () => output,
    exited,
    kill: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The API or the worker, as `npm run start:*` runs it, with exactly this environment (no .env: cwd is empty). */
export function startService(which: "api" | "worker", env: Record<string, string>): ServiceProcess {
  const cwd = mkdtempSync(path.join(tmpdir(), `insights-${which}-`));
  const child = spawn(process.execPath, ["--import", TSX_LOADER, path.join(ROOT, which, "src/main.ts")], {
    cwd,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      LOG_LEVEL: "info",
      // Several workers share this host in a test: no metrics port to fight over, and a short stop.
      ...(which === "worker" ? { METRICS_PORT: "0", SHUTDOWN_TIMEOUT_MS: "3000" } : {}),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return supervise(child);
}

export async function waitForOutput(proc: ServiceProcess, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.output())) {
    if (proc.child.exitCode !== null) throw new Error(`process exited before printing ${pattern}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A private redis-server (nothing kept on disk) that a test may stop and start again on the same port. */
export class PrivateRedis {
  private proc: ServiceProcess | null = null;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = supervise(child);
    await waitForOutput(this.proc, /Ready to accept connections/);
  }

  async stop(): Promise<void> {
    await this.proc?.kill("SIGKILL");
    this.proc = null;
  }
}

/** A private PostgreSQL cluster in a temp dir, run as the `postgres` user (initdb refuses root). */
export class PrivatePostgres {
  private readonly dir: string;
  private readonly bin: string;
  constructor(readonly port: number) {
    const version = readdirSync("/usr/lib/postgresql").sort().at(-1);
    this.bin = `/usr/lib/postgresql/${version}/bin`;
    this.dir = mkdtempSync(path.join(tmpdir(), "insights-pg-"));
    chmodSync(this.dir, 0o777);
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/insights`;
  }

  private run(...args: string[]): void {
    const asPostgres = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
    const [cmd, ...rest] = [...asPostgres, ...args];
    execFileSync(cmd!, rest, { stdio: "pipe" });
  }

  async init(): Promise<void> {
    this.run(`${this.bin}/initdb`, "-D", `${this.dir}/data`, "-U", "postgres", "--auth=trust", "-E", "UTF8");
  }

  async start(): Promise<void> {
    this.run(
      `${this.bin}/pg_ctl`,
      "-D",
      `${this.dir}/data`,
      "-l",
      `${this.dir}/log`,
      "-w",
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`,
      "start",
    );
  }

  async stop(): Promise<void> {
    this.run(`${this.bin}/pg_ctl`, "-D", `${this.dir}/data`, "-m", "immediate", "-w", "stop");
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
