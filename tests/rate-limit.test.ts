import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createLogger } from "@insights/shared/logger";
import { createRedis } from "@insights/shared/redis";
import { createRedisRateLimiter } from "@insights/worker/llm/rate-limit";

const redis = [createRedis(inject("redisUrl"), { role: "rate-test-1" }), createRedis(inject("redisUrl"), { role: "rate-test-2" })];
afterAll(() => Promise.all(redis.map((r) => r.quit())));

describe("the deployment-wide LLM rate limit", () => {
  it("spaces calls from two workers sharing Redis as one stream at the configured rate", async () => {
    const prefix = `${inject("queuePrefix")}-rate-${Math.random().toString(36).slice(2, 8)}`;
    const logger = createLogger("rate-test", "silent");
    // Two workers (two connections), 600 requests a minute between them: one start every 100 ms.
    const limiters = redis.map((r) => createRedisRateLimiter({ redis: r, prefix, requestsPerMinute: 600, logger }));
    const signal = new AbortController().signal;
    const starts: number[] = [];
    const begun = Date.now();
    await Promise.all(Array.from({ length: 8 }, (_, i) => limiters[i % 2]!.acquire(signal).then(() => starts.push(Date.now()))));
    starts.sort((a, b) => a - b);
    // The n-th call's slot is n spacings after the first; timers may fire late (a busy machine delays one start and
    // not the next, so two starts can land closer than a spacing), but never before their slot.
    for (const [n, start] of starts.entries()) expect(start - begun).toBeGreaterThanOrEqual(n * 100 - 2);
  });

  it("starts a reply's call ahead of the pack calls already waiting, and pushes them back to keep the rate", async () => {
    const prefix = `${inject("queuePrefix")}-rate-${Math.random().toString(36).slice(2, 8)}`;
    const limiter = createRedisRateLimiter({
      redis: redis[0]!,
      prefix,
      requestsPerMinute: 600,
      logger: createLogger("rate-test", "silent"),
    });
    const signal = new AbortController().signal;
    const started = Date.now();
    const packStarts: number[] = [];
    // Ten pack calls book the next second (one every 100 ms); then a reply arrives.
    const packs = Array.from({ length: 10 }, () => limiter.acquire(signal, "packs").then(() => packStarts.push(Date.now() - started)));
    await new Promise((r) => setImmediate(r));
    const replyAt = Date.now();
    await limiter.acquire(signal, "reply");
    expect(Date.now() - replyAt).toBeLessThan(100); // not behind the ~1 s of pack calls booked before it
    // A pack call booked after the reply waits one more spacing: the lanes together keep to the rate.
    const after = Date.now();
    await limiter.acquire(signal, "packs");
    expect(Date.now() - after).toBeGreaterThanOrEqual(1000 - (after - started) + 95 - 20);
    await Promise.all(packs);
    expect(packStarts).toHaveLength(10);
  });

  it("gives up waiting as soon as the call is cancelled", async () => {
    const prefix = `${inject("queuePrefix")}-rate-${Math.random().toString(36).slice(2, 8)}`;
    const limiter = createRedisRateLimiter({ redis: redis[0]!, prefix, requestsPerMinute: 1, logger: createLogger("rate-test", "silent") });
    const controller = new AbortController();
    await limiter.acquire(controller.signal); // takes the only slot this minute
    const waiting = limiter.acquire(controller.signal);
    controller.abort("cancelled");
    await expect(waiting).rejects.toBe("cancelled");
  });
});
