// The rule that api/ and worker/ never import each other is Biome's (biome.jsonc), run by `npm test` over the tree.
// This checks the rule itself: the same import is refused inside api/ or worker/ and allowed in tests/.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// A scratch tree with the project's Biome config: the probes never touch the real one.
const scratch = mkdtempSync(path.join(tmpdir(), "lint-boundaries-"));
copyFileSync(path.join(root, "biome.jsonc"), path.join(scratch, "biome.jsonc"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Lints `source` as the file at `file` (relative to the repository root) under the project's config. */
function lintAs(file: string, source: string): { ok: boolean; output: string } {
  const target = path.join(scratch, file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, source);
  const biome = path.join(root, "node_modules/.bin/biome");
  const run = spawnSync(biome, ["lint", "--vcs-enabled=false", file], { cwd: scratch, encoding: "utf8" });
  rmSync(target);
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

describe("the import boundary between api/ and worker/", () => {
  it("refuses a worker import in api/, by package name or by relative path", () => {
    const byName = lintAs(
      "api/src/probe.ts",
      'import { startWorkers } from "@insights/worker/runtime/start-workers";\nexport const x = startWorkers;\n',
    );
    expect(byName.ok).toBe(false);
    expect(byName.output).toContain("api/ must not import worker/");
    const byPath = lintAs(
      "api/src/ops/probe.ts",
      'import { startWorkers } from "../../../worker/src/runtime/start-workers.ts";\nexport const x = startWorkers;\n',
    );
    expect(byPath.ok).toBe(false);
    expect(byPath.output).toContain("api/ must not import worker/");
  });

  it("refuses an api import in worker/ and either import in shared/", () => {
    const inWorker = lintAs("worker/src/probe.ts", 'import { createApi } from "@insights/api/app";\nexport const x = createApi;\n');
    expect(inWorker.ok).toBe(false);
    expect(inWorker.output).toContain("worker/ must not import api/");
    const inShared = lintAs("shared/src/probe.ts", 'import { createApi } from "@insights/api/app";\nexport const x = createApi;\n');
    expect(inShared.ok).toBe(false);
    expect(inShared.output).toContain("shared/ is imported by api/ and worker/");
  });

  it("lets api/ and worker/ import shared/, and tests/ import both", () => {
    expect(lintAs("api/src/probe.ts", 'import { withTimeout } from "@insights/shared/timeout";\nexport const x = withTimeout;\n').ok).toBe(
      true,
    );
    expect(
      lintAs("worker/src/probe.ts", 'import { withTimeout } from "@insights/shared/timeout";\nexport const x = withTimeout;\n').ok,
    ).toBe(true);
    const inTests = lintAs(
      "tests/probe.ts",
      'import { createApi } from "@insights/api/app";\nimport { startWorkers } from "@insights/worker/runtime/start-workers";\nexport const x = [createApi, startWorkers];\n',
    );
    expect(inTests.ok, inTests.output).toBe(true);
  });
});
