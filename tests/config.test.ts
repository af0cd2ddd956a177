// Configuration: the API validates its environment once at start; a bad or missing value stops it with exit code 1
// and one clear line on stderr naming every failing variable, never a stack trace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const tsx = join(repoRoot, "node_modules", ".bin", "tsx");
const apiMain = join(repoRoot, "api", "src", "main.ts");

/** A valid environment; each test breaks one part of it. Nothing here is ever started for real. */
const VALID = {
  DATABASE_URL: "postgresql://insights@127.0.0.1:5432/insights",
  REDIS_URL: "redis://127.0.0.1:6379",
  AUTH_JWT_SECRET: "a-secret-that-is-long-enough-0123456789abcdef",
  PORT: "3999",
};

/**
 * The working directory is an empty temporary one: the config loader reads `.env` from the working directory, so
 * running from the repo root could pick up a developer's `.env` and mask a missing variable.
 */
let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "insights-config-"));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the API with exactly `env` (plus PATH/HOME to find node), from `dir`. */
function runApi(env: Record<string, string | undefined>, dir = cwd): Promise<Exit> {
  const clean: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) clean[key] = value;
  return new Promise((resolve, reject) => {
    // A process that passed validation would start serving; the timeout stops it so the test fails, not hangs.
    const child = spawn(tsx, [apiMain], { cwd: dir, env: clean, stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function expectOneLineFailure(exit: Exit): string {
  expect(exit.signal, `the process did not stop by itself; stderr: ${exit.stderr}`).toBeNull();
  expect(exit.code).toBe(1);
  const lines = exit.stderr.split("\n").filter((line) => line.trim() !== "");
  expect(lines, exit.stderr).toHaveLength(1);
  expect(exit.stderr).not.toMatch(/^\s+at\s/m);
  expect(exit.stderr).not.toMatch(/Error:|\.ts:\d+/);
  expect(exit.stdout).toBe("");
  return lines[0]!;
}

describe("API configuration", () => {
  it("stops with exit code 1 and one line naming DATABASE_URL when it is missing", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, DATABASE_URL: undefined }));
    expect(line).toMatch(/DATABASE_URL/);
    expect(line).not.toMatch(/AUTH_JWT_SECRET|REDIS_URL|PORT/);
  });

  it("stops with exit code 1 and one line naming AUTH_JWT_SECRET when it is too short", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, AUTH_JWT_SECRET: "short" }));
    expect(line).toMatch(/AUTH_JWT_SECRET/);
    expect(line).not.toMatch(/DATABASE_URL|REDIS_URL/);
  });

  it("names every failing variable in its one line when several are bad", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, DATABASE_URL: undefined, AUTH_JWT_SECRET: "short" }));
    expect(line).toMatch(/DATABASE_URL/);
    expect(line).toMatch(/AUTH_JWT_SECRET/);
  });

  it("refuses a DATABASE_URL that is not a postgresql:// URL", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, DATABASE_URL: "mysql://root@127.0.0.1/insights" }));
    expect(line).toMatch(/DATABASE_URL/);
  });

  it("refuses a PORT that is not a port number", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, PORT: "99999" }));
    expect(line).toMatch(/PORT/);
  });

  it("never prints the secret it refused", async () => {
    const secret = "tiny-secret";
    const line = expectOneLineFailure(await runApi({ ...VALID, AUTH_JWT_SECRET: secret }));
    expect(line).not.toContain(secret);
  });

  it("stops when LLM_MODEL is not one of LLM_ALLOWED_MODELS, naming both", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, LLM_MODEL: "gpt-big", LLM_ALLOWED_MODELS: "gpt-small, gpt-medium" }));
    expect(line).toMatch(/LLM_MODEL must be one of LLM_ALLOWED_MODELS \(gpt-small, gpt-medium\)/);
  });

  it("refuses a model name that no model can have in LLM_ALLOWED_MODELS", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, LLM_MODEL: "gpt-small", LLM_ALLOWED_MODELS: "gpt-small,gpt small" }));
    expect(line).toMatch(/LLM_ALLOWED_MODELS/);
  });

  it("refuses a WEBHOOK_SECRET_KEY that is not 32 bytes of base64, without printing it", async () => {
    const line = expectOneLineFailure(await runApi({ ...VALID, WEBHOOK_SECRET_KEY: "c2hvcnQta2V5" }));
    expect(line).toMatch(/WEBHOOK_SECRET_KEY must be 32 bytes/);
    expect(line).not.toContain("c2hvcnQta2V5");
  });

  it("takes a missing variable from a .env file in the working directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "insights-config-dotenv-"));
    try {
      await writeFile(join(dir, ".env"), `DATABASE_URL=${VALID.DATABASE_URL}\n`);
      const line = expectOneLineFailure(await runApi({ ...VALID, DATABASE_URL: undefined, AUTH_JWT_SECRET: "short" }, dir));
      expect(line).toMatch(/AUTH_JWT_SECRET/);
      expect(line).not.toMatch(/DATABASE_URL/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
