// What the process tests share: API and worker processes against this run's database (the workers with a fake LLM),
// and packs requested and watched through the API, as a member would.
import { afterAll, afterEach, expect, inject } from "vitest";
import { bearer, createHarness, TEST_JWT_SECRET, type Harness, type TestWorkspace } from "./harness.ts";
import { startFakeLlm, type FakeLlm } from "./fake-llm.ts";
import { freePort, startService, waitForOutput, type ServiceProcess } from "./processes.ts";
import { SHARED_DATABASE_SAFE, waitFor } from "./worker-harness.ts";

export type Progress = {
  stage: string;
  processedLeads: number;
  percent: number;
  totalLeads: number;
  failedLeads: number;
  cachedLeads: number;
};

/**
 * The API as `npm run start:api` runs it, on a free port, against the run's PostgreSQL and Redis with the tests' JWT
 * secret under `prefix`; `env` adds to or overrides that. Resolves once it listens.
 */
export async function startApiProcess(
  prefix: string,
  env: Record<string, string> = {},
): Promise<{ proc: ServiceProcess; port: number; url: string }> {
  const port = await freePort();
  const proc = startService("api", {
    DATABASE_URL: inject("databaseUrl"),
    REDIS_URL: inject("redisUrl"),
    QUEUE_PREFIX: prefix,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    PORT: String(port),
    ...env,
  });
  await waitForOutput(proc, /API listening/);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

/**
 * A process test file's setup: the API harness, the fake model, and `startWorker` for worker processes, every one of
 * which is killed (SIGKILL) after each test, with the model's script reset. Call it at the top of the file.
 */
export async function useWorkerProcesses(): Promise<{
  h: Harness;
  fake: FakeLlm;
  startWorker(env?: Record<string, string>): Promise<ServiceProcess>;
}> {
  const h = createHarness();
  const fake = await startFakeLlm();
  const workers: ServiceProcess[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill("SIGKILL")));
    fake.reset();
  });
  afterAll(async () => {
    await fake.close();
    await h.close();
  });
  return {
    h,
    fake,
    async startWorker(env = {}) {
      const worker = await startWorkerProcess(h, fake, env);
      workers.push(worker);
      return worker;
    },
  };
}

/** A worker process as `npm run start:worker` runs it; `env` adds to (or overrides) the test defaults. */
async function startWorkerProcess(h: Harness, fake: FakeLlm, env: Record<string, string>): Promise<ServiceProcess> {
  const worker = startService("worker", {
    DATABASE_URL: inject("databaseUrl"),
    REDIS_URL: inject("redisUrl"),
    QUEUE_PREFIX: h.prefix,
    OPENAI_API_KEY: "test-key",
    OPENAI_BASE_URL: fake.baseURL,
    LLM_CONCURRENCY: "4",
    LLM_RETRY_BASE_MS: "10",
    PROGRESS_INTERVAL_MS: "50",
    RECONCILE_INTERVAL_MS: "500",
    // The run's database is shared with other test files: leave their unfinished rows alone (worker-harness.ts).
    RECONCILE_GRACE_MS: String(SHARED_DATABASE_SAFE.reconcileGraceMs),
    SESSION_RETENTION_DAYS: "3650",
    ...env,
  });
  await waitForOutput(worker, /worker started/);
  return worker;
}

/** A workspace whose lead names are unique, so the fake LLM's requests say whose lead they are. */
export async function seedNamed(h: Harness, leads: number): Promise<TestWorkspace> {
  const ws = await h.seed({ leads });
  await h.db.$executeRaw`UPDATE "Lead" SET "name" = "name" || ' #' || "id" WHERE "clientId" = ${ws.workspaceId}`;
  return ws;
}

/** Polls the pack through the API, keeping every progress reading, until `until` holds. */
export async function watchPack(
  h: Harness,
  ws: TestWorkspace,
  packId: string,
  seen: Progress[],
  until: (p: { status: string; progress: Progress; sessionId: string }) => boolean,
  timeoutMs = 30_000,
) {
  return waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member));
      seen.push(res.body.progress);
      return until(res.body) ? res.body : undefined;
    },
    { timeoutMs, intervalMs: 25, what: "pack progress" },
  );
}

export function expectMonotonic(seen: Progress[]) {
  const stages = ["QUEUED", "SELECTING", "EXTRACTING", "SYNTHESIZING", "DONE"];
  for (let i = 1; i < seen.length; i++) {
    expect(stages.indexOf(seen[i]!.stage)).toBeGreaterThanOrEqual(stages.indexOf(seen[i - 1]!.stage));
    expect(seen[i]!.processedLeads).toBeGreaterThanOrEqual(seen[i - 1]!.processedLeads);
    expect(seen[i]!.percent).toBeGreaterThanOrEqual(seen[i - 1]!.percent);
  }
}

/** How many extraction calls the fake LLM received for each lead, keyed by lead id. */
export async function extractionCallsByLead(h: Harness, fake: FakeLlm, ws: TestWorkspace): Promise<Map<string, number>> {
  const leads = await h.db.lead.findMany({ where: { clientId: ws.workspaceId }, select: { id: true, name: true } });
  const idByName = new Map(leads.map((l) => [l.name, l.id]));
  const counts = new Map<string, number>();
  for (const request of fake.requests.filter((r) => r.task === "lead_insight")) {
    const id = idByName.get(/Lead: (.*)/.exec(request.text)?.[1] ?? "");
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
