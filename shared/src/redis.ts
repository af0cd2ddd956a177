import { Redis } from "ioredis";

/**
 * A Redis connection for BullMQ and the service's own keys. `maxRetriesPerRequest: null` is what BullMQ workers
 * require (blocking commands must wait out a reconnect instead of failing).
 */
export function createRedis(url: string, options: { role: string }): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: `insights:${options.role}` });
}
