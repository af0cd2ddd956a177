import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
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
    const forged = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(userId()).setExpirationTime("1h").sign(new TextEncoder().encode("another-secret-another-secret-another"));
    const res = await h.http.get(path()).set(bearer(forged));
    expect(res.status).toBe(401);
  });

  it("refuses an expired token", async () => {
    const expired = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(userId()).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(key);
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
    const hs512 = await new SignJWT({}).setProtectedHeader({ alg: "HS512" }).setSubject(userId()).setExpirationTime("1h").sign(new TextEncoder().encode(TEST_JWT_SECRET + TEST_JWT_SECRET));
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
});

describe("errors", () => {
  it("carry a request id and never a stack trace", async () => {
    const res = await h.http.get(`${ws.base}/insights/nowhere`).set(bearer(ws.tokens.member));
    expect(res.status).toBe(404);
    expect(res.body.error.requestId).toBe(res.headers["x-request-id"]);
    expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.ts:\d+/);
  });
});
