// What an operator runs as shipped: docker-compose.yml and the Dockerfile. No container runtime works on these
// machines, so this checks them statically, against the code they must serve: every variable a service's config
// schema reads is passed to that service, every command is a package.json script, every long-running service has a
// healthcheck that really probes (scripts/healthcheck.js is run here against a live and a failing /readyz), and the
// image installs every package the production code imports.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { builtinModules } from "node:module";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { apiEnvSchema } from "@insights/api/config";
import { workerEnvSchema } from "@insights/worker/config";

const ROOT = path.resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, unknown> | string[];
  ports?: string[];
  volumes?: string[];
  container_name?: string;
  restart?: string;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
}

// `merge: true`: Compose resolves `<<: *anchor` merge keys, and so must the parse, or shared settings look absent.
const compose = parse(read("docker-compose.yml"), { merge: true }) as {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string>; workspaces: string[] };

/** The variable names a service's environment lists (with or without a value). */
function envNames(service: Service): string[] {
  const env = service.environment ?? {};
  return Array.isArray(env) ? env.map((entry) => entry.split("=")[0]!) : Object.keys(env);
}

/** Variables the service reads: the keys of its zod config schema. */
const READS = {
  api: Object.keys(apiEnvSchema.shape),
  worker: Object.keys(workerEnvSchema.shape),
} as const;

describe("docker-compose.yml", () => {
  it("passes every variable the API's and the worker's config schemas read, and nothing they do not", () => {
    for (const [name, reads] of Object.entries(READS)) {
      const listed = envNames(services[name]!);
      expect(
        reads.filter((v) => !listed.includes(v)),
        `${name}: variables its config reads but compose does not pass`,
      ).toEqual([]);
      expect(
        listed.filter((v) => !reads.includes(v)),
        `${name}: variables compose passes but its config never reads`,
      ).toEqual([]);
    }
    // The schemas are real (a broken import would make both lists empty and the checks above vacuous).
    expect(READS.api).toEqual(expect.arrayContaining(["DATABASE_URL", "AUTH_JWT_SECRET", "OPS_ADMINS", "METRICS_TOKEN", "LOG_LEVEL"]));
    expect(READS.worker).toEqual(expect.arrayContaining(["DATABASE_URL", "METRICS_PORT", "LLM_MAX_RETRIES"]));
  });

  it("documents every variable the services read in the README, and names only those in .env.example", () => {
    // A table row's first cell names one variable or several (`A` / `B`).
    const firstCells = [...read("README.md").matchAll(/^\| ([^|]+) \|/gm)].map((m) => m[1]!);
    const documented = new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])));
    const reads = new Set([...READS.api, ...READS.worker]);
    expect([...reads].filter((v) => !documented.has(v))).toEqual([]);
    const example = [...read(".env.example").matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    expect(example.length).toBeGreaterThan(4);
    expect(example.filter((v) => !reads.has(v))).toEqual([]);
  });

  it("gives the migrations the database they migrate", () => {
    expect(envNames(services.migrate!)).toContain("DATABASE_URL");
    expect((services.migrate!.environment as Record<string, string>).DATABASE_URL).toBe(
      (services.api!.environment as Record<string, string>).DATABASE_URL,
    );
  });

  it("runs only commands that package.json defines, all from the one image", () => {
    const app = Object.entries(services).filter(([, s]) => s.build !== undefined);
    expect(app.map(([name]) => name).sort()).toEqual(["api", "migrate", "worker"]);
    for (const [name, service] of app) {
      const [npm, run, script] = service.command ?? [];
      expect([npm, run], `${name}: command`).toEqual(["npm", "run"]);
      expect(pkg.scripts[script!], `${name}: npm script "${script}"`).toBeDefined();
      expect(service.image, `${name}: image`).toBe(services.api!.image);
    }
  });

  it("has a healthcheck for every long-running service, and the app's probe the port its process listens on", () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === "migrate") {
        expect(service.restart).toBe("no");
        continue;
      }
      expect(service.healthcheck?.test?.length, `${name}: healthcheck`).toBeGreaterThan(1);
      expect(service.healthcheck?.disable, name).not.toBe(true);
    }
    for (const name of ["api", "worker"]) {
      const test = services[name]!.healthcheck!.test!;
      expect(test.slice(0, 4)).toEqual(["CMD", "node", "scripts/healthcheck.js", name]);
      expect(existsSync(path.join(ROOT, test[2]!))).toBe(true);
    }
    const api = services.api!.environment as Record<string, unknown>;
    expect(services.api!.ports!.map((p) => p.split(":").at(-1))).toEqual([String(api.PORT)]);
    expect((services.worker!.environment as Record<string, unknown>).METRICS_PORT).toBeGreaterThan(0);
  });

  it("keeps Redis's data on a volume with the append-only file on", () => {
    const redis = services.redis!;
    expect(redis.command?.join(" ")).toMatch(/--appendonly yes/);
    const volume = redis.volumes?.find((v) => v.endsWith(":/data"))?.split(":")[0];
    expect(volume && Object.keys(compose.volumes ?? {})).toContain(volume);
  });

  it("lets the worker scale: no fixed host port, no fixed container name", () => {
    expect(services.worker!.ports).toBeUndefined();
    expect(services.worker!.container_name).toBeUndefined();
    expect(services.worker!.depends_on?.migrate?.condition).toBe("service_completed_successfully");
    expect(services.api!.depends_on?.migrate?.condition).toBe("service_completed_successfully");
  });

  it("says it needs Compose v2, whose syntax (top-level name) it uses", () => {
    expect(compose.name).toBe("insights");
    expect(read("README.md")).toMatch(/Compose v2/);
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  it("builds on a supported Node LTS line", () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1] ?? "";
    expect(base).toMatch(/^node:(22|24)[.-]/);
    for (const stage of stages) expect(stage.split("\n")[0]).toMatch(/^\$\{NODE_IMAGE\}/);
  });

  it("installs production dependencies only in the image it ships, and runs as a non-root user", () => {
    expect(stages.length).toBeGreaterThan(1);
    expect(final).toMatch(/npm ci --omit=dev/);
    expect(final).not.toMatch(/npm (ci|install)(?![^\n]*--omit=dev)/);
    const user = [...final.matchAll(/^USER (\S+)$/gm)].at(-1)?.[1];
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)$/);
  });

  it("copies every workspace's package.json into both stages (npm ci refuses a lock whose workspaces are missing)", () => {
    for (const workspace of pkg.workspaces) {
      for (const stage of stages) expect(stage).toContain(`COPY ${workspace}/package.json ${workspace}/`);
    }
  });

  it("keeps in the build context every file the image copies and runs", () => {
    // .dockerignore as Docker reads it: later lines win, `!` re-includes. Enough for the plain patterns used there.
    const rules = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    const ignored = (file: string) =>
      rules.reduce((out, rule) => {
        const negate = rule.startsWith("!");
        const pattern = (negate ? rule.slice(1) : rule).replace(/^\*\*\//, "");
        const re = new RegExp(`^(.*/)?${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/.*)?$`);
        return re.test(file) ? !negate : out;
      }, false);
    const needed = [
      "package.json",
      "package-lock.json",
      ...pkg.workspaces.map((w) => `${w}/package.json`),
      "scripts/healthcheck.js",
      "api/src/main.ts",
      "worker/src/main.ts",
      "prisma/tools/migrate-deploy.ts",
      "prisma/schema.prisma",
      "prisma.config.ts",
    ];
    expect(needed.filter(ignored)).toEqual([]);
    expect(["node_modules", ".env", "tests/deploy.test.ts"].filter((f) => !ignored(f))).toEqual([]);
  });

  it("has a HEALTHCHECK and a default command that exist", () => {
    const health = /^HEALTHCHECK .*CMD \["node", "([^"]+)"/m.exec(final);
    expect(health).not.toBeNull();
    expect(existsSync(path.join(ROOT, health![1]!))).toBe(true);
    const cmd = /^CMD \["npm", "run", "([^"]+)"\]$/m.exec(final);
    expect(pkg.scripts[cmd![1]!]).toBeDefined();
  });
});

