// Shared secrets on the wire (the metrics token on the API and on the worker's metrics port).
import { timingSafeEqual } from "node:crypto";

/** The token of an `Authorization: Bearer <token>` header, if that is what the header holds. */
export const bearerTokenIn = (authorization: string | undefined): string | undefined => /^Bearer (\S+)$/i.exec(authorization ?? "")?.[1];

/** Compares in constant time, so the answer's timing says nothing about how much of the secret was right. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
