import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "@insights/api/auth/jwt";
import { QUEUES } from "@insights/shared/jobs/queues";
import { bearer, createHarness, OPS_ADMIN_EMAIL, signOpsToken, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;
let opsToken: string;

beforeAll(async () => {
  ws = await h.seed();
  opsToken = await signOpsToken(h);
});
afterAll(() => h.close());

describe("Bull Board", () => {
  it("answers an anonymous request 401, for the page and its API", async () => {
    for (const path of ["/admin/queues", "/admin/queues/api/queues"]) {
      const res = await h.http.get(path);
      expect(res.status, path).toBe(401);
      expect(res.body.error.code).toBe("UNAUTHENTICATED");
    }
  });

  it("answers a workspace owner who is not an operator 403", async () => {
    const res = await h.http.get("/admin/queues/api/queues").set(bearer(ws.tokens.owner));
    expect(res.status).toBe(403);
  });

  it("refuses a forged token", async () => {
    const forged = await signToken(
      "some-other-secret-some-other-secret-123",
      (await h.db.user.findUniqueOrThrow({ where: { email: OPS_ADMIN_EMAIL } })).id,
    );
    expect((await h.http.get("/admin/queues").set(bearer(forged))).status).toBe(401);
  });

  it("shows every queue to an operator", async () => {
    const page = await h.http.get("/admin/queues").set(bearer(opsToken));
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<html/i);
    const api = await h.http.get("/admin/queues/api/queues").set(bearer(opsToken));
    expect(api.status).toBe(200);
    const names = (api.body.queues as Array<{ name: string }>).map((q) => q.name).sort();
    expect(names).toEqual(Object.values(QUEUES).sort());
  });

  it("signs an operator in through the form: the token in a POST body, back as a strict HttpOnly cookie", async () => {
    const login = await h.http.post("/admin/queues/login").type("form").send({ token: opsToken });
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe("/admin/queues");
    const cookie = login.headers["set-cookie"]?.[0] ?? "";
    expect(cookie).toMatch(/^insights_ops_token=[^;]+; Path=\/admin\/queues; HttpOnly; SameSite=Strict$/);
    const page = await h.http.get("/admin/queues/api/queues").set("Cookie", cookie.split(";")[0]!);
    expect(page.status).toBe(200);
  });

  it("marks the cookie Secure when the request came over HTTPS (a TLS proxy on loopback)", async () => {
    const login = await h.http.post("/admin/queues/login").set("X-Forwarded-Proto", "https").type("form").send({ token: opsToken });
    expect(login.status).toBe(303);
    expect(login.headers["set-cookie"]?.[0]).toMatch(/; Secure/);
  });

  it("gives no cookie for a member's token, a forged one or none, and says why on the form", async () => {
    const cases = [
      { token: ws.tokens.member, status: 403, says: /OPS_ADMINS/ },
      { token: "not-a-jwt", status: 401, says: /invalid or expired/ },
      { token: "", status: 401, says: /sign in/ },
    ];
    for (const { token, status, says } of cases) {
      const login = await h.http.post("/admin/queues/login").type("form").send({ token });
      expect(login.status, token).toBe(status);
      expect(login.headers["set-cookie"], token).toBeUndefined();
      expect(login.headers["content-type"]).toMatch(/^text\/html/);
      expect(login.text).toMatch(says);
      expect(login.text).toContain('<form method="post" action="/admin/queues/login">');
    }
  });

  it("no longer takes a token from the link's query string", async () => {
    const login = await h.http.get(`/admin/queues/login?token=${opsToken}`);
    expect(login.status).toBe(400);
    expect(login.headers["set-cookie"]).toBeUndefined();
    expect(login.text).toContain("<form");
  });

  it("signs out: the cookie is cleared and the dashboard refuses again", async () => {
    const login = await h.http.post("/admin/queues/login").type("form").send({ token: opsToken });
    const cookie = login.headers["set-cookie"]![0]!.split(";")[0]!;
    const logout = await h.http.post("/admin/queues/logout").set("Cookie", cookie);
    expect(logout.status).toBe(303);
    expect(logout.headers.location).toBe("/admin/queues/login");
    expect(logout.headers["set-cookie"]?.[0]).toMatch(/^insights_ops_token=; Path=\/admin\/queues; Expires=Thu, 01 Jan 1970/);
  });

  it("shows a browser a readable page when it refuses, and keeps JSON for Bull Board's API and tools", async () => {
    const anonymous = await h.http.get("/admin/queues").set("Accept", "text/html,application/xhtml+xml");
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).toContain('<form method="post" action="/admin/queues/login">');
    const member = await h.http.post("/admin/queues/login").type("form").send({ token: ws.tokens.member });
    expect(member.status).toBe(403);
    // Signed in with a cookie, but not an operator: told so, with a way to sign out and use another token.
    const notOps = await h.http.get("/admin/queues").set("Accept", "text/html").set("Cookie", `insights_ops_token=${ws.tokens.owner}`);
    expect(notOps.status).toBe(403);
    expect(notOps.text).toContain("OPS_ADMINS");
    expect(notOps.text).toContain('<form method="post" action="/admin/queues/logout">');
    expect(notOps.headers["content-security-policy"]).toMatch(/default-src 'none'/);
    const api = await h.http.get("/admin/queues/api/queues").set("Accept", "application/json");
    expect(api.status).toBe(401);
    expect(api.body.error.code).toBe("UNAUTHENTICATED");
  });
});
