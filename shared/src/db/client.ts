import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";

export type Db = PrismaClient;
/** The client handed to a `$transaction` callback. */
export type Tx = Omit<PrismaClient, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;

export function createDb(databaseUrl: string, options: { maxConnections?: number } = {}): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.maxConnections ?? 10 });
  // Writes to a session run in short interactive transactions under its row lock. Prisma's defaults (2 s to get a
  // connection, 5 s to run) turn a busy pool or a lock held a moment longer into errors; these wait a little longer,
  // and what still times out is answered as "unavailable, retry" (shared/src/db/unavailable.ts), never a 500.
  return new PrismaClient({ adapter, transactionOptions: { maxWait: 10_000, timeout: 15_000 } });
}

export * from "./generated/client.ts";
