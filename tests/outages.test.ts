// Dependencies that blink. Each test runs its own redis-server or PostgreSQL cluster on a port of its own and stops
// it itself; the shared servers are never touched.
import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { signToken } from "@insights/api/auth/jwt";
import { seedWorkspace } from "@insights/api/cli/seed";
import { createDb } from "@insights/shared/db/client";
import { deployMigrations } from "../prisma/tools/schema-engine.ts";
import { createIsolatedDatabase } from "./support/database.ts";
import { startFakeLlm } from "./support/fake-llm.ts";
import { bearer, createHarness, insertPendingPack, TEST_JWT_SECRET, type Harness, type TestWorkspace } from "./support/harness.ts";
import { freePort, PrivatePostgres, PrivateRedis, startService, waitForOutput, type ServiceProcess } from "./support/processes.ts";
import { waitFor } from "./support/worker-harness.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

function startWorker(env: Record<string, string>): ServiceProcess {
  const worker = startService("worker", { RECONCILE_INTERVAL_MS: "300", RECONCILE_GRACE_MS: "200", JOB_LOCK_MS: "2000", ...env });
  cleanups.push(() => worker.kill("SIGKILL"));
  return worker;
}

async function newSession(h: Harness, ws: TestWorkspace): Promise<string> {
  return (await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({})).body.id;
}

const packStatus = async (h: Harness, ws: TestWorkspace, packId: string) =>
  (await h.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member))).body.status as string;

describe("with Redis down", () => {
  it("refuses writes that need the queue with 503, keeps reads working, and resumes pending work when Redis is back", {
    timeout: 90_000,
  }, async () => {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    cleanups.push(() => redis.stop());
    // Its worker reconciles eagerly, so it gets a database of its own (see support/database.ts).
    const database = await createIsolatedDatabase();
    cleanups.push(() => database.drop());
    const h = createHarness({ redisUrl: redis.url, databaseUrl: database.url });
    cleanups.push(() => h.close());
    const ws = await h.seed({ leads: 5 });
    const workerEnv = { DATABASE_URL: database.url, REDIS_URL: redis.url, QUEUE_PREFIX: h.prefix };
    let worker = startWorker(workerEnv);
    await waitForOutput(worker, /worker started/);

    const sessionId = await newSession(h, ws);
    const first = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/packs`).set(bearer(ws.tokens.member)).send({});
    await waitFor(async () => ((await packStatus(h, ws, first.body.id)) === "COMPLETE" ? true : undefined));

    await redis.stop();
    await waitFor(async () => ((await h.http.get("/readyz")).status === 503 ? true : undefined), { what: "readyz to notice" });

    // Writes that need the queue: 503, and nothing half-written.
    const messagesBefore = await h.db.insightChatMessage.count({ where: { sessionId } });
    const packsBefore = await h.db.insightContextPack.count({ where: { sessionId } });
    const pack = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_7_DAYS" } });
    expect(pack.status).toBe(503);
    expect(pack.body.error).toMatchObject({ code: "UNAVAILABLE", requestId: expect.any(String) });
    const question = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "Still there?" });
    expect(question.status).toBe(503);
    expect(await h.db.insightChatMessage.count({ where: { sessionId } })).toBe(messagesBefore);
    expect(await h.db.insightContextPack.count({ where: { sessionId } })).toBe(packsBefore);

    // Everything else keeps working from Postgres.
    expect((await h.http.get(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member))).status).toBe(200);
    expect((await h.http.get(`${ws.base}/insights/packs/${first.body.id}`).set(bearer(ws.tokens.member))).status).toBe(200);
    const note = await h.http
      .post(`${ws.base}/insights/sessions/${await newSession(h, ws)}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "no pack here, no queue needed" });
    expect(note.status).toBe(201);
    expect((await h.http.get("/readyz")).body.checks).toMatchObject({ postgres: "ok", redis: "down" });

    // A pack accepted just before the outage whose job Redis then lost (it keeps nothing on disk).
    await worker.kill("SIGTERM");
    await redis.start();
    await waitFor(async () => ((await h.http.get("/readyz")).status === 200 ? true : undefined), { what: "Redis to be back" });
    const lost = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_90_DAYS" } });
    expect(lost.status).toBe(202);
    await redis.stop();
    await redis.start();

    // No manual step: a worker starts, its reconciler finds the pack without a job, and the pack completes.
    worker = startWorker(workerEnv);
    await waitFor(async () => ((await packStatus(h, ws, lost.body.id)) === "COMPLETE" ? true : undefined), {
      timeoutMs: 20_000,
      what: "the lost pack to complete",
    });
    await waitFor(async () => ((await h.http.get("/readyz")).status === 200 ? true : undefined));
    const after = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_7_DAYS" } });
    expect(after.status).toBe(202);
    await waitFor(async () => ((await packStatus(h, ws, after.body.id)) === "COMPLETE" ? true : undefined));
  });
});

