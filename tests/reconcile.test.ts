// Postgres is the truth and the queue follows it: rows whose job never made it to Redis get one, and jobs whose row
// is gone or superseded end cleanly without touching anything.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdOf } from "@insights/shared/jobs/catalog";
import { enqueue } from "@insights/shared/jobs/job-queues";
import { createOfflineProvider } from "@insights/worker/llm/offline-provider";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { createIsolatedDatabase } from "./support/database.ts";
import { bearer, createHarness, insertPendingPack, type Harness, type TestWorkspace } from "./support/harness.ts";
import { startTestWorker, waitFor } from "./support/worker-harness.ts";

let database: Awaited<ReturnType<typeof createIsolatedDatabase>>;
let h: Harness;
let worker: WorkerRuntime;

beforeAll(async () => {
  // A reconciler this eager acts on every unfinished row of its database: give it one of its own.
  database = await createIsolatedDatabase();
  h = createHarness({ databaseUrl: database.url });
  worker = await startTestWorker(h, createOfflineProvider(), { reconcileIntervalMs: 200, reconcileGraceMs: 100 });
});
afterAll(async () => {
  await worker.close();
  await h.close();
  await database.drop();
});

const longAgo = () => new Date(Date.now() - 60_000);

async function sessionOf(ws: TestWorkspace): Promise<string> {
  return (await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({})).body.id;
}

describe("the reconciler", () => {
  it("gives a pack whose job was never enqueued (a crash right after the commit) its job, and the pack completes", async () => {
    const ws = await h.seed({ leads: 4 });
    const sessionId = await sessionOf(ws);
    // What the API leaves behind if it dies between its commit and its enqueue.
    const pack = await insertPendingPack(h, ws, sessionId, longAgo());
    expect(await h.queues.packs.getJob(jobIdOf("buildPack", { packId: pack.id, generation: 1 }))).toBeUndefined();
    const done = await waitFor(async () => {
      const row = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.id } });
      return row.status === "COMPLETE" ? row : undefined;
    });
    expect(done.totalLeads).toBe(4);
  });

  it("gives a reply whose job was never enqueued its job, and the reply is answered", async () => {
    const ws = await h.seed({ leads: 2 });
    const sessionId = await sessionOf(ws);
    const res = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/packs`).set(bearer(ws.tokens.member)).send({});
    await waitFor(async () => ((await h.db.insightContextPack.findUniqueOrThrow({ where: { id: res.body.id } })).status === "COMPLETE" ? true : undefined));
    const question = await h.db.insightChatMessage.create({
      data: { clientId: ws.workspaceId, sessionId, role: "USER", content: "Who replied?", authorId: ws.users.member.id, createdAt: longAgo() },
    });
    const reply = await h.db.insightChatMessage.create({
      data: { clientId: ws.workspaceId, sessionId, role: "ASSISTANT", status: "PENDING", content: "", packId: res.body.id, replyToId: question.id, createdAt: longAgo() },
    });
    const answered = await waitFor(async () => {
      const row = await h.db.insightChatMessage.findUniqueOrThrow({ where: { id: reply.id } });
      return row.status !== "PENDING" ? row : undefined;
    });
    expect(answered.status).toBe("COMPLETE");
    expect(answered.content).toContain("Who replied?");
  });
});

describe("a job whose row is gone or superseded", () => {
  it("ends cleanly when its pack was deleted before it ran", async () => {
    const jobId = await enqueue(h.queues, "buildPack", { packId: "00000000-0000-0000-0000-00000000dead", generation: 1 });
    const job = await waitFor(async () => {
      const j = await h.queues.packs.getJob(jobId);
      return j && (await j.isCompleted()) ? j : undefined;
    });
    expect(job.returnvalue).toMatchObject({ outcome: "skipped" });
  });

  it("ends cleanly, changing nothing, when its pack has been recomputed since (a newer generation)", async () => {
    const ws = await h.seed({ leads: 2 });
    const res = await h.http.post(`${ws.base}/insights/sessions/${await sessionOf(ws)}/packs`).set(bearer(ws.tokens.member)).send({});
    await waitFor(async () => ((await h.db.insightContextPack.findUniqueOrThrow({ where: { id: res.body.id } })).status === "COMPLETE" ? true : undefined));
    await h.http.post(`${ws.base}/insights/packs/${res.body.id}/recompute`).set(bearer(ws.tokens.admin)).send({}).expect(202);
    const current = await waitFor(async () => {
      const row = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: res.body.id } });
      return row.status === "COMPLETE" ? row : undefined;
    });
    // A stale duplicate of generation 1's job (e.g. re-delivered late) must not touch generation 2's result.
    await h.queues.packs.getJob(jobIdOf("buildPack", { packId: res.body.id, generation: 1 })).then((j) => j?.remove());
    const jobId = await enqueue(h.queues, "buildPack", { packId: res.body.id, generation: 1 });
    const job = await waitFor(async () => {
      const j = await h.queues.packs.getJob(jobId);
      return j && (await j.isCompleted()) ? j : undefined;
    });
    expect(job.returnvalue).toMatchObject({ outcome: "skipped" });
    expect(await h.db.insightContextPack.findUniqueOrThrow({ where: { id: res.body.id } })).toEqual(current);
  });
});
