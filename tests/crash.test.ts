// Real worker processes, really killed. The API runs in-process (its own tests cover it); the workers run as
// `npm run start:worker` would, against this run's database and a queue prefix of this file's own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createLogger } from "@insights/shared/logger";
import { buildPack } from "@insights/worker/packs/build-pack.handler";
import { RunningPacks } from "@insights/worker/runtime/cancellations";
import { bearer, createHarness, insertPendingPack, type TestWorkspace } from "./support/harness.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { startService, waitForOutput, type ServiceProcess } from "./support/processes.ts";
import { fakeLlmProvider, SHARED_DATABASE_SAFE, waitFor } from "./support/worker-harness.ts";

const h = createHarness();
let fake: FakeLlm;
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  fake = await startFakeLlm();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.kill("SIGKILL")));
  fake.reset();
});
afterAll(async () => {
  await fake.close();
  await h.close();
});

const LOCK_MS = 2000;

async function startWorker(): Promise<ServiceProcess> {
  const worker = startService("worker", {
    DATABASE_URL: inject("databaseUrl"),
    REDIS_URL: inject("redisUrl"),
    QUEUE_PREFIX: h.prefix,
    OPENAI_API_KEY: "test-key",
    OPENAI_BASE_URL: fake.baseURL,
    LLM_CONCURRENCY: "4",
    LLM_RETRY_BASE_MS: "10",
    PROGRESS_INTERVAL_MS: "50",
    JOB_LOCK_MS: String(LOCK_MS),
    RECONCILE_INTERVAL_MS: "500",
    // The run's database is shared with other test files: leave their unfinished rows alone (worker-harness.ts).
    RECONCILE_GRACE_MS: String(SHARED_DATABASE_SAFE.reconcileGraceMs),
    SESSION_RETENTION_DAYS: "3650",
  });
  workers.push(worker);
  await waitForOutput(worker, /worker started/);
  return worker;
}

type Progress = { stage: string; processedLeads: number; percent: number; totalLeads: number; failedLeads: number; cachedLeads: number };

/** A workspace whose lead names are unique across workspaces, so the fake LLM's requests say whose lead they are. */
async function seed(leads: number): Promise<TestWorkspace> {
  const ws = await h.seed({ leads });
  await h.db.$executeRaw`UPDATE "Lead" SET "name" = "name" || ' #' || "clientId" WHERE "clientId" = ${ws.workspaceId}`;
  return ws;
}

async function requestPack(ws: TestWorkspace): Promise<string> {
  const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  const res = await h.http
    .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
    .set(bearer(ws.tokens.member))
    .send({ window: { preset: "LAST_90_DAYS" } });
  expect(res.status).toBe(202);
  return res.body.id;
}

/** Polls the pack through the API, keeping every progress reading, until `until` holds. */
async function watch(ws: TestWorkspace, packId: string, seen: Progress[], until: (p: { status: string; progress: Progress }) => boolean, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member));
      seen.push(res.body.progress);
      return until(res.body) ? res.body : undefined;
    },
    { timeoutMs, intervalMs: 25, what: "pack progress" },
  );
}

function expectMonotonic(seen: Progress[]) {
  const stages = ["QUEUED", "SELECTING", "EXTRACTING", "SYNTHESIZING", "DONE"];
  for (let i = 1; i < seen.length; i++) {
    expect(stages.indexOf(seen[i]!.stage)).toBeGreaterThanOrEqual(stages.indexOf(seen[i - 1]!.stage));
    expect(seen[i]!.processedLeads).toBeGreaterThanOrEqual(seen[i - 1]!.processedLeads);
    expect(seen[i]!.percent).toBeGreaterThanOrEqual(seen[i - 1]!.percent);
  }
}

