// "The database is not there", told apart from every other error: the API answers it with 503, and the worker
// keeps a job through it instead of spending the job's attempts on an outage.
import { withTimeout } from "../timeout.ts";
import type { Db } from "./client.ts";

// Prisma's codes for "the database is not there" (unreachable, timed out, connection closed, pool exhausted, an
// interactive transaction that could not start or finish in time), the driver adapter's error kinds for the same,
// and the socket errors under them.
const UNAVAILABLE_PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2028"]);
const UNAVAILABLE_ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const UNAVAILABLE_SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "57P01", "57P03"]);

type MaybeDbError = {
  code?: unknown;
  kind?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown } } };
};

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as MaybeDbError | undefined, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    if (typeof e.code === "string" && (UNAVAILABLE_PRISMA_CODES.has(e.code) || UNAVAILABLE_SOCKET_CODES.has(e.code))) {
      return true;
    }
    const kind = e.meta?.driverAdapterError?.cause?.kind ?? e.kind;
    if (typeof kind === "string" && UNAVAILABLE_ADAPTER_KINDS.has(kind)) return true;
    e = e.cause as MaybeDbError | undefined;
  }
  return false;
}

const PROBE_TIMEOUT_MS = 3_000;

/**
 * Did this error come from an outage? Either the error says so, or the database does not answer right now (an
 * outage can surface as some other error: a write refused half-way, a connection dropped mid-statement).
 */
export async function failedFromOutage(db: Db, err: unknown): Promise<boolean> {
  if (isDatabaseUnavailable(err)) return true;
  try {
    await withTimeout(db.$queryRaw`SELECT 1`, PROBE_TIMEOUT_MS, "probe timed out");
    return false;
  } catch {
    return true;
  }
}
