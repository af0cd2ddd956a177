// Postgres is the truth and the queue follows it: rows whose job never made it to Redis get one, and jobs whose row
// is gone or superseded end cleanly without touching anything.
import { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { JOBS, jobIdOf } from "@insights/shared/jobs/catalog";
import { QUEUES } from "@insights/shared/jobs/queues";
import { createLogger } from "@insights/shared/logger";
import { createFairShare } from "@insights/shared/jobs/fair-share";
import { createRedis } from "@insights/shared/redis";
import { reconcile } from "@insights/worker/maintenance/reconcile.handler";
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
    await waitFor(async () =>
      (await h.db.insightContextPack.findUniqueOrThrow({ where: { id: res.body.id } })).status === "COMPLETE" ? true : undefined,
    );
    const question = await h.db.insightChatMessage.create({
      data: {
        clientId: ws.workspaceId,
        sessionId,
        role: "USER",
        content: "Who replied?",
        authorId: ws.users.member.id,
        createdAt: longAgo(),
      },
    });
    const reply = await h.db.insightChatMessage.create({
      data: {
        clientId: ws.workspaceId,
        sessionId,
        role: "ASSISTANT",
        status: "PENDING",
        content: "",
        packId: res.body.id,
        replyToId: question.id,
        createdAt: longAgo(),
      },
    });
    const answered = await waitFor(async () => {
      const row = await h.db.insightChatMessage.findUniqueOrThrow({ where: { id: reply.id } });
      return row.status !== "PENDING" ? row : undefined;
    });
    expect(answered.status).toBe("COMPLETE");
    expect(answered.content).toContain("Who replied?");
  });
});

describe("a job that failed for good while its failure could not be written", () => {
  it("is recorded on its pack by the next reconcile, with the job's reason", async () => {
    // Queues of their own, where no worker runs: the failed job stays exactly as the outage left it.
    const other = createHarness({ databaseUrl: database.url });
    const connection = createRedis(inject("redisUrl"), { role: "reconcile-test" });
    try {
      const ws = await h.seed({ leads: 2 });
      const sessionId = await sessionOf(ws);
      // This file's own worker reconciles every 200 ms: the row becomes visible only with a job in its queues that
      // it leaves alone (delayed for an hour), so only the reconcile below acts on it.
      const pack = await h.db.$transaction(async (tx) => {
        const row = await insertPendingPack(h, ws, sessionId, longAgo(), tx);
        await tx.insightContextPack.update({ where: { id: row.id }, data: { status: "RUNNING", updatedAt: longAgo() } });
        const payload = { packId: row.id, generation: 1 };
        await h.queues.packs.add(JOBS.buildPack.name, payload, { jobId: jobIdOf("buildPack", payload), delay: 3600_000 });
        return row;
      });
      // The job's last attempt failed; the worker's write of that failure was refused (the database was down).
      const payload = { packId: pack.id, generation: 1 };
      await other.queues.packs.add(JOBS.buildPack.name, payload, { jobId: jobIdOf("buildPack", payload), attempts: 1 });
      const taker = new Worker(QUEUES.packs, null, { connection, prefix: other.prefix, autorun: false });
      const job = await taker.getNextJob("test-token");
      await job!.moveToFailed(new Error("the LLM provider refused the API key"), "test-token");
      await taker.close();
      expect(await (await other.queues.packs.getJob(job!.id!))!.getState()).toBe("failed");

      const result = await reconcile({
        db: h.db,
        live: h.liveLog,
        queues: other.queues,
        packFair: createFairShare({
          redis: connection,
          prefix: other.prefix,
          queues: other.queues,
          queue: "packs",
          logger: createLogger("reconcile-test", "silent"),
        }),
        logger: createLogger("reconcile-test", "silent"),
        graceMs: 30_000,
      });

      expect(result.markedFailed).toBeGreaterThanOrEqual(1);
      const row = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.id } });
      expect(row).toMatchObject({ status: "FAILED", error: "the pack's job failed: the LLM provider refused the API key" });
      await (await h.queues.packs.getJob(jobIdOf("buildPack", payload)))?.remove();
    } finally {
      await connection.quit();
      await other.close();
    }
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
    const res = await h.http
      .post(`${ws.base}/insights/sessions/${await sessionOf(ws)}/packs`)
      .set(bearer(ws.tokens.member))
      .send({});
    await waitFor(async () =>
      (await h.db.insightContextPack.findUniqueOrThrow({ where: { id: res.body.id } })).status === "COMPLETE" ? true : undefined,
    );
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
