// Bearer tokens are issued by the host application: HS256 over AUTH_JWT_SECRET, `sub` = user id.
import { SignJWT, jwtVerify } from "jose";

const ALGORITHM = "HS256";

const keyOf = (secret: string) => new TextEncoder().encode(secret);

export async function signToken(secret: string, userId: string, ttlSeconds = 24 * 3600): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(keyOf(secret));
}

/** The token's user id, or null when the token is forged, expired, unsigned or malformed. */
export async function verifyToken(secret: string, token: string): Promise<string | null> {
  try {
    // Pinning the algorithm refuses `alg: none` and algorithm-confusion tokens.
    const { payload } = await jwtVerify(token, keyOf(secret), { algorithms: [ALGORITHM], requiredClaims: ["exp"] });
    return typeof payload.sub === "string" && payload.sub.length > 0 ? payload.sub : null;
  } catch {
    return null;
  }
}
