// Who may reach the operations endpoints (docs/OPERATIONS.md): /healthz, /readyz and /openapi.json are public
// (probes and clients call them without a token); /metrics is open unless METRICS_TOKEN is set, and then only that
// token opens it (a user's JWT does not); Bull Board, page and API alike, is 401 without a valid token, 403 for every
// workspace role (it shows every workspace's jobs), and open only to operators named in OPS_ADMINS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import type { Response } from "supertest";
import { signToken } from "@insights/api/auth/jwt";
import { QUEUES } from "@insights/shared/jobs/queues";
import { bearer, createHarness, signOpsToken, TEST_JWT_SECRET, type Role, type TestWorkspace } from "./support/harness.ts";

const METRICS_TOKEN = "ops-permissions-metrics-token";
const h = createHarness();
const guarded = createHarness({ metricsToken: METRICS_TOKEN });
let ws: TestWorkspace;
let opsToken: string;

beforeAll(async () => {
  ws = await h.seed();
  opsToken = await signOpsToken(h);
});
afterAll(() => Promise.all([h.close(), guarded.close()]));

type Method = "get" | "put" | "post";
const send = (method: Method, path: string, token?: string): Promise<Response> => {
  const req = h.http[method](path);
  if (token) req.set(bearer(token));
  return method === "get" ? req : req.send({});
};

/** The dashboard and a sample of its API: reads, and the writes that would pause, fill or wipe a queue. */
const BOARD_READS: Array<[Method, string]> = [
  ["get", "/admin/queues"],
  ["get", "/admin/queues/api/queues"],
  ["get", "/admin/queues/api/redis/stats"],
  ["get", `/admin/queues/api/queues/${QUEUES.packs}/metrics`],
];
const BOARD_WRITES: Array<[Method, string]> = [
  ["put", "/admin/queues/api/queues/pause"],
  ["post", `/admin/queues/api/queues/${QUEUES.packs}/add`],
  ["put", `/admin/queues/api/queues/${QUEUES.packs}/clean/completed`],
  ["put", `/admin/queues/api/queues/${QUEUES.packs}/obliterate`],
];
const BOARD = [...BOARD_READS, ...BOARD_WRITES].map(([method, path]) => ({ method, path, label: `${method.toUpperCase()} ${path}` }));

describe("health endpoints", () => {
  it.each(["/healthz", "/readyz"])("%s answers an anonymous caller 200", async (path) => {
    const res = await h.http.get(path);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it.each(["/healthz", "/readyz"])("%s ignores a forged token rather than refusing the probe", async (path) => {
    const res = await h.http.get(path).set("Authorization", "Bearer not.a.token");
    expect(res.status).toBe(200);
  });
});

describe("the OpenAPI document", () => {
  it("is served to an anonymous caller", async () => {
    const res = await h.http.get("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
  });
});

describe("metrics", () => {
  it("are open without METRICS_TOKEN, since they carry no tenant data", async () => {
    const res = await h.http.get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
  });

  it("answer 401 without the token once METRICS_TOKEN is set, in the contract's error shape", async () => {
    const res = await guarded.http.get("/metrics");
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "UNAUTHENTICATED", requestId: res.headers["x-request-id"] });
  });

  it("refuse a workspace owner's or an operator's JWT, and a wrong token, once METRICS_TOKEN is set", async () => {
    for (const token of [ws.tokens.owner, opsToken, `${METRICS_TOKEN}x`, METRICS_TOKEN.slice(1)]) {
      expect((await guarded.http.get("/metrics").set(bearer(token))).status).toBe(401);
    }
  });

  it("open to the METRICS_TOKEN once it is set", async () => {
    const res = await guarded.http.get("/metrics").set(bearer(METRICS_TOKEN));
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^# HELP /m);
  });
});

describe.each(BOARD)("Bull Board: $label", ({ method, path }) => {
  it("answers an anonymous caller 401 UNAUTHENTICATED", async () => {
    const res = await send(method, path);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "UNAUTHENTICATED", requestId: res.headers["x-request-id"] });
  });

  it("answers a forged or expired token 401", async () => {
    const userId = ws.users.owner.id;
    const forged = await signToken("another-secret-another-secret-another-secret", userId);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    for (const token of [forged, expired]) expect((await send(method, path, token)).status).toBe(401);
  });

  it.each(["owner", "admin", "member", "outsider"] as Role[])("answers a workspace %s 403 FORBIDDEN", async (role) => {
    const res = await send(method, path, ws.tokens[role]);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("FORBIDDEN");
  });
});

describe("Bull Board for operators", () => {
  it.each(BOARD_READS.map(([, path]) => path))("opens %s to an operator", async (path) => {
    const res = await h.http.get(path).set(bearer(opsToken));
    expect(res.status, res.text.slice(0, 300)).toBe(200);
  });

  it("left every queue running and empty after the refused writes", async () => {
    for (const queue of Object.values(h.queues)) {
      expect(await queue.isPaused(), queue.name).toBe(false);
      expect(await queue.getJobCountByTypes("waiting", "delayed", "completed", "failed"), queue.name).toBe(0);
    }
  });

  it("gives a cookie only to an operator's sign-in", async () => {
    for (const role of ["owner", "admin"] as const) {
      const login = await h.http.post("/admin/queues/login").type("form").send({ token: ws.tokens[role] });
      expect(login.status, role).toBe(403);
      expect(login.headers["set-cookie"], role).toBeUndefined();
    }
    expect((await h.http.post("/admin/queues/login").type("form").send({})).status).toBe(401);
    expect((await h.http.post("/admin/queues/login").type("form").send({ token: opsToken })).status).toBe(303);
  });

  it("refuses a cookie holding a workspace admin's token", async () => {
    const res = await h.http.get("/admin/queues/api/queues").set("Cookie", `insights_ops_token=${ws.tokens.owner}`);
    expect(res.status).toBe(403);
  });
});
