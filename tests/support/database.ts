// A database of its own for a test file whose workers reconcile with a short grace period: a reconciler acts on
// every unfinished row in its database, so sharing the run's database would let it pick up other files' work.
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { deployMigrations, dropDatabase } from "../../prisma/tools/schema-engine.ts";

export async function createIsolatedDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const shared = new URL(inject("databaseUrl"));
  const name = `${shared.pathname.slice(1)}_${randomBytes(3).toString("hex")}`;
  const url = new URL(shared);
  url.pathname = `/${name}`;
  await deployMigrations(url.toString());
  return { url: url.toString(), drop: () => dropDatabase(url.toString(), name) };
}
