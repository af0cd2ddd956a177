// Builds the real app on this run's database, plus seeded workspaces with a token per role.
import request from "supertest";
import { inject } from "vitest";
import { createDb, type Db } from "@insights/shared/db/client";
import { createLogger } from "@insights/shared/logger";
import { createApp } from "@insights/api/app";
import { signToken } from "@insights/api/auth/jwt";
import { seedWorkspace, type SeededWorkspace } from "@insights/api/cli/seed";

export const TEST_JWT_SECRET = "test-only-secret-0123456789abcdef0123456789";

export type Role = "owner" | "admin" | "member" | "outsider";

export interface TestWorkspace extends SeededWorkspace {
  tokens: Record<Role, string>;
  /** `/v1/workspaces/:id` */
  base: string;
}

export interface Harness {
  db: Db;
  app: ReturnType<typeof createApp>;
  /** supertest bound to one listening server (one port for the whole file, not one per request). */
  http: ReturnType<typeof request>;
  seed: (options?: { leads?: number }) => Promise<TestWorkspace>;
  close: () => Promise<void>;
}

export function createHarness(): Harness {
  const db = createDb(inject("databaseUrl"), { maxConnections: 5 });
  const app = createApp({
    db,
    logger: createLogger("api-test", "silent"),
    jwtSecret: TEST_JWT_SECRET,
    readiness: { postgres: () => db.$queryRaw`SELECT 1` },
  });
  const server = app.listen(0, "127.0.0.1");
  return {
    db,
    app,
    http: request(server),
    seed: async (options = {}) => {
      const seeded = await seedWorkspace(db, { leads: options.leads ?? 0 });
      const tokens = {} as Record<Role, string>;
      for (const role of ["owner", "admin", "member", "outsider"] as const) {
        tokens[role] = await signToken(TEST_JWT_SECRET, seeded.users[role].id);
      }
      return { ...seeded, tokens, base: `/v1/workspaces/${seeded.workspaceId}` };
    },
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await db.$disconnect();
    },
  };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