describe("production dependencies", () => {
  const manifests = ["package.json", ...pkg.workspaces.map((w) => `${w}/package.json`)].map(
    (file) => JSON.parse(read(file)) as { name: string; dependencies?: Record<string, string> },
  );
  const production = new Set(manifests.flatMap((m) => Object.keys(m.dependencies ?? {})));
  const workspaces = new Set(manifests.map((m) => m.name));

  const files = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir)).flatMap((entry) => {
      const rel = path.join(dir, entry);
      if (entry === "generated" || entry === "node_modules") return [];
      return statSync(path.join(ROOT, rel)).isDirectory() ? files(rel) : rel.endsWith(".ts") ? [rel] : [];
    });

  it("declares every package the API, worker and migrations import at run time (npm ci --omit=dev installs it)", () => {
    const sources = ["api/src", "worker/src", "shared/src", "prisma/tools"].flatMap(files);
    expect(sources.length).toBeGreaterThan(40);
    const missing = new Set<string>();
    for (const file of sources) {
      // Type-only imports vanish at run time; every other static or dynamic import must resolve in production.
      const text = read(file).replace(/^import type [^;]+;$/gm, "");
      // Static imports and re-exports (`import … from "x"`, `import "x"`, `export … from "x"`) and `import("x")`.
      const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"\n]+)"/gm),
        ...text.matchAll(/^\s*import\s+"([^"\n]+)"/gm),
        ...text.matchAll(/\bimport\(\s*"([^"\n]+)"\s*\)/g),
      ]
        .map((m) => m[1]!)
        .filter((spec) => !spec.startsWith("."));
      for (const spec of specifiers) {
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
        if (name.startsWith("node:") || builtinModules.includes(name) || workspaces.has(name)) continue;
        if (!production.has(name)) missing.add(`${name} (${file})`);
      }
    }
    expect([...missing]).toEqual([]);
    // What the scripts the image runs need: tsx for the TypeScript, the wasm schema engine for the migrations.
    for (const name of ["tsx", "@prisma/schema-engine-wasm", "@prisma/driver-adapter-utils"]) expect(production).toContain(name);
  });
});

describe("scripts/healthcheck.js", () => {
  let status = 200;
  let server: Server;
  const listening = new Promise<number>((resolve) => {
    server = createServer((req, res) => {
      res.writeHead(req.url === "/readyz" ? status : 404).end();
    }).listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const probe = (role: string, env: Record<string, string>) =>
    new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, "scripts/healthcheck.js"), role], {
        env: { PATH: process.env.PATH ?? "", ...env },
      });
      child.on("error", reject);
      child.on("close", resolve);
    });

  it("exits 0 while /readyz answers 200 and 1 when it answers 503 or nothing listens, on the role's own port", async () => {
    const port = String(await listening);
    expect(await probe("api", { PORT: port })).toBe(0);
    expect(await probe("worker", { METRICS_PORT: port })).toBe(0);
    expect(await probe("worker", { PORT: port, METRICS_PORT: "1" })).toBe(1);
    status = 503;
    expect(await probe("api", { PORT: port })).toBe(1);
  });
});
