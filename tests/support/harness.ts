// Builds the real app on this run's database, plus seeded workspaces with a token per role.
import type { AddressInfo } from "node:net";
import request from "supertest";
import { inject } from "vitest";
import { createDb, type Db, type Tx } from "@insights/shared/db/client";
import type { ModelPolicy } from "@insights/shared/llm-models";
import { createSecretBox, type WebhookSettings } from "@insights/shared/webhooks/secret-box";
import { createLogger, type Logger } from "@insights/shared/logger";
import { resolveWindow, scopeHashOf, scopeKeyOf } from "@insights/shared/scope/scope";
import type { JobQueues } from "@insights/shared/jobs/job-queues";
import type { SessionEventLog } from "@insights/shared/live/session-events";
import { createRedis } from "@insights/shared/redis";
import type { LiveHub, LiveLimits } from "@insights/api/live/live-hub";
import { createApi, type Api } from "@insights/api/app";
import type { RateLimitOptions } from "@insights/api/http/rate-limit";
import { signToken } from "@insights/api/auth/jwt";
import { seedWorkspace, type SeededWorkspace } from "@insights/api/cli/seed";

/** The one operator the tests' apps let into Bull Board (a user with this email is created on demand). */
export const OPS_ADMIN_EMAIL = "ops@example.test";

export const TEST_JWT_SECRET = "test-only-secret-0123456789abcdef0123456789";

/** The test deployment's WEBHOOK_SECRET_KEY and WEBHOOK_ALLOW_PRIVATE (receivers in tests listen on loopback). */
export const TEST_WEBHOOKS: WebhookSettings = { secrets: createSecretBox(Buffer.alloc(32, 7)), allowPrivate: true };

/** The test deployment's LLM_MODEL and LLM_ALLOWED_MODELS, shared by the tests' API apps and workers. */
export const TEST_MODELS: ModelPolicy = {
  defaultModel: "gpt-5-mini",
  allowedModels: ["gpt-5-mini", "gpt-answer-test", "gpt-test-large"],
};

export type Role = "owner" | "admin" | "member" | "outsider";

export interface TestWorkspace extends SeededWorkspace {
  tokens: Record<Role, string>;
  /** `/v1/workspaces/:id` */
  base: string;
}

export interface Harness {
  db: Db;
  /** This harness's own BullMQ prefix, under the run's: test files running in parallel never share jobs. */
  prefix: string;
  queues: JobQueues;
  /** The live session event log the app publishes to (for handlers a test runs in-process). */
  liveLog: SessionEventLog;
  /** The app's open event streams. */
  liveHub: LiveHub;
  app: Api["app"];
  /** supertest bound to one listening server (one port for the whole file, not one per request). */
  http: ReturnType<typeof request>;
  /** `http://127.0.0.1:<port>` of that server, for clients supertest cannot play (event streams). */
  baseUrl: () => string;
  seed: (options?: { leads?: number }) => Promise<TestWorkspace>;
  close: () => Promise<void>;
}

export interface HarnessOptions {
  /** Per-user rate limits; by default far above anything a test sends, so only their own tests meet them. */
  rateLimit?: Partial<RateLimitOptions>;
  /** The app's logger; silent by default. */
  logger?: Logger;
  /** Another PostgreSQL or Redis than the run's shared ones (the outage tests run their own). */
  databaseUrl?: string;
  redisUrl?: string;
  /** When set, GET /metrics requires it as a bearer token. */
  metricsToken?: string;
  /** Live event stream limits (keep-alive interval, per-user cap, ...). */
  live?: Partial<LiveLimits>;
  /** LLM_MODEL and LLM_ALLOWED_MODELS; TEST_MODELS by default. */
  models?: ModelPolicy;
  /** TEST_WEBHOOKS by default. */
  webhooks?: WebhookSettings;
}

