// A deployment-wide LLM request rate, shared by every worker through Redis. Each request takes the next free
// start time (GCRA-style spacing): under load, calls start evenly every 60000/RPM ms across all workers instead of
// bursting into the provider's 429s. Without Redis the limit cannot be shared, so calls go ahead (and the provider's
// own 429s, which are retried with its retry-after, remain the backstop).
import type { Redis } from "ioredis";
import type { Logger } from "@insights/shared/logger";
import { redisScript } from "@insights/shared/redis-script";

//
// Replies go first: they have a lane of their own (KEYS[2]), spaced only among themselves, so a reply never waits
// behind the pack work already booked; each reply moves the pack lane's next free start one spacing later, so the
// two lanes together still keep to the rate (give or take the pack slots already granted when a reply arrives).
// KEYS[1]: the pack lane's next free start (ms), KEYS[2]: the reply lane's. ARGV: now, spacing, lane. Returns how
// long this caller must wait.
const TAKE_SLOT = redisScript(`
local now = tonumber(ARGV[1])
local spacing = tonumber(ARGV[2])
local function book(key, at)
  redis.call('SET', key, at, 'PX', math.max(1000, at - now))
end
local packs_next = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[3] == 'reply' then
  local start = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
  book(KEYS[2], start + spacing)
  book(KEYS[1], math.max(now, packs_next) + spacing)
  return start - now
end
local start = math.max(now, packs_next)
book(KEYS[1], start + spacing)
return start - now`);

/** Replies take the rate's slots ahead of pack work (extraction and synthesis). */
export type RateLane = "packs" | "reply";

export interface RateLimiter {
  /** Resolves when this call may start; rejects if the signal aborts while it waits. */
  acquire(signal: AbortSignal, lane?: RateLane): Promise<void>;
}

export const unlimited: RateLimiter = { acquire: async () => {} };

export function createRedisRateLimiter(options: { redis: Redis; prefix: string; requestsPerMinute: number; logger: Logger }): RateLimiter {
  const spacingMs = 60_000 / options.requestsPerMinute;
  // Both keys under the queue prefix: with a hash-tagged prefix ({insights}) they share one Redis Cluster slot.
  const keys = [`${options.prefix}:llm-rate`, `${options.prefix}:llm-rate-replies`];
  return {
    async acquire(signal, lane = "packs") {
      let waitMs: number;
      try {
        waitMs = Number(await TAKE_SLOT.run(options.redis, keys, [Date.now(), spacingMs, lane]));
      } catch (err) {
        options.logger.warn({ err }, "LLM rate limiter unavailable; calling without it");
        return;
      }
      if (waitMs > 0) await abortableSleep(waitMs, signal);
    },
  };
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
