// Where the tests' PostgreSQL and Redis come from: containers where a container runtime exists, otherwise the
// servers named by DATABASE_URL / REDIS_URL (or this machine's loopback defaults). Either way each run gets its own
// database and queue prefix, so runs never see each other's data.

export interface TestServices {
  /** A URL of the PostgreSQL server (any database); the run creates its own database on it. */
  postgresUrl: string;
  redisUrl: string;
  stop: () => Promise<void>;
}

const LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres";
const LOCAL_REDIS = "redis://127.0.0.1:6379";

export async function startTestServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  const mode = env.TEST_SERVICES ?? "auto"; // auto | containers | local
  if (mode !== "local" && (await containerRuntimeAvailable())) return startContainers();
  if (mode === "containers") throw new Error("TEST_SERVICES=containers but no container runtime answers");
  return {
    postgresUrl: env.DATABASE_URL ?? LOCAL_POSTGRES,
    redisUrl: env.REDIS_URL ?? LOCAL_REDIS,
    stop: async () => {},
  };
}

async function containerRuntimeAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(): Promise<TestServices> {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const { RedisContainer } = await import("@testcontainers/redis");
  const [postgres, redis] = await Promise.all([
    new PostgreSqlContainer("postgres:15-alpine").start(),
    new RedisContainer("redis:7-alpine").start(),
  ]);
  return {
    postgresUrl: postgres.getConnectionUri(),
    redisUrl: redis.getConnectionUrl(),
    stop: async () => {
      await Promise.all([postgres.stop(), redis.stop()]);
    },
  };
}
