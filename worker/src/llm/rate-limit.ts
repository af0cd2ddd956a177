// A deployment-wide LLM request rate, shared by every worker through Redis. Each request takes the next free
// start time (GCRA-style spacing): under load, calls start evenly every 60000/RPM ms across all workers instead of
// bursting into the provider's 429s. Without Redis the limit cannot be shared, so calls go ahead (and the provider's
// own 429s, which are retried with its retry-after, remain the backstop).
import type { Redis } from "ioredis";
import type { Logger } from "@insights/shared/logger";

// KEYS[1]: the next free start (ms). ARGV: now, spacing. Returns how long this caller must wait.
const TAKE_SLOT = `
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local start = math.max(now, next_free)
redis.call('SET', KEYS[1], start + tonumber(ARGV[2]), 'PX', math.max(1000, start + tonumber(ARGV[2]) - now))
return start - now`;

export interface RateLimiter {
  /** Resolves when this call may start; rejects if the signal aborts while it waits. */
  acquire(signal: AbortSignal): Promise<void>;
}

export const unlimited: RateLimiter = { acquire: async () => {} };

export function createRedisRateLimiter(options: {
  redis: Redis;
  prefix: string;
  requestsPerMinute: number;
  logger: Logger;
}): RateLimiter {
  const spacingMs = 60_000 / options.requestsPerMinute;
  const key = `${options.prefix}:llm-rate`;
  return {
    async acquire(signal) {
      let waitMs: number;
      try {
        waitMs = Number(await options.redis.eval(TAKE_SLOT, 1, key, Date.now(), spacingMs));
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
