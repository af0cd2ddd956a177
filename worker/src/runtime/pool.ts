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
