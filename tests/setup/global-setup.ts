// One database and one BullMQ prefix per test run, created here and removed at the end. Shared Redis is never
// flushed: only keys under this run's prefix are deleted.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { TestProject } from "vitest/node";
import { deployMigrations, dropDatabase } from "../../prisma/tools/schema-engine.ts";
import { startTestServices } from "./services.ts";
import { deleteKeys } from "../support/redis-keys.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    queuePrefix: string;
  }
}

export default async function setup(project: TestProject) {
  const services = await startTestServices();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const databaseName = `insights_test_${runId}`;
  const databaseUrl = withDatabase(services.postgresUrl, databaseName);
  const queuePrefix = `insights-test-${runId}`;

  await assertRedisAnswers(services.redisUrl);
  await deployMigrations(databaseUrl).catch((err: unknown) => {
    throw new Error(
      `tests need PostgreSQL at ${redact(services.postgresUrl)} (${firstLine(err)}): start it (see README, "Test it") or set DATABASE_URL`,
    );
  });
  project.provide("databaseUrl", databaseUrl);
  project.provide("redisUrl", services.redisUrl);
  project.provide("queuePrefix", queuePrefix);

  return async () => {
    await dropDatabase(services.postgresUrl, databaseName);
    await deleteKeys(services.redisUrl, `${queuePrefix}*`);
    await services.stop();
  };
}

async function assertRedisAnswers(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`tests need Redis at ${redact(url)} (${firstLine(err)}): start it (see README, "Test it") or set REDIS_URL`);
  } finally {
    redis.disconnect();
  }
}

const firstLine = (err: unknown) => String(err instanceof Error ? err.message : err).split("\n")[0];
const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]+@/, "//$1:***@");

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