describe("with PostgreSQL down", () => {
  it("answers 503 without crashing or exiting, and serves again when PostgreSQL is back", { timeout: 90_000 }, async () => {
    const postgres = new PrivatePostgres(await freePort());
    await postgres.init();
    await postgres.start();
    cleanups.push(() => postgres.destroy());
    await deployMigrations(postgres.url);
    const db = createDb(postgres.url, { maxConnections: 2 });
    cleanups.push(() => db.$disconnect());
    const seeded = await seedWorkspace(db, { leads: 3 });
    const token = await signToken(TEST_JWT_SECRET, seeded.users.owner.id);
    const prefix = `${inject("queuePrefix")}-pgdown`;
    const port = await freePort();
    const api = startService("api", {
      DATABASE_URL: postgres.url,
      REDIS_URL: inject("redisUrl"),
      QUEUE_PREFIX: prefix,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      PORT: String(port),
    });
    cleanups.push(() => api.kill("SIGKILL"));
    const worker = startWorker({ DATABASE_URL: postgres.url, REDIS_URL: inject("redisUrl"), QUEUE_PREFIX: prefix });
    await Promise.all([waitForOutput(api, /API listening/), waitForOutput(worker, /worker started/)]);
    const base = `http://127.0.0.1:${port}`;
    const sessions = `${base}/v1/workspaces/${seeded.workspaceId}/insights/sessions`;
    const get = (url: string) => fetch(url, { headers: bearer(token) });
    expect((await get(sessions)).status).toBe(200);

    await postgres.stop();
    const down = await get(sessions);
    if (down.status !== 503) console.log(api.output().slice(-3000));
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: { code: "UNAVAILABLE", requestId: expect.any(String) } });
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // The worker's reconciler keeps failing while PostgreSQL is away; the processes stay up through it.
    await waitForOutput(worker, /could not|ECONNREFUSED|failed/i, 10_000).catch(() => undefined);
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();

    await postgres.start();
    await waitFor(async () => ((await get(sessions)).status === 200 ? true : undefined), { what: "the API to serve again" });
    const session = await fetch(sessions, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: "{}",
    });
    const { id: sessionId } = (await session.json()) as { id: string };
    const pack = await fetch(`${sessions}/${sessionId}/packs`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify({ window: { preset: "LAST_90_DAYS" } }),
    });
    expect(pack.status).toBe(202);
    const { id: packId } = (await pack.json()) as { id: string };
    await waitFor(
      async () => {
        const res = await get(`${base}/v1/workspaces/${seeded.workspaceId}/insights/packs/${packId}`);
        return ((await res.json()) as { status: string }).status === "COMPLETE" ? true : undefined;
      },
      { timeoutMs: 20_000, what: "a pack after the outage" },
    );
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  });
});

