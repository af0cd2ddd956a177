// The worker process's LLM slots, shared by the workspaces whose chunks it runs: never more calls in flight than
// slots, a workspace that arrives behind a busy one gets its first calls out at once, and then the two alternate.
import { describe, expect, it } from "vitest";
import { Semaphore } from "@insights/worker/runtime/pool";

/** A call that ends when the test says so. */
function controllable() {
  const calls: Array<{ key: string; end: () => void }> = [];
  const start = (slots: Semaphore, key: string, signal = new AbortController().signal) =>
    slots.run(() => new Promise<void>((end) => calls.push({ key, end })), signal, key);
  return { calls, start, endOldest: () => calls.shift()!.end() };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("the per-process LLM slots", () => {
  it("let a newly arrived workspace's calls out ahead of a busy workspace's queue, then alternate", async () => {
    const slots = new Semaphore(2);
    const { calls, start, endOldest } = controllable();
    const order: string[] = [];
    const busy = Array.from({ length: 10 }, () => start(slots, "busy").then(() => order.push("busy")));
    await tick();
    const small = Array.from({ length: 4 }, () => start(slots, "small").then(() => order.push("small")));
    await tick();
    expect(calls.map((c) => c.key)).toEqual(["busy", "busy"]);
    // Each ended call frees one slot: the order in which calls start says who got it.
    while (calls.length > 0) {
      endOldest();
      await tick();
    }
    await Promise.all([...busy, ...small]);
    // The first two freed slots go to the newcomer (its credit of one round of slots), then turns alternate.
    expect(order.slice(0, 8)).toEqual(["busy", "busy", "small", "small", "busy", "small", "busy", "small"]);
  });

  it("never has more calls in flight than slots, whatever the mix of workspaces", async () => {
    const slots = new Semaphore(3);
    let inFlight = 0;
    let peak = 0;
    const keys = ["a", "b", "c", "d"];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        slots.run(
          async () => {
            peak = Math.max(peak, ++inFlight);
            await new Promise((r) => setTimeout(r, i % 3));
            inFlight--;
          },
          new AbortController().signal,
          keys[i % keys.length],
        ),
      ),
    );
    expect(peak).toBe(3);
  });

  it("drops a waiter whose work is cancelled without losing its slot", async () => {
    const slots = new Semaphore(1);
    const { calls, start, endOldest } = controllable();
    const first = start(slots, "a");
    const stop = new AbortController();
    const cancelled = start(slots, "b", stop.signal);
    stop.abort("cancelled");
    await expect(cancelled).rejects.toBe("cancelled");
    await tick();
    endOldest();
    await first;
    const next = start(slots, "c");
    await tick();
    expect(calls.map((c) => c.key)).toEqual(["c"]);
    endOldest();
    await next;
  });
});
