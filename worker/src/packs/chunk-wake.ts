// A pack job waits for its chunks, which run in any worker process. The process that finishes a pack's last chunk says
// so on a Redis channel, and every process wakes its pack jobs waiting on that pack, so synthesis starts as soon as
// the last chunk is done instead of at the next poll. The chunk rows are the record: a message lost (a subscriber
// reconnecting) costs the waiting job one fallback poll, nothing else.
import type { Redis } from "ioredis";

const channelOf = (prefix: string) => `${prefix}:chunk-done`;

export interface ChunkWake {
  /**
   * Starts listening for the pack's last chunk to finish. Call it before checking the chunks, so a chunk that finishes
   * between the check and the wait still wakes it; `wait` resolves on that, after `timeoutMs`, or when `signal` aborts.
   * `close` stops listening.
   */
  listen(packId: string): ChunkListener;
  /** Tells every worker process that the pack's last chunk is done. */
  finished(packId: string): Promise<void>;
}

export interface ChunkListener {
  wait(timeoutMs: number, signal: AbortSignal): Promise<void>;
  close(): void;
}

/** `subscriber` must be a connection of its own (a subscribed connection can do nothing else); it may be shared. */
export async function createChunkWake(redis: Redis, subscriber: Redis, prefix: string): Promise<ChunkWake> {
  const channel = channelOf(prefix);
  const listeners = new Map<string, Set<() => void>>();
  subscriber.on("message", (from: string, packId: string) => {
    if (from !== channel) return;
    for (const wake of listeners.get(packId) ?? []) wake();
  });
  await subscriber.subscribe(channel);

  return {
    listen(packId) {
      let woken = false;
      let onWake = () => {
        woken = true;
      };
      const wake = () => onWake();
      const set = listeners.get(packId) ?? new Set();
      set.add(wake);
      listeners.set(packId, set);
      return {
        wait: (timeoutMs, signal) =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              signal.removeEventListener("abort", done);
              resolve();
            };
            const timer = setTimeout(done, timeoutMs);
            signal.addEventListener("abort", done, { once: true });
            onWake = done;
            if (woken || signal.aborted) done();
          }),
        close() {
          set.delete(wake);
          if (set.size === 0 && listeners.get(packId) === set) listeners.delete(packId);
        },
      };
    },
    async finished(packId) {
      await redis.publish(channel, packId);
    },
  };
}
