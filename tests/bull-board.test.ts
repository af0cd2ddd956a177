import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "@insights/api/auth/jwt";
import { QUEUES } from "@insights/shared/jobs/queues";
import { bearer, createHarness, OPS_ADMIN_EMAIL, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;
let opsToken: string;

beforeAll(async () => {
  ws = await h.seed();
  const ops = await h.db.user.upsert({ where: { email: OPS_ADMIN_EMAIL }, update: {}, create: { email: OPS_ADMIN_EMAIL } });
  opsToken = await signToken(TEST_JWT_SECRET, ops.id);
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
    const forged = await signToken("some-other-secret-some-other-secret-123", (await h.db.user.findUniqueOrThrow({ where: { email: OPS_ADMIN_EMAIL } })).id);
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

  it("lets an operator's browser in through the login link's cookie", async () => {
    const login = await h.http.get(`/admin/queues/login?token=${opsToken}`);
    expect(login.status).toBe(303);
    const cookie = login.headers["set-cookie"]?.[0] ?? "";
    expect(cookie).toMatch(/HttpOnly/);
    const page = await h.http.get("/admin/queues/api/queues").set("Cookie", cookie.split(";")[0]!);
    expect(page.status).toBe(200);
  });

  it("gives no cookie for a member's token", async () => {
    const login = await h.http.get(`/admin/queues/login?token=${ws.tokens.member}`);
    expect(login.status).toBe(403);
    expect(login.headers["set-cookie"]).toBeUndefined();
  });
});
