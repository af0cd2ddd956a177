// The committed migrations, applied and diffed by prisma/tools/schema-engine.ts (Prisma's schema engine as wasm).
// Every database here is created by this file, with a random suffix, on the server DATABASE_URL names, and dropped at
// the end; the engine's shadow databases are dropped by the tool itself.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  deployMigrations,
  diffMigrationsToSchema,
  dropDatabase,
  isEmptyMigration,
  migrationsDir,
  schemaPath,
} from "../prisma/tools/schema-engine.ts";

const serverUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const databaseName = `migrations_test_${randomBytes(5).toString("hex")}`;
const databaseUrl = Object.assign(new URL(serverUrl), { pathname: `/${databaseName}` }).href;

// Deployed once, on first use, so each test can also run alone.
let firstDeploy: Promise<{ applied: string[] }> | undefined;
const deployed = () => (firstDeploy ??= deployMigrations(databaseUrl));

afterAll(async () => {
  if (firstDeploy) await dropDatabase(serverUrl, databaseName);
});

async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  await deployed();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return work(client).finally(() => client.end());
}

/** A workspace and a member, so audit rows have something to point at. */
async function seedClientAndUser(client: pg.Client) {
  const clientId = randomUUID();
  const userId = randomUUID();
  await client.query(`INSERT INTO "Client" (id, name) VALUES ($1, 'Acme')`, [clientId]);
  await client.query(`INSERT INTO "User" (id, email) VALUES ($1, $2)`, [userId, `${userId}@example.com`]);
  return { clientId, userId };
}

const insertAudit = (client: pg.Client, clientId: string, actorType: string, actorId: string | null) =>
  client.query(
    `INSERT INTO "InsightChatAuditEvent" (id, "clientId", "actorType", "actorId", action)
     VALUES ($1, $2, $3, $4, 'MESSAGE_CREATED') RETURNING id`,
    [randomUUID(), clientId, actorType, actorId],
  );

describe("schema migrations", () => {
  it("the committed migrations produce exactly the schema in schema.prisma", async () => {
    const drift = await diffMigrationsToSchema(serverUrl);
    expect(isEmptyMigration(drift), `run \`npm run db:migration:create -- <name>\`; drift:\n${drift}`).toBe(true);
  });

  it("a schema change without a migration is reported as drift", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "schema-drift-"));
    try {
      const original = await readFile(schemaPath, "utf8");
      const changed = original.replace(/model Client \{\r?\n/, "$&  driftProbe String?\n");
      expect(changed).not.toBe(original);
      await writeFile(path.join(dir, "schema.prisma"), changed);
      const drift = await diffMigrationsToSchema(serverUrl, { schemaPath: path.join(dir, "schema.prisma") });
      expect(isEmptyMigration(drift)).toBe(false);
      expect(drift).toMatch(/ALTER TABLE "Client" ADD COLUMN\s+"driftProbe" TEXT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("deploying twice applies nothing the second time and records migrations like Prisma does", async () => {
    const committed = (await readdir(migrationsDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(committed.length).toBeGreaterThan(0);
    expect((await deployed()).applied).toEqual(committed);
    expect((await deployMigrations(databaseUrl)).applied).toEqual([]);

    const { rows } = await withClient((c) =>
      c.query(`SELECT migration_name, checksum, finished_at, rolled_back_at, logs, applied_steps_count
               FROM _prisma_migrations ORDER BY migration_name`),
    );
    const expected = await Promise.all(
      committed.map(async (name) => {
        const sql = await readFile(path.join(migrationsDir, name, "migration.sql"));
        return { migration_name: name, checksum: createHash("sha256").update(sql).digest("hex") };
      }),
    );
    expect(rows.map(({ migration_name, checksum }) => ({ migration_name, checksum }))).toEqual(expected);
    for (const row of rows) {
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row).toMatchObject({ rolled_back_at: null, logs: null, applied_steps_count: 1 });
    }
  });

  it("the audit table refuses UPDATE, DELETE and TRUNCATE", async () => {
    await withClient(async (c) => {
      const { clientId, userId } = await seedClientAndUser(c);
      const { rows } = await insertAudit(c, clientId, "USER", userId);
      const id = rows[0].id as string;

      const refusal = "InsightChatAuditEvent is append-only";
      await expect(c.query(`UPDATE "InsightChatAuditEvent" SET details = '{"x":1}' WHERE id = $1`, [id])).rejects.toThrow(refusal);
      await expect(c.query(`DELETE FROM "InsightChatAuditEvent" WHERE id = $1`, [id])).rejects.toThrow(refusal);
      await expect(c.query(`TRUNCATE "InsightChatAuditEvent"`)).rejects.toThrow(refusal);

      const after = await c.query(`SELECT details FROM "InsightChatAuditEvent" WHERE id = $1`, [id]);
      expect(after.rows).toEqual([{ details: {} }]);
    });
  });

  it("an audit event without an actor is refused unless the actor is the system", async () => {
    await withClient(async (c) => {
      const { clientId } = await seedClientAndUser(c);
      await expect(insertAudit(c, clientId, "USER", null)).rejects.toThrow(/InsightChatAuditEvent_actor_check/);
      await expect(insertAudit(c, clientId, "SYSTEM", null)).resolves.toMatchObject({ rowCount: 1 });
    });
  });
});
