// A Lua script run by its digest. EVAL sends the script's text on every call, and Redis hashes it every time; EVALSHA
// sends 40 characters. A server that does not know the script yet (new, restarted, its cache flushed, a failover to a
// replica that never saw it) answers NOSCRIPT, and only then is the text sent, which also caches it there.
//
// ioredis' own `defineCommand` does the same, but it adds a method to a connection at run time (untyped, and on
// connections that other modules share); a script here is a value that takes whichever connection it is given.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export interface RedisScript {
  run(redis: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown>;
}

export function redisScript(source: string): RedisScript {
  const sha1 = createHash("sha1").update(source).digest("hex");
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha1, keys.length, ...keys, ...args);
      } catch (err) {
        if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
        return await redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