/** How many extraction calls the fake LLM received for each lead, keyed by lead id. */
async function extractionCallsByLead(ws: TestWorkspace): Promise<Map<string, number>> {
  const leads = await h.db.lead.findMany({ where: { clientId: ws.workspaceId }, select: { id: true, name: true } });
  const idByName = new Map(leads.map((l) => [l.name, l.id]));
  const counts = new Map<string, number>();
  for (const request of fake.requests.filter((r) => r.task === "lead_insight")) {
    const id = idByName.get(/Lead: (.*)/.exec(request.text)?.[1] ?? "");
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("a worker process that dies mid-pack", () => {
  it("is replaced by another that completes the pack without extracting a lead twice, duplicating a row, or moving progress back", async () => {
    const ws = await seed(60);
    fake.latencyMs = 100;
    const first = await startWorker();
    const packId = await requestPack(ws);
    const seen: Progress[] = [];
    await watch(ws, packId, seen, (p) => p.progress.processedLeads >= 12);

    await first.kill("SIGKILL");
    const extractedAtKill = (
      await h.db.insightContextPackLead.findMany({ where: { packId, status: "EXTRACTED" }, select: { leadId: true } })
    ).map((r) => r.leadId);
    expect(extractedAtKill.length).toBeGreaterThanOrEqual(12);
    const callsAtKill = fake.callsFor("lead_insight");

    await startWorker();
    const done = await watch(ws, packId, seen, (p) => p.status !== "PENDING" && p.status !== "RUNNING");
    expect(done.status).toBe("COMPLETE");
    expect(done.progress).toMatchObject({ totalLeads: 60, processedLeads: 60, failedLeads: 0 });
    expectMonotonic(seen);

    // Leads summarized before the kill were not summarized again; at most the calls in flight were repeated.
    const calls = await extractionCallsByLead(ws);
    for (const leadId of extractedAtKill) expect(calls.get(leadId), leadId).toBe(1);
    expect(fake.callsFor("lead_insight")).toBeLessThanOrEqual(60 + 4);
    expect(callsAtKill).toBeLessThan(60);
    expect(fake.callsFor("pack_synthesis")).toBe(1);

    // One summary per lead, one status row per lead, one ledger row per extracted lead.
    expect(await h.db.leadConversationInsight.count({ where: { clientId: ws.workspaceId } })).toBe(60);
    expect(await h.db.insightContextPackLead.count({ where: { packId } })).toBe(60);
    expect(await h.db.insightLlmUsage.count({ where: { packId, kind: "EXTRACTION" } })).toBe(60);
    expect(await h.db.insightLlmUsage.count({ where: { packId, kind: "SYNTHESIS" } })).toBe(1);
  });

  it("stopped with SIGTERM, hands the pack back at once and exits cleanly; the next worker finishes it", async () => {
    const ws = await seed(40);
    fake.latencyMs = 100;
    const first = await startWorker();
    const packId = await requestPack(ws);
    const seen: Progress[] = [];
    await watch(ws, packId, seen, (p) => p.progress.processedLeads >= 8);

    const stoppedAt = Date.now();
    expect(await first.kill("SIGTERM")).toBe(0);
    expect(first.output()).toMatch(/job released at shutdown/);
    const extractedAtStop = (
      await h.db.insightContextPackLead.findMany({ where: { packId, status: "EXTRACTED" }, select: { leadId: true } })
    ).map((r) => r.leadId);

    await startWorker();
    const done = await watch(ws, packId, seen, (p) => p.status === "COMPLETE");
    expect(done.progress).toMatchObject({ totalLeads: 40, processedLeads: 40 });
    expectMonotonic(seen);
    const calls = await extractionCallsByLead(ws);
    for (const leadId of extractedAtStop) expect(calls.get(leadId), leadId).toBe(1);
    // Released, not abandoned: the next worker did not have to wait for the dead one's lock to expire.
    expect(Date.now() - stoppedAt).toBeLessThan(LOCK_MS + 15_000);
  });
});

describe("several workers on the same queues", () => {
  it("do no work twice", async () => {
    const workspaces = await Promise.all(Array.from({ length: 4 }, () => seed(15)));
    fake.latencyMs = 20;
    await Promise.all([startWorker(), startWorker()]);
    const packs = await Promise.all(workspaces.map((ws) => requestPack(ws)));
    await Promise.all(
      packs.map((packId, i) => watch(workspaces[i]!, packId, [], (p) => p.status === "COMPLETE")),
    );
    for (const [i, ws] of workspaces.entries()) {
      const calls = await extractionCallsByLead(ws);
      expect(calls.size).toBe(15);
      expect([...calls.values()].every((n) => n === 1)).toBe(true);
      expect(await h.db.insightLlmUsage.count({ where: { packId: packs[i], kind: "SYNTHESIS" } })).toBe(1);
    }
  });
});

describe("a worker that lost its pack to another (its lock expired while it was stalled, not dead)", () => {
  it("stops at its next write, so the two never keep summarizing the same leads", async () => {
    const ws = await seed(40);
    fake.latencyMs = 100;
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    // The pack row as the API commits it; the two runs below stand in for the two workers BullMQ handed its job to.
    const pack = await insertPendingPack(h, ws, session.body.id);
    const deps = () => ({
      db: h.db,
      llm: fakeLlmProvider(fake),
      logger: createLogger("takeover-test", "silent"),
      live: h.liveLog,
      running: new RunningPacks(),
      tuning: { maxLeadsPerPack: 1000, llmConcurrency: 4, progressIntervalMs: 50, pageSize: 200 },
    });
    const payload = { packId: pack.id, generation: 1 };
    const first = buildPack(deps(), payload);
    await waitFor(async () => (fake.callsFor("lead_insight") >= 8 ? true : undefined), { what: "the first run to be extracting" });
    const second = buildPack(deps(), payload);

    expect(await first).toMatchObject({ outcome: "skipped" });
    expect(await second).toMatchObject({ outcome: "complete", totalLeads: 40 });
    // Without the takeover the first run would have gone on through the same pending leads (~70 calls in all).
    expect(fake.callsFor("lead_insight")).toBeLessThanOrEqual(40 + 8);
    expect(fake.callsFor("pack_synthesis")).toBe(1);
    const done = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.id } });
    expect(done).toMatchObject({ status: "COMPLETE", processedLeads: 40, failedLeads: 0 });
  });
});