export function createHarness(options: HarnessOptions = {}): Harness {
  const db = createDb(options.databaseUrl ?? inject("databaseUrl"), { maxConnections: 5 });
  const logger = options.logger ?? createLogger("api-test", "silent");
  const redis = createRedis(options.redisUrl ?? inject("redisUrl"), { role: "api-test", failFast: true });
  redis.on("error", () => undefined); // outage tests stop Redis on purpose; readiness reports it
  const prefix = `${inject("queuePrefix")}-${Math.random().toString(36).slice(2, 8)}`;
  const redisUrl = options.redisUrl ?? inject("redisUrl");
  const api = createApi(
    { db, redis, redisUrl, prefix, logger },
    {
      jwtSecret: TEST_JWT_SECRET,
      opsAdmins: [OPS_ADMIN_EMAIL],
      sessionRetentionDays: 30,
      models: options.models ?? TEST_MODELS,
      webhooks: options.webhooks ?? TEST_WEBHOOKS,
      metricsToken: options.metricsToken,
      rateLimit: { readsPerWindow: 100_000, writesPerWindow: 100_000, ...options.rateLimit },
      // Event streams end after a moment unless a test asks for longer: suites that send one request per route
      // (permissions, fuzzing, isolation) then get whole responses from the stream route too.
      live: { maxStreamMs: 50, ...options.live },
    },
  );
  const { app, queues } = api;
  const server = app.listen(0, "127.0.0.1");
  return {
    db,
    prefix,
    queues,
    liveLog: api.liveLog,
    liveHub: api.liveHub,
    app,
    http: request(server),
    baseUrl: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seed: async (options = {}) => {
      // failFast Redis refuses commands until connected; the first test must not race the connection.
      if (redis.status !== "ready") await new Promise((resolve) => redis.once("ready", resolve));
      const seeded = await seedWorkspace(db, { leads: options.leads ?? 0 });
      const tokens = {} as Record<Role, string>;
      for (const role of ["owner", "admin", "member", "outsider"] as const) {
        tokens[role] = await signToken(TEST_JWT_SECRET, seeded.users[role].id);
      }
      return { ...seeded, tokens, base: `/v1/workspaces/${seeded.workspaceId}` };
    },
    close: async () => {
      await api.liveHub.close();
      await new Promise((resolve) => server.close(resolve));
      await api.close();
      await Promise.all([db.$disconnect(), redis.quit()]);
    },
  };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A member opens a session and asks for a pack over the last 90 days, as the web client does: both ids. */
export async function requestPackInNewSession(h: Harness, ws: TestWorkspace): Promise<{ sessionId: string; packId: string }> {
  const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  const pack = await h.http
    .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
    .set(bearer(ws.tokens.member))
    .send({ window: { preset: "LAST_90_DAYS" } });
  if (pack.status !== 202) throw new Error(`the pack request answered ${pack.status}: ${JSON.stringify(pack.body)}`);
  return { sessionId: session.body.id as string, packId: pack.body.id as string };
}

/** A token of the one operator the tests' apps let into Bull Board (the user is created on first use). */
export async function signOpsToken(h: Harness): Promise<string> {
  const ops = await h.db.user.upsert({ where: { email: OPS_ADMIN_EMAIL }, update: {}, create: { email: OPS_ADMIN_EMAIL } });
  return signToken(TEST_JWT_SECRET, ops.id);
}

/**
 * A PENDING pack row over the last 90 days, exactly as the API commits it but with no job: for tests that play the
 * part of a crashed API or of the workers themselves. `at` backdates it; `db` may be a transaction.
 */
export async function insertPendingPack(h: Harness, ws: TestWorkspace, sessionId: string, at = new Date(), db: Tx = h.db) {
  const { from, to } = resolveWindow({ preset: "LAST_90_DAYS" }, at);
  const scope = { window: { preset: "LAST_90_DAYS" as const }, campaignIds: [], campaignCap: 10 };
  return db.insightContextPack.create({
    data: {
      clientId: ws.workspaceId,
      sessionId,
      scopeKey: scopeKeyOf(scope),
      scopeHash: scopeHashOf(scopeKeyOf(scope)),
      windowPreset: scope.window.preset,
      windowFrom: from,
      windowTo: to,
      campaignIds: scope.campaignIds,
      campaignCap: scope.campaignCap,
      requestedById: ws.users.member.id,
      createdAt: at,
      updatedAt: at,
    },
  });
}
