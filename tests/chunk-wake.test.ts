// A pack job waiting for its chunks wakes when any process finishes one, through Redis, and never misses a finish
// that lands between its check and its wait.
import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { createRedis } from "@insights/shared/redis";
import { createChunkWake } from "@insights/worker/packs/chunk-wake";

// Two "processes": each with its command connection and its subscriber, as startWorkers has them.
const connections = Array.from({ length: 4 }, (_, i) => createRedis(inject("redisUrl"), { role: `chunk-wake-${i}` }));
afterAll(() => Promise.all(connections.map((r) => r.quit())));
const prefix = `${inject("queuePrefix")}-wake-${Math.random().toString(36).slice(2, 8)}`;
const [waiter, finisher] = await Promise.all([
  createChunkWake(connections[0]!, connections[1]!, prefix),
  createChunkWake(connections[2]!, connections[3]!, prefix),
]);
const never = new AbortController().signal;

describe("waking a pack job when its chunk is done", () => {
  it("wakes the waiting process as soon as another process finishes a chunk of that pack, and only that pack", async () => {
    const mine = waiter.listen("pack-a");
    const other = waiter.listen("pack-b");
    const started = Date.now();
    const woken = mine.wait(10_000, never).then(() => Date.now() - started);
    let otherWoken = false;
    void other.wait(10_000, never).then(() => (otherWoken = true));
    await finisher.finished("pack-a");
    expect(await woken).toBeLessThan(2_000);
    expect(otherWoken).toBe(false);
    mine.close();
    other.close();
  });

  it("does not miss a chunk finished between the check and the wait", async () => {
    const listener = waiter.listen("pack-c");
    await finisher.finished("pack-c");
    // The message has had time to arrive before anyone waits.
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await listener.wait(10_000, never);
    expect(Date.now() - started).toBeLessThan(100);
    listener.close();
  });

  it("falls back to its poll when no message comes, and ends at once when the run stops", async () => {
    const polled = waiter.listen("pack-d");
    const started = Date.now();
    await polled.wait(300, never);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    polled.close();

    const stop = new AbortController();
    const stopped = waiter.listen("pack-d");
    const waiting = stopped.wait(10_000, stop.signal);
    stop.abort("cancelled");
    await waiting;
    expect(Date.now() - started).toBeLessThan(2_000);
    stopped.close();
  });
});
