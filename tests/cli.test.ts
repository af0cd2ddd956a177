// The CLI as the README tells people to run it: through npm. `npm run` prints its `> cli` banner on stdout before
// the CLI starts, so the documented way to get machine-readable output is `npm run -s`; without -s the CLI says so
// on stderr.
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { verifyToken } from "@insights/api/auth/jwt";

const ROOT = path.resolve(import.meta.dirname, "..");
const SECRET = "cli-test-secret-that-is-long-enough-0123456789";

function npm(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATABASE_URL: inject("databaseUrl"), AUTH_JWT_SECRET: SECRET },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm run -s cli -- seed --json", () => {
  it("prints only JSON on stdout: a workspace and a working token for each user", async () => {
    const run = await npm(["run", "-s", "cli", "--", "seed", "--leads", "3", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const seeded = JSON.parse(run.stdout) as { workspaceId: string; users: Record<string, { id: string; token: string }> };
    expect(seeded.workspaceId).toEqual(expect.any(String));
    expect(Object.keys(seeded.users).sort()).toEqual(["admin", "member", "outsider", "owner"]);
    expect(await verifyToken(SECRET, seeded.users.owner!.token)).toBe(seeded.users.owner!.id);
    expect(run.stderr).toBe("");
  }, 60_000);

  it("without -s, says on stderr that npm's banner is on stdout and how to avoid it", async () => {
    const run = await npm(["run", "cli", "--", "seed", "--leads", "0", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    // The trap itself, so this test notices if npm ever stops printing its banner there.
    expect(run.stdout).toMatch(/^\s*> cli\n/);
    expect(run.stderr).toContain("npm run -s cli -- seed --json");
  }, 60_000);
});
