// Per-user request budgets, shared by every API process through Redis. Each user has two fixed windows, one for
// reads and one for writes (writes cost the database and the queues far more, so their budget is smaller). A window
// opens with the user's first request in it, so users' windows do not all reset at the same instant.
// Without Redis the budgets cannot be shared: requests are served (fail open) and a warning is logged, because a
// limiter outage must not take the API down with it.
import type { RequestHandler } from "express";
import type { Redis } from "ioredis";
import type { Logger } from "@insights/shared/logger";
import { redisScript } from "@insights/shared/redis-script";
import { withTimeout } from "@insights/shared/timeout";
import { AppError } from "./app-error.ts";
import { batchPerTurn } from "./batch-per-turn.ts";

export interface RateLimitOptions {
  redis: Redis;
  /** The deployment's QUEUE_PREFIX; the counters live under it. */
  prefix: string;
  /** Reads (GET, HEAD, OPTIONS) one user may make per window; 0 turns the read budget off. */
  readsPerWindow: number;
  /** Writes (POST, PUT, PATCH, DELETE) one user may make per window; 0 turns the write budget off. */
  writesPerWindow: number;
  /** Length of a window; one minute unless a test shortens it. */
  windowMs?: number;
}

export const RATE_LIMIT_WINDOW_MS = 60_000;

// KEYS: one user's counter for one kind, per request counted (a key may repeat: two requests of one user). ARGV[1]:
// the window (ms). Returns {requests so far, ms until the window closes} for each key in turn, flattened. One script,
// so counting and opening the window are one step for every API process; one call counts every request an API
// process read in one event-loop turn. A key left without an expiry (PTTL -1) gets one, so no counter can outlive
// its window forever. All keys live under the queue prefix (one slot when it is hash-tagged, as Redis Cluster needs).
const COUNT_REQUESTS = redisScript(`
local replies = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  replies[2 * i - 1] = count
  replies[2 * i] = ttl
end
return replies`);

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** A Redis that answers slower than this counts as down: the request goes ahead rather than wait. */
const REDIS_TIMEOUT_MS = 250;
/** One warning per outage-minute is enough; one per request would flood the log while Redis is down. */
const WARN_INTERVAL_MS = 60_000;

/** Runs after `authenticate`: the budget is the caller's, whichever workspace they call. */
export function rateLimitPerUser(options: RateLimitOptions, logger: Logger): RequestHandler {
  const windowMs = options.windowMs ?? RATE_LIMIT_WINDOW_MS;
  let lastWarnedAt = 0;
  // The requests of one event-loop turn are counted by one script call: each still counted on its own, in one
  // write and one reply instead of a round trip each (batch-per-turn.ts).
  const countInRedis = batchPerTurn<string, [number, number]>(async (keys) => {
    const reply = (await withTimeout(
      COUNT_REQUESTS.run(options.redis, keys, [windowMs]),
      REDIS_TIMEOUT_MS,
      `redis did not answer in ${REDIS_TIMEOUT_MS} ms`,
    )) as number[];
    return keys.map((_key, i): [number, number] => [Number(reply[2 * i]), Number(reply[2 * i + 1])]);
  });

  return async (req, res, next) => {
    const kind = READ_METHODS.has(req.method) ? "read" : "write";
    const limit = kind === "read" ? options.readsPerWindow : options.writesPerWindow;
    // Budgets are the members'. The host's backend (service token) is not limited: it provisions and ingests in
    // bursts, and it holds the secret that signs user tokens, so a budget could not bind it anyway.
    if (limit <= 0 || !req.userId) return next();

    let count: number;
    let resetMs: number;
    try {
      [count, resetMs] = await countRequest(options, countInRedis, `${options.prefix}:rate:${kind}:${req.userId}`);
    } catch (err) {
      if (Date.now() - lastWarnedAt >= WARN_INTERVAL_MS) {
        lastWarnedAt = Date.now();
        logger.warn({ err }, "rate limiter unavailable (Redis); serving requests without per-user limits");
      }
      return next();
    }

    const resetSeconds = Math.max(1, Math.ceil(resetMs / 1000));
    res.setHeader("RateLimit-Limit", String(limit));
    res.setHeader("RateLimit-Remaining", String(Math.max(0, limit - count)));
    res.setHeader("RateLimit-Reset", String(resetSeconds));
    if (count > limit) {
      res.setHeader("Retry-After", String(resetSeconds));
      throw new AppError("RATE_LIMITED", `more than ${limit} ${kind}s in ${windowMs / 1000}s; retry in ${resetSeconds}s`, {
        retryAfterSeconds: resetSeconds,
      });
    }
    next();
  };
}

async function countRequest(
  options: RateLimitOptions,
  countInRedis: (key: string) => Promise<[number, number]>,
  key: string,
): Promise<[number, number]> {
  // A client that is not connected would queue the command (or, fail-fast, refuse it): either way, don't wait.
  if (options.redis.status !== "ready") throw new Error(`redis is ${options.redis.status}`);
  return countInRedis(key);
}
