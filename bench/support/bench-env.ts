// One benchmark run's private world: its own database (created, migrated, dropped) and its own BullMQ prefix on the
// shared Redis (only its keys are deleted). The API is the real app, in this process, on a loopback port.
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApi, type ApiSettings } from "@insights/api/app";
import { signToken } from "@insights/api/auth/jwt";
import { seedWorkspace, type SeededWorkspace } from "@insights/api/cli/seed";
import { createDb, type Db } from "@insights/shared/db/client";
import { DEFAULT_MODEL_POLICY } from "@insights/shared/llm-models";
import { createLogger } from "@insights/shared/logger";
import { createRedis } from "@insights/shared/redis";
import { dropDatabase, deployMigrations } from "../../prisma/tools/schema-engine.ts";
import { deleteKeys } from "../../tests/support/redis-keys.ts";

export const BENCH_JWT_SECRET = "bench-only-secret-0123456789abcdef0123456789";
const LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres";
const LOCAL_REDIS = "redis://127.0.0.1:6379";

export interface BenchEnv {
  runId: string;
  databaseUrl: string;
  redisUrl: string;
  /** This run's BullMQ prefix; every queue the run makes lives under it. */
  prefix: string;
  db: Db;
  close(): Promise<void>;
}

export async function createBenchEnv(): Promise<BenchEnv> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const serverUrl = process.env.DATABASE_URL ?? LOCAL_POSTGRES;
  const databaseName = `insights_bench_${runId}`;
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  const databaseUrl = url.toString();
  const redisUrl = process.env.REDIS_URL ?? LOCAL_REDIS;
  const prefix = `insights-bench-${runId}`;
  await deployMigrations(databaseUrl);
  const db = createDb(databaseUrl, { maxConnections: 20 });
  return {
    runId,
    databaseUrl,
    redisUrl,
    prefix,
    db,
    async close() {
      await db.$disconnect();
      await dropDatabase(serverUrl, databaseName);
      await deleteKeys(redisUrl, `${prefix}*`);
    },
  };
}

export interface BenchApi {
  baseUrl: string;
  close(): Promise<void>;
}

/** The API's settings in every benchmark: as in production, with budgets no benchmark reaches. */
export function benchApiSettings(jwtSecret: string): ApiSettings {
  return {
    jwtSecret,
    opsAdmins: [],
    sessionRetentionDays: 30,
    models: DEFAULT_MODEL_POLICY,
    webhooks: { secrets: null, allowPrivate: false },
    // The rate limiter stays on: its Redis round trip is part of every request.
    rateLimit: { readsPerWindow: 1_000_000_000, writesPerWindow: 1_000_000_000 },
  };
}

/** The real Express app on this run's database and a given queue prefix, listening on a loopback port. */
export async function startApi(env: BenchEnv, prefix = env.prefix): Promise<BenchApi> {
  const logger = createLogger("bench-api", "silent");
  const redis = createRedis(env.redisUrl, { role: "bench-api", failFast: true });
  await new Promise((resolve) => redis.once("ready", resolve));
  const api = createApi({ db: env.db, redis, redisUrl: env.redisUrl, prefix, logger }, benchApiSettings(BENCH_JWT_SECRET));
  const server: Server = await new Promise((resolve) => {
    const s = api.app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await api.liveHub.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await api.close();
      await redis.quit();
    },
  };
}

export interface BenchWorkspace extends SeededWorkspace {
  /** `/v1/workspaces/:id` */
  base: string;
  tokens: { owner: string; member: string };
}

/** A workspace with `leads` leads, ingested through the same service the ingestion route calls. */
export async function seedBenchWorkspace(env: BenchEnv, leads: number): Promise<BenchWorkspace> {
  const seeded = await seedWorkspace(env.db, { leads });
  return {
    ...seeded,
    base: `/v1/workspaces/${seeded.workspaceId}`,
    tokens: {
      owner: await signToken(BENCH_JWT_SECRET, seeded.users.owner.id),
      member: await signToken(BENCH_JWT_SECRET, seeded.users.member.id),
    },
  };
}
