// Bearer tokens are issued by the host application: HS256 over AUTH_JWT_SECRET.
//
// Two kinds, told apart by the audience claim alone: a service token carries `aud: SERVICE_AUDIENCE` (and nothing
// else does), a user token (`sub` = user id) must not carry it. So a user token can never pass as a service token,
// and a service token can never pass as a user, whatever its `sub` says.
import { SignJWT, jwtVerify, type JWTPayload } from "jose";

const ALGORITHM = "HS256";
const SERVICE_AUDIENCE = "insights:service";

export type Principal = { kind: "user"; userId: string } | { kind: "service"; name: string };

const keyOf = (secret: string) => new TextEncoder().encode(secret);

const signed = (claims: JWTPayload, subject: string, ttlSeconds: number, secret: string) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(keyOf(secret));

export async function signToken(secret: string, userId: string, ttlSeconds = 24 * 3600): Promise<string> {
  return signed({}, userId, ttlSeconds, secret);
}

/** The host's backend: provisioning and ingestion, never chat data. `name` only labels it in logs. */
export async function signServiceToken(secret: string, name = "host", ttlSeconds = 24 * 3600): Promise<string> {
  return signed({ aud: SERVICE_AUDIENCE }, name, ttlSeconds, secret);
}

const hasServiceAudience = (aud: JWTPayload["aud"]) => aud === SERVICE_AUDIENCE || (Array.isArray(aud) && aud.includes(SERVICE_AUDIENCE));

/** Who the token speaks for, or null when it is forged, expired, unsigned or malformed. */
export async function verifyPrincipal(secret: string, token: string): Promise<Principal | null> {
  return (await verifyClaims(keyOf(secret), token))?.principal ?? null;
}

async function verifyClaims(key: Uint8Array, token: string): Promise<{ principal: Principal; expiresAtMs: number } | null> {
  try {
    // Pinning the algorithm refuses `alg: none` and algorithm-confusion tokens.
    const { payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], requiredClaims: ["exp"] });
    if (typeof payload.sub !== "string" || payload.sub.length === 0 || typeof payload.exp !== "number") return null;
    const principal: Principal = hasServiceAudience(payload.aud)
      ? { kind: "service", name: payload.sub }
      : { kind: "user", userId: payload.sub };
    return { principal, expiresAtMs: payload.exp * 1000 };
  } catch {
    return null;
  }
}

/** Verified tokens this process remembers; the oldest is forgotten first. */
const VERIFIED_TOKENS_MAX = 10_000;

export interface TokenVerifier {
  /** A token verified before and not yet expired, without checking its signature again; undefined otherwise. */
  cached(token: string): Principal | undefined;
  verify(token: string): Promise<Principal | null>;
}

/**
 * `verifyPrincipal` for one secret, remembering each valid token's principal until the token expires. A token's
 * claims are fixed by its signature, so a remembered principal is exactly what verifying it again would give, up to
 * its `exp` (after which it is verified again, and refused). Memberships are not part of it: they are looked up per
 * request (membership-cache.ts). Invalid tokens are never remembered, so a forged token always pays for its check.
 */
export function createTokenVerifier(secret: string, maxEntries = VERIFIED_TOKENS_MAX): TokenVerifier {
  const key = keyOf(secret);
  const verified = new Map<string, { principal: Principal; expiresAtMs: number }>();
  const cached = (token: string) => {
    const hit = verified.get(token);
    if (!hit) return undefined;
    // jose refuses a token once `exp` <= now (in seconds); expiring at the same instant in ms is never later.
    if (Date.now() < hit.expiresAtMs) return hit.principal;
    verified.delete(token);
    return undefined;
  };
  return {
    cached,
    async verify(token) {
      const hit = cached(token);
      if (hit) return hit;
      const claims = await verifyClaims(key, token);
      if (!claims) return null;
      // Map order is insertion order: dropping the first key forgets the oldest entry.
      if (verified.size >= maxEntries) verified.delete(verified.keys().next().value!);
      verified.set(token, claims);
      return claims.principal;
    },
  };
}

/** The token's user id, or null for anything but a valid user token (a service token included). */
export async function verifyToken(secret: string, token: string): Promise<string | null> {
  const principal = await verifyPrincipal(secret, token);
  return principal?.kind === "user" ? principal.userId : null;
}