describe("through PostgreSQL outages of 5 and 20 seconds", () => {
  it("completes every pack that was running or queued with no manual step, and keeps the reconciler and the purge running", {
    timeout: 240_000,
  }, async () => {
    const postgres = new PrivatePostgres(await freePort());
    await postgres.init();
    await postgres.start();
    cleanups.push(() => postgres.destroy());
    await deployMigrations(postgres.url);
    const fake = await startFakeLlm();
    cleanups.push(() => fake.close());
    // Slow enough that every outage finds packs half-way through their leads, and others queued behind them.
    fake.latencyMs = 150;
    const h = createHarness({ databaseUrl: postgres.url });
    cleanups.push(() => h.close());
    const ws = await h.seed({ leads: 24 });
    const reconcileIntervalMs = 1000;
    const worker = startWorker({
      DATABASE_URL: postgres.url,
      REDIS_URL: inject("redisUrl"),
      QUEUE_PREFIX: h.prefix,
      OPENAI_API_KEY: "test-key",
      OPENAI_BASE_URL: fake.baseURL,
      RECONCILE_INTERVAL_MS: String(reconcileIntervalMs),
      RECONCILE_GRACE_MS: "500",
      RETENTION_SWEEP_INTERVAL_MS: "1000",
      LLM_CONCURRENCY: "2",
      PACK_CONCURRENCY: "2",
    });
    await waitForOutput(worker, /worker started/);
    const member = bearer(ws.tokens.member);
    const windows = ["LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS"] as const;

    for (const outageMs of [5_000, 20_000]) {
      const sessionId = await newSession(h, ws);
      const packIds: string[] = [];
      for (const preset of windows) {
        const res = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/packs`).set(member).send({ window: { preset } });
        expect(res.status).toBe(202);
        packIds.push(res.body.id);
      }
      // Break the database while a pack is extracting (and another waits for a free slot).
      await waitFor(
        async () =>
          (await h.db.insightContextPack.count({ where: { id: { in: packIds }, status: "RUNNING", processedLeads: { gt: 0 } } })) > 0
            ? true
            : undefined,
        { what: "a pack half-way through its leads" },
      );
      const failuresBefore = (worker.output().match(/"level":(40|50)/g) ?? []).length;
      await postgres.stop();
      const outageEnds = Date.now() + outageMs;
      // The worker meets the outage (its jobs' database calls fail and are logged).
      await waitFor(async () => ((worker.output().match(/"level":(40|50)/g) ?? []).length > failuresBefore ? true : undefined), {
        timeoutMs: outageMs,
        what: "the worker to meet the outage",
      });
      // The outage lasts its full length, across several reconcile ticks and pack retries.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())));
      expect(worker.child.exitCode).toBeNull();
      await postgres.start();
      const back = Date.now();

      // Every pack completes by itself within a reconcile interval plus its own work.
      await waitFor(
        async () => {
          const packs = await h.db.insightContextPack.findMany({ where: { id: { in: packIds } } }).catch(() => []);
          return packs.length === packIds.length && packs.every((p) => p.status === "COMPLETE") ? packs : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `every pack to complete after a ${outageMs / 1000} s outage` },
      );
      const recoveredMs = Date.now() - back;
      for (const packId of packIds) {
        const pack = await h.http.get(`${ws.base}/insights/packs/${packId}`).set(member);
        expect(pack.body).toMatchObject({ status: "COMPLETE", error: null, progress: { failedLeads: 0, stage: "DONE", percent: 100 } });
        expect(pack.body.progress.processedLeads).toBe(pack.body.progress.totalLeads);
      }
      console.info(`after a ${outageMs / 1000} s PostgreSQL outage: ${packIds.length} packs COMPLETE ${recoveredMs} ms after it ended`);

      // The reconciler still runs: a pack committed without its job (a crash between commit and enqueue) completes.
      const orphan = await insertPendingPack(h, ws, await newSession(h, ws), new Date(Date.now() - 60_000));
      await waitFor(async () => ((await packStatus(h, ws, orphan.id)) === "COMPLETE" ? true : undefined), {
        timeoutMs: 30_000,
        what: "the reconciler to give a pack without a job its job",
      });
      // The retention purge still runs: a session deleted 40 days ago is purged.
      const expired = await newSession(h, ws);
      await h.http.delete(`${ws.base}/insights/sessions/${expired}`).set(bearer(ws.tokens.admin)).expect(200);
      await h.db.insightChatSession.update({ where: { id: expired }, data: { deletedAt: new Date(Date.now() - 40 * 24 * 3600_000) } });
      await waitFor(async () => ((await h.db.insightChatSession.findUnique({ where: { id: expired } })) === null ? true : undefined), {
        timeoutMs: 30_000,
        what: "the purge to remove an expired session",
      });
    }
    expect(worker.child.exitCode).toBeNull();
  });
});
