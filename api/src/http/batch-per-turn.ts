// Round trips shared by the requests of one event-loop turn. Under load many requests are read from their sockets in
// the same turn; each one's lookup is queued, and once the turn's I/O callbacks have run (setImmediate) all of them
// go out as one message to Redis or one query to Postgres, and come back as one reply. Each caller still gets its
// own answer, from a read that began after its request arrived: batching changes how many round trips the lookups
// cost, not what they see. At low load a batch is a single lookup, sent in the same turn as before.

/** One answer per key, in the keys' order; an Error rejects that key's caller alone. */
export type BatchRunner<K, V> = (keys: K[]) => Promise<Array<V | Error>>;

export function batchPerTurn<K, V>(run: BatchRunner<K, V>): (key: K) => Promise<V> {
  let pending: Array<{ key: K; resolve: (value: V) => void; reject: (err: unknown) => void }> = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    run(batch.map((p) => p.key)).then(
      (results) => {
        batch.forEach((p, i) => {
          const result = results[i];
          if (i >= results.length) p.reject(new Error("the batch returned fewer answers than it was asked for"));
          else if (result instanceof Error) p.reject(result);
          else p.resolve(result as V);
        });
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  };
  return (key) =>
    new Promise<V>((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ key, resolve, reject });
    });
}
