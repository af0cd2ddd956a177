// `Idempotency-Key` on the POSTs that create things (sessions, messages, packs), as Stripe does it: the first
// request with a key claims it with one conditional INSERT, runs, and stores its status and body; a repeat by the
// same user with the same key and request within 24 hours gets that answer back and creates nothing (no row, no
// audit event, no job). The same key with another request is a 409.
//
// The claim is what makes concurrent repeats safe: of two identical requests sent at once exactly one inserts the
// row, and the other waits for its answer. A claim whose request died before storing an answer (a crashed process)
// is taken over after CLAIM_LEASE_MS; a request that failed deletes its claim, so the key can be retried.
import { createHash } from "node:crypto";
import type { Request, Response } from "express";
import { z } from "zod";
import type { Db } from "@insights/shared/db/client";
import { IDEMPOTENCY_KEY_TTL_MS } from "@insights/shared/retention";
import { AppError } from "./app-error.ts";

/** Far longer than any of these requests takes; a claim older than this without an answer was abandoned. */
const CLAIM_LEASE_MS = 60_000;
/** How long a repeat waits for the first request's answer before answering 409. */
const WAIT_FOR_FIRST_MS = 10_000;
const POLL_MS = 25;

/** The request header of the three idempotent POSTs, declared with each route. */
export const idempotencyHeaders = z.object({
  "Idempotency-Key": z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters")
    .optional()
    .describe("Repeats with this key and the same request within 24 hours get the first answer and create nothing"),
});

export interface IdempotentAnswer {
  status: number;
  body: unknown;
}

/**
 * Runs `create` at most once per (caller, Idempotency-Key) and returns its answer, or the stored answer of an
 * earlier identical request (marked `Idempotent-Replayed: true`). `input` is the parsed body; the path is part of
 * "the same request" too.
 */
export async function idempotent<A extends IdempotentAnswer>(
  db: Db,
  ctx: { req: Request; res: Response; key: string | undefined },
  scope: { workspaceId: string; userId: string; input: unknown },
  create: () => Promise<A>,
): Promise<A> {
  const { req, res, key } = ctx;
  if (key === undefined) return create();
  const fingerprint = fingerprintOf(req.method, req.originalUrl.split("?")[0]!, scope.input);
  const claim = { userId: scope.userId, key, clientId: scope.workspaceId, fingerprint };

  const deadline = Date.now() + WAIT_FOR_FIRST_MS;
  for (;;) {
    const claimedAt = await tryClaim(db, claim);
    if (claimedAt) return runClaimed(db, claim, claimedAt, create);

    const row = await db.idempotencyKey.findUnique({ where: { userId_key: { userId: claim.userId, key } } });
    if (row && row.fingerprint !== fingerprint) {
      throw new AppError("CONFLICT", "this Idempotency-Key was already used with another request; use a new key");
    }
    if (row?.responseStatus != null && row.responseBody != null) {
      res.setHeader("Idempotent-Replayed", "true");
      // Parsed from the JSON text the first answer sent; sent again, it serializes to the same bytes.
      return { status: row.responseStatus, body: JSON.parse(row.responseBody) } as A;
    }
    // Still running elsewhere (or its claim just vanished: that request failed, and the next pass claims it anew).
    if (Date.now() > deadline) {
      throw new AppError("CONFLICT", "a request with this Idempotency-Key is still in progress; retry shortly");
    }
    if (row) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

interface Claim {
  userId: string;
  key: string;
  clientId: string;
  fingerprint: string;
}

/**
 * One statement, so exactly one of any number of concurrent requests gets the row: a new key, or one whose earlier
 * use expired (24 h) or was abandoned without an answer. Returns the claim's time, or null when another holds it.
 * Times travel as ISO strings cast to timestamp(3), the UTC form Prisma stores, whatever the server's time zone.
 */
async function tryClaim(db: Db, claim: Claim): Promise<Date | null> {
  const now = new Date();
  const expired = new Date(now.getTime() - IDEMPOTENCY_KEY_TTL_MS).toISOString();
  const abandoned = new Date(now.getTime() - CLAIM_LEASE_MS).toISOString();
  const rows = await db.$queryRaw<Array<{ createdAt: Date }>>`
    INSERT INTO "IdempotencyKey" ("userId", "key", "clientId", "fingerprint", "createdAt")
    VALUES (${claim.userId}, ${claim.key}, ${claim.clientId}, ${claim.fingerprint}, ${now.toISOString()}::timestamp(3))
    ON CONFLICT ("userId", "key") DO UPDATE SET
      "clientId" = EXCLUDED."clientId",
      "fingerprint" = EXCLUDED."fingerprint",
      "createdAt" = EXCLUDED."createdAt",
      "responseStatus" = NULL,
      "responseBody" = NULL,
      "completedAt" = NULL
    WHERE "IdempotencyKey"."createdAt" < ${expired}::timestamp(3)
       OR ("IdempotencyKey"."completedAt" IS NULL AND "IdempotencyKey"."createdAt" < ${abandoned}::timestamp(3))
    RETURNING "createdAt"`;
  return rows[0]?.createdAt ?? null;
}

async function runClaimed<A extends IdempotentAnswer>(db: Db, claim: Claim, claimedAt: Date, create: () => Promise<A>): Promise<A> {
  // The claim is ours while its createdAt is the one we wrote; a takeover after the lease rewrites it.
  const ours = { userId: claim.userId, key: claim.key, createdAt: claimedAt };
  let answer: A;
  try {
    answer = await create();
  } catch (err) {
    // Nothing was created (each route's change is one transaction): free the key for a retry.
    await db.idempotencyKey.deleteMany({ where: { ...ours, completedAt: null } }).catch(() => undefined);
    throw err;
  }
  // Stored as the JSON text the client receives (jsonb would reorder its keys), so a replay sends the same bytes.
  await db.idempotencyKey.updateMany({
    where: ours,
    data: { responseStatus: answer.status, responseBody: JSON.stringify(answer.body), completedAt: new Date() },
  });
  return answer;
}

/** The same request, however its JSON was written: keys sorted at every level. */
function fingerprintOf(method: string, path: string, input: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify([method, path, sorted(input)]))
    .digest("hex");
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sorted(v)]),
    );
  }
  return value;
}
