// Per-user rate limits on /v1: separate read and write budgets per user, counted in Redis under the deployment's
// prefix; over budget → 429 RATE_LIMITED with Retry-After; Redis down → requests are served and a warning logged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { pino } from "pino";
import type { Response } from "supertest";
import { apiEnvSchema } from "@insights/api/config";
import { createRedis } from "@insights/shared/redis";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";

const WRITES = 3;
const READS = 5;

// Budgets per minute, so no window closes during a test.
const h = createHarness({ rateLimit: { writesPerWindow: WRITES, readsPerWindow: READS } });
// One-second windows, to see one close; reads unlimited (0).
const short = createHarness({ rateLimit: { writesPerWindow: 2, readsPerWindow: 0, windowMs: 1000 } });
// Redis at a port nobody listens on.
const deadRedis = createRedis("redis://127.0.0.1:1", { role: "rate-http-dead", failFast: true });
deadRedis.on("error", () => {});
const logLines: string[] = [];
const down = createHarness({
  rateLimit: { redis: deadRedis, writesPerWindow: 1, readsPerWindow: 1 },
  logger: pino({ level: "warn" }, { write: (line: string) => void logLines.push(line) }),
});
const redis = createRedis(inject("redisUrl"), { role: "rate-http-test" });

afterAll(async () => {
  await Promise.all([h.close(), short.close(), down.close(), redis.quit()]);
  deadRedis.disconnect();
});

const createSession = (harness: typeof h, ws: TestWorkspace, token: string) =>
  harness.http.post(`${ws.base}/insights/sessions`).set(bearer(token)).send({ title: "Rate test" });

async function spendWrites(harness: typeof h, ws: TestWorkspace, token: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await createSession(harness, ws, token);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
}

function expectRateLimited(res: Response, windowSeconds: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(res.body).toEqual({
    error: {
      code: "RATE_LIMITED",
      message: expect.any(String),
      details: { retryAfterSeconds: expect.any(Number) },
      requestId: res.headers["x-request-id"],
    },
  });
  const retryAfter = Number(res.headers["retry-after"]);
  expect(Number.isInteger(retryAfter), `Retry-After: ${res.headers["retry-after"]}`).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.body.error.details.retryAfterSeconds).toBe(retryAfter);
}

