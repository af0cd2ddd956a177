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
 * A counting semaphore shared by keys (workspaces): one per worker process for its LLM extraction calls, shared by
 * every chunk it runs, so more chunks in one process never multiply its calls in flight. A freed slot goes to the
 * waiting key that has been served least (start-time fair queuing with one call as the unit), so a workspace with
 * many chunks here does not take every slot from one with a single chunk. A key that arrives (or comes back after
 * being idle) starts `credit` calls behind the least-served active key: a small workspace's first calls go out at
 * once, ahead of a busy workspace's queue, and from then on the two alternate. No key waits longer than `credit`
 * grants to another key plus its fair turn.
 */
export class Semaphore {
  private available: number;
  /** Waiters by key, in arrival order. */
  private readonly waiting = new Map<string, Array<() => void>>();
  /** Calls granted to each active key (one with calls waiting or in flight); an idle key is forgotten. */
  private readonly served = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();

  constructor(
    readonly limit: number,
    private readonly credit = limit,
  ) {
    this.available = limit;
  }

  /** Runs `task` once a slot is free; a caller whose signal aborts while it waits leaves the line. */
  async run<T>(task: () => Promise<T>, signal: AbortSignal, key = ""): Promise<T> {
    await this.acquire(signal, key);
    try {
      return await task();
    } finally {
      this.release(key);
    }
  }

  private acquire(signal: AbortSignal, key: string): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    this.activate(key);
    if (this.available > 0) {
      this.available--;
      this.granted(key);
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
        this.forgetIfIdle(key);
        reject(signal.reason);
      };
      const line = this.waiting.get(key);
      if (line) line.push(grant);
      else this.waiting.set(key, [grant]);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private release(key: string): void {
    this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    this.forgetIfIdle(key);
    // The slot passes straight to the first waiter of the least-served key.
    let next: string | undefined;
    for (const waitingKey of this.waiting.keys()) {
      if (next === undefined || this.served.get(waitingKey)! < this.served.get(next)!) next = waitingKey;
    }
    if (next === undefined) {
      this.available++;
      return;
    }
    const line = this.waiting.get(next)!;
    const grant = line.shift()!;
    if (line.length === 0) this.waiting.delete(next);
    this.granted(next);
    grant();
  }

  private activate(key: string): void {
    if (this.served.has(key)) return;
    const leastServed = Math.min(...this.served.values());
    this.served.set(key, Number.isFinite(leastServed) ? leastServed - this.credit : 0);
  }

  private granted(key: string): void {
    this.served.set(key, this.served.get(key)! + 1);
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
  }

  private forgetIfIdle(key: string): void {
    if ((this.inFlight.get(key) ?? 0) > 0 || this.waiting.has(key)) return;
    this.inFlight.delete(key);
    this.served.delete(key);
  }
}
