import { Redis } from "ioredis";

/**
 * A Redis connection for BullMQ and the service's own keys.
 * - Workers need `maxRetriesPerRequest: null`: blocking commands must wait out a reconnect instead of failing.
 * - Producers in a request path pass `failFast`: with Redis down a command fails at once (the API answers 503)
 *   instead of queueing in memory until the client times out.
 */
export function createRedis(url: string, options: { role: string; failFast?: boolean }): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: options.failFast ? 1 : null,
    enableOfflineQueue: !options.failFast,
    connectionName: `insights-${options.role}`,
  });
}
