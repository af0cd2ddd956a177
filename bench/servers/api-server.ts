// The real API app in a process of its own, on the benchmark's database and queue prefix (from the environment),
// for the polling figure: the same shape of process as the hello-world it is compared with.
import type { AddressInfo } from "node:net";
import { createApi } from "@insights/api/app";
import { createDb } from "@insights/shared/db/client";
import { createLogger } from "@insights/shared/logger";
import { createRedis } from "@insights/shared/redis";
import { benchApiSettings } from "../support/bench-env.ts";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const [DATABASE_URL, REDIS_URL, QUEUE_PREFIX, AUTH_JWT_SECRET] = ["DATABASE_URL", "REDIS_URL", "QUEUE_PREFIX", "AUTH_JWT_SECRET"].map(
  env,
) as [string, string, string, string];
const logger = createLogger("bench-api", "silent");
// The pool size api/src/main.ts gets by default.
const db = createDb(DATABASE_URL);
const redis = createRedis(REDIS_URL, { role: "bench-api", failFast: true });
await new Promise((resolve) => redis.once("ready", resolve));
const { app } = createApi(
  { db, redis, redisUrl: REDIS_URL, prefix: QUEUE_PREFIX, logger },
  { ...benchApiSettings(AUTH_JWT_SECRET), live: { maxStreamsPerUser: Number(process.env.LIVE_MAX_STREAMS_PER_USER ?? 10) } },
);
const server = app.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on("disconnect", () => process.exit(0));
// The live figure asks for this process's memory, measured after a full GC (NODE_OPTIONS=--expose-gc).
process.on("message", (message) => {
  if (message !== "memory") return;
  (globalThis as { gc?: () => void }).gc?.();
  process.send!({ memory: process.memoryUsage() });
});