describe("per-user rate limits", () => {
  let ws: TestWorkspace;
  beforeAll(async () => {
    ws = await h.seed();
  });

  it("answers a user over the write budget 429 RATE_LIMITED with Retry-After, and writes nothing", async () => {
    // A fresh workspace, so the count of sessions is this test's alone.
    const fresh = await h.seed();
    await spendWrites(h, fresh, fresh.tokens.member, WRITES);

    const res = await createSession(h, fresh, fresh.tokens.member);

    expectRateLimited(res, 60);
    expect(await h.db.insightChatSession.count({ where: { clientId: fresh.workspaceId } })).toBe(WRITES);
  });

  it("keeps serving another user while one is over the write budget", async () => {
    await spendWrites(h, ws, ws.tokens.admin, WRITES);
    expectRateLimited(await createSession(h, ws, ws.tokens.admin), 60);

    const other = await createSession(h, ws, ws.tokens.owner);
    expect(other.status, JSON.stringify(other.body)).toBe(201);
  });

  it("keeps serving a user's reads while their writes are limited", async () => {
    const fresh = await h.seed();
    await spendWrites(h, fresh, fresh.tokens.member, WRITES);
    expectRateLimited(await createSession(h, fresh, fresh.tokens.member), 60);

    const read = await h.http.get(`${fresh.base}/insights/sessions`).set(bearer(fresh.tokens.member));
    expect(read.status).toBe(200);
    expect(read.body.sessions).toHaveLength(WRITES);
  });

  it("limits reads on their own budget, leaving writes untouched", async () => {
    const fresh = await h.seed();
    for (let i = 0; i < READS; i++) {
      const res = await h.http.get(`${fresh.base}/insights/preferences`).set(bearer(fresh.tokens.owner));
      expect(res.status).toBe(200);
      expect(res.headers["ratelimit-remaining"]).toBe(String(READS - i - 1));
    }
    expectRateLimited(await h.http.get(`${fresh.base}/insights/preferences`).set(bearer(fresh.tokens.owner)), 60);

    const write = await createSession(h, fresh, fresh.tokens.owner);
    expect(write.status).toBe(201);
    expect(write.headers["ratelimit-remaining"]).toBe(String(WRITES - 1));
  });

  it("counts concurrent requests one by one: of 12 reads sent at once, exactly the budget is served", async () => {
    // The counts of requests read in the same event-loop turn share one Redis pipeline; each is still counted once.
    const fresh = await h.seed();
    const url = `${h.baseUrl()}${fresh.base}/insights/preferences`;
    const responses = await Promise.all(Array.from({ length: 12 }, () => fetch(url, { headers: bearer(fresh.tokens.owner) })));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(READS);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - READS);
    const remaining = responses.filter((r) => r.status === 200).map((r) => Number(r.headers.get("ratelimit-remaining")));
    expect(remaining.sort()).toEqual(Array.from({ length: READS }, (_, i) => i));
  });

  it("counts POST, PATCH, DELETE and PUT against the write budget", async () => {
    const fresh = await h.seed();
    const token = fresh.tokens.owner;
    const session = await createSession(h, fresh, token);
    expect(session.status).toBe(201);
    const patch = await h.http.patch(`${fresh.base}/insights/sessions/${session.body.id}`).set(bearer(token)).send({ title: "x" });
    expect(patch.status).toBe(200);
    const del = await h.http.delete(`${fresh.base}/insights/sessions/${session.body.id}`).set(bearer(token));
    expect(del.status).toBe(200);

    expectRateLimited(await h.http.put(`${fresh.base}/campaigns/cmp-rate`).set(bearer(token)).send({ name: "x" }), 60);
  });

  it("counts one budget per user across every workspace they belong to", async () => {
    const [first, second] = await Promise.all([h.seed(), h.seed()]);
    await h.db.workspaceMembership.create({
      data: { clientId: second.workspaceId, userId: first.users.member.id, role: "MEMBER" },
    });
    await spendWrites(h, first, first.tokens.member, WRITES);

    expectRateLimited(await createSession(h, second, first.tokens.member), 60);
  });

  it("keeps its counters under the deployment's queue prefix", async () => {
    const fresh = await h.seed();
    await spendWrites(h, fresh, fresh.tokens.owner, 1);
    const key = `${h.prefix}:rate:write:${fresh.users.owner.id}`;
    expect(Number(await redis.get(key))).toBe(1);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("answers anonymous requests 401 without counting them against anyone", async () => {
    const res = await h.http.post(`${ws.base}/insights/sessions`).send({});
    expect(res.status).toBe(401);
    expect(res.headers["ratelimit-limit"]).toBeUndefined();
  });
});

describe("rate limit windows", () => {
  it("serves a limited user again once the window has passed", async () => {
    const ws = await short.seed();
    await spendWrites(short, ws, ws.tokens.member, 2);
    expectRateLimited(await createSession(short, ws, ws.tokens.member), 1);

    const deadline = Date.now() + 5000;
    let res = await createSession(short, ws, ws.tokens.member);
    while (res.status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      res = await createSession(short, ws, ws.tokens.member);
    }
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers["ratelimit-remaining"]).toBe("1");
  });

  it("treats a budget of 0 as no limit", async () => {
    const ws = await short.seed();
    for (let i = 0; i < 10; i++) {
      const res = await short.http.get(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member));
      expect(res.status).toBe(200);
      expect(res.headers["ratelimit-limit"]).toBeUndefined();
    }
  });
});

describe("rate limits without Redis", () => {
  it("serves every request (fail open) and logs a warning", async () => {
    const ws = await down.seed();
    for (let i = 0; i < 3; i++) {
      const write = await createSession(down, ws, ws.tokens.member);
      expect(write.status, JSON.stringify(write.body)).toBe(201);
      const read = await down.http.get(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member));
      expect(read.status).toBe(200);
    }
    const warnings = logLines.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(
      warnings.some((w) => w.level === 40 && /rate limiter unavailable/.test(w.msg)),
      logLines.join("\n"),
    ).toBe(true);
    // One warning per outage-minute, not one per request.
    expect(warnings.filter((w) => /rate limiter unavailable/.test(w.msg))).toHaveLength(1);
  });
});

describe("rate limit configuration", () => {
  const env = {
    DATABASE_URL: "postgresql://insights@127.0.0.1:5432/insights",
    REDIS_URL: "redis://127.0.0.1:6379",
    AUTH_JWT_SECRET: "a-secret-that-is-long-enough-0123456789abcdef",
  };

  it("allows 600 reads and 120 writes a minute per user by default", () => {
    const config = apiEnvSchema.parse(env);
    expect(config.RATE_LIMIT_READS_PER_MINUTE).toBe(600);
    expect(config.RATE_LIMIT_WRITES_PER_MINUTE).toBe(120);
  });

  it("accepts 0 to turn a budget off and refuses a negative budget", () => {
    expect(apiEnvSchema.parse({ ...env, RATE_LIMIT_WRITES_PER_MINUTE: "0" }).RATE_LIMIT_WRITES_PER_MINUTE).toBe(0);
    expect(apiEnvSchema.safeParse({ ...env, RATE_LIMIT_READS_PER_MINUTE: "-1" }).success).toBe(false);
  });
});
