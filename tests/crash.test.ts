// Real worker processes, really killed. The API runs in-process (its own tests cover it); the workers run as
// `npm run start:worker` would, against this run's database and a queue prefix of this file's own.
import { describe, expect, it } from "vitest";
import { createLogger } from "@insights/shared/logger";
import { buildPack } from "@insights/worker/packs/build-pack.handler";
import { bearer, insertPendingPack, requestPackInNewSession, TEST_MODELS, type TestWorkspace } from "./support/harness.ts";
import {
  expectMonotonic,
  extractionCallsByLead as callsByLead,
  seedNamed,
  useWorkerProcesses,
  watchPack,
  type Progress,
} from "./support/pack-processes.ts";
import { fakeLlmProvider, waitFor } from "./support/worker-harness.ts";

const fixture = await useWorkerProcesses();
const { h, fake } = fixture;

const LOCK_MS = 2000;
const startWorker = () => fixture.startWorker({ JOB_LOCK_MS: String(LOCK_MS) });

const seed = (leads: number) => seedNamed(h, leads);
const requestPack = async (ws: TestWorkspace) => (await requestPackInNewSession(h, ws)).packId;
const watch = (ws: TestWorkspace, packId: string, seen: Progress[], until: Parameters<typeof watchPack>[4], timeoutMs?: number) =>
  watchPack(h, ws, packId, seen, until, timeoutMs);
const extractionCallsByLead = (ws: TestWorkspace) => callsByLead(h, fake, ws);

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
    await Promise.all(packs.map((packId, i) => watch(workspaces[i]!, packId, [], (p) => p.status === "COMPLETE")));
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
      models: TEST_MODELS,
      tuning: { maxLeadsPerPack: 1000, llmConcurrency: 4, progressIntervalMs: 50, pageSize: 200 },
    });
    const payload = { packId: pack.id, generation: 1 };
    const first = buildPack(deps(), payload, new AbortController().signal);
    await waitFor(async () => (fake.callsFor("lead_insight") >= 8 ? true : undefined), { what: "the first run to be extracting" });
    const second = buildPack(deps(), payload, new AbortController().signal);

    expect(await first).toMatchObject({ outcome: "skipped" });
    expect(await second).toMatchObject({ outcome: "complete", totalLeads: 40 });
    // Without the takeover the first run would have gone on through the same pending leads (~70 calls in all).
    expect(fake.callsFor("lead_insight")).toBeLessThanOrEqual(40 + 8);
    expect(fake.callsFor("pack_synthesis")).toBe(1);
    const done = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.id } });
    expect(done).toMatchObject({ status: "COMPLETE", processedLeads: 40, failedLeads: 0 });
  });
});
