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
  try {
    // Pinning the algorithm refuses `alg: none` and algorithm-confusion tokens.
    const { payload } = await jwtVerify(token, keyOf(secret), { algorithms: [ALGORITHM], requiredClaims: ["exp"] });
    if (typeof payload.sub !== "string" || payload.sub.length === 0) return null;
    return hasServiceAudience(payload.aud) ? { kind: "service", name: payload.sub } : { kind: "user", userId: payload.sub };
  } catch {
    return null;
  }
}

/** The token's user id, or null for anything but a valid user token (a service token included). */
export async function verifyToken(secret: string, token: string): Promise<string | null> {
  const principal = await verifyPrincipal(secret, token);
  return principal?.kind === "user" ? principal.userId : null;
}
