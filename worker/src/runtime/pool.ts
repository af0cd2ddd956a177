/**
 * Runs `task` over an async iterable with at most `limit` in flight, pulling the next item as soon as a slot frees
 * (so a slow page fetch or a slow item never idles the other slots). Stops pulling on the first error or when
 * `signal` aborts, waits for what is in flight, then rethrows the error.
 */
export async function forEachConcurrently<T>(
  items: AsyncIterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  let failure: { error: unknown } | undefined;
  // Async generators queue concurrent next() calls, so the lanes can share one iterator safely.
  const lane = async () => {
    while (!failure && !signal.aborted) {
      try {
        const next = await iterator.next();
        if (next.done) return;
        await task(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: limit }, lane));
  } finally {
    await iterator.return?.();
  }
  if (failure) throw failure.error;
}

/**
 * A counting semaphore that serves its waiters round-robin by key: one per worker process for its LLM extraction
 * calls, shared by every chunk it runs, so more chunks in one process never multiply its calls in flight, and keyed by
 * workspace, so a workspace with many chunks here does not take every slot that frees from one with a single chunk.
 */
export class Semaphore {
  private available: number;
  /** Waiters by key, in arrival order; the Map's own order is the round-robin order. */
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(readonly limit: number) {
    this.available = limit;
  }

  /** Runs `task` once a slot is free; a caller whose signal aborts while it waits leaves the line. */
  async run<T>(task: () => Promise<T>, signal: AbortSignal, key = ""): Promise<T> {
    await this.acquire(signal, key);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal, key: string): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.available > 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const line = this.waiting.get(key);
        const i = line?.indexOf(grant) ?? -1;
        if (i >= 0) line!.splice(i, 1);
        if (line?.length === 0) this.waiting.delete(key);
        reject(signal.reason);
      };
      const line = this.waiting.get(key);
      if (line) line.push(grant);
      else this.waiting.set(key, [grant]);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.entries().next();
    if (next.done) {
      this.available++;
      return;
    }
    // The slot passes straight to the first waiter of the key whose turn it is; that key goes to the back.
    const [key, line] = next.value;
    const grant = line.shift()!;
    this.waiting.delete(key);
    if (line.length > 0) this.waiting.set(key, line);
    grant();
  }
}
