import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { signToken } from "@insights/api/auth/jwt";
import { bearer, createHarness, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";
import { ROUTES } from "./support/routes.ts";

const h = createHarness();
let ws: TestWorkspace;
let other: TestWorkspace;

beforeAll(async () => {
  [ws, other] = await Promise.all([h.seed({ leads: 3 }), h.seed({ leads: 3 })]);
});
afterAll(() => h.close());

function send(method: string, path: string, token: string | null, body?: object) {
  const req = h.http[method as "get"](path);
  if (token) req.set(bearer(token));
  return body ? req.send(body) : req;
}

describe.each(ROUTES)("$name", (route) => {
  it("answers an outsider 404, exactly as if the workspace did not exist", async () => {
    const { path, body } = await route.prepare(h, ws);
    const res = await send(route.method, path, ws.tokens.outsider, body);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");

    const missing = path.replace(ws.workspaceId, "00000000-0000-0000-0000-000000000000");
    const res2 = await send(route.method, missing, ws.tokens.outsider, body);
    expect(res2.status).toBe(404);
    expect(res2.body.error.message).toBe(res.body.error.message);
  });

  it("answers a member of another workspace 404", async () => {
    const { path, body } = await route.prepare(h, ws);
    const res = await send(route.method, path, other.tokens.owner, body);
    expect(res.status).toBe(404);
  });

  it(route.adminOnly ? "refuses a member with 403" : "allows a member", async () => {
    const { path, body } = await route.prepare(h, ws);
    const res = await send(route.method, path, ws.tokens.member, body);
    if (route.adminOnly) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("FORBIDDEN");
    } else {
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    }
  });

  it.each(["admin", "owner"] as const)("allows the %s", async (role) => {
    const { path, body } = await route.prepare(h, ws);
    const res = await send(route.method, path, ws.tokens[role], body);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  });

  it("answers 401 without a token", async () => {
    const { path, body } = await route.prepare(h, ws);
    const res = await send(route.method, path, null, body);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "UNAUTHENTICATED" });
  });
});

describe("bearer tokens", () => {
  const path = () => `${ws.base}/insights/sessions`;
  const userId = () => ws.users.owner.id;
  const key = new TextEncoder().encode(TEST_JWT_SECRET);

  it("refuses a token signed with another secret", async () => {
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId())
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-secret-another-secret-another"));
    const res = await h.http.get(path()).set(bearer(forged));
    expect(res.status).toBe(401);
  });

  it("refuses an expired token", async () => {
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId())
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key);
    const res = await h.http.get(path()).set(bearer(expired));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/invalid or expired/);
  });

  it("refuses an unsigned (alg: none) token", async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: userId(), exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
    const res = await h.http.get(path()).set(bearer(unsigned));
    expect(res.status).toBe(401);
  });

  it("refuses a token signed with another algorithm", async () => {
    const hs512 = await new SignJWT({})
      .setProtectedHeader({ alg: "HS512" })
      .setSubject(userId())
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET + TEST_JWT_SECRET));
    const res = await h.http.get(path()).set(bearer(hs512));
    expect(res.status).toBe(401);
  });

  it("refuses a token without an expiry", async () => {
    const forever = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(userId()).sign(key);
    const res = await h.http.get(path()).set(bearer(forever));
    expect(res.status).toBe(401);
  });

  it("refuses a malformed Authorization header", async () => {
    for (const header of ["Bearer", "Basic abc", "Bearer a.b.c", "token"]) {
      const res = await h.http.get(path()).set("Authorization", header);
      expect(res.status, header).toBe(401);
    }
  });

  /** A compact HS256 JWS over any header and payload, signed with `secret` (jose refuses to sign the odd ones). */
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  function signRaw(header: object, payload: object, secret = TEST_JWT_SECRET): string {
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
  }
  const claims = () => ({ sub: userId(), exp: Math.floor(Date.now() / 1000) + 3600 });

  it("accepts the hand-signed control token the header tricks below start from", async () => {
    const res = await h.http.get(path()).set(bearer(signRaw({ alg: "HS256", typ: "JWT" }, claims())));
    expect(res.status).toBe(200);
  });

  it("answers a valid token for a user that does not exist 404, exactly as an outsider gets", async () => {
    const ghost = await signToken(TEST_JWT_SECRET, randomUUID());
    const res = await h.http.get(path()).set(bearer(ghost));
    const outsider = await h.http.get(path()).set(bearer(ws.tokens.outsider));
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "NOT_FOUND", message: outsider.body.error.message });
  });

  it("refuses a token that is not valid yet (nbf in the future)", async () => {
    const early = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId())
      .setNotBefore(Math.floor(Date.now() / 1000) + 600)
      .setExpirationTime("2h")
      .sign(key);
    const res = await h.http.get(path()).set(bearer(early));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("UNAUTHENTICATED");
  });

  it("refuses a correctly signed token with a critical header extension it does not know", async () => {
    const token = signRaw({ alg: "HS256", typ: "JWT", crit: ["x-tenant"], "x-tenant": "other" }, claims());
    expect((await h.http.get(path()).set(bearer(token))).status).toBe(401);
  });

  it("refuses a correctly signed token whose payload is declared unencoded (b64: false)", async () => {
    const token = signRaw({ alg: "HS256", b64: false, crit: ["b64"] }, claims());
    expect((await h.http.get(path()).set(bearer(token))).status).toBe(401);
  });

  it("refuses a token that brings its own key in its header (jwk) and is signed with it", async () => {
    const attackerKey = "attacker-secret-attacker-secret-attacker";
    const jwk = { kty: "oct", k: Buffer.from(attackerKey).toString("base64url") };
    const token = signRaw({ alg: "HS256", jwk, kid: "../../dev/null" }, claims(), attackerKey);
    expect((await h.http.get(path()).set(bearer(token))).status).toBe(401);
  });

  it("refuses a token whose algorithm is spelled in another case", async () => {
    const token = signRaw({ alg: "hs256", typ: "JWT" }, claims());
    expect((await h.http.get(path()).set(bearer(token))).status).toBe(401);
  });

  it("refuses a correctly signed token whose sub is missing, empty or not a string", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    for (const payload of [{ exp }, { sub: "", exp }, { sub: 42, exp }, { sub: [userId()], exp }]) {
      const res = await h.http.get(path()).set(bearer(signRaw({ alg: "HS256" }, payload)));
      expect(res.status, JSON.stringify(payload)).toBe(401);
    }
  });

  it("refuses a correctly signed token whose exp is not a number", async () => {
    const token = signRaw({ alg: "HS256" }, { sub: userId(), exp: "9999999999" });
    expect((await h.http.get(path()).set(bearer(token))).status).toBe(401);
  });
});

describe("errors", () => {
  it("carry a request id and never a stack trace", async () => {
    const res = await h.http.get(`${ws.base}/insights/nowhere`).set(bearer(ws.tokens.member));
    expect(res.status).toBe(404);
    expect(res.body.error.requestId).toBe(res.headers["x-request-id"]);
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.ts:\d+/);
  });
});
