// The host application's side: its backend provisions workspaces, users and memberships and pushes leads with a
// service token; members then chat with user tokens. Everything here goes through HTTP (and the CLI), as a host would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { inject } from "vitest";
import { SignJWT } from "jose";
import { signServiceToken, signToken } from "@insights/api/auth/jwt";
import { bearer, createHarness, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";
import { HOST_ROUTES, ROUTES } from "./support/routes.ts";
import type { ServiceProcess } from "./support/processes.ts";
import { startApiProcess } from "./support/pack-processes.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const h = createHarness();
let service: string;
let ws: TestWorkspace;

beforeAll(async () => {
  service = await signServiceToken(TEST_JWT_SECRET);
  ws = await h.seed({ leads: 3 });
});
afterAll(() => h.close());

const unique = (what: string) => `${what}-${randomUUID().slice(0, 8)}`;

/** A new user, provisioned by the host: its id. */
async function provisionUser(): Promise<string> {
  const userId = unique("user");
  await h.http
    .put(`/v1/users/${userId}`)
    .set(bearer(service))
    .send({ email: `${userId}@host.test` })
    .expect(201);
  return userId;
}

async function provisionMember(role: "OWNER" | "ADMIN" | "MEMBER", workspaceId = ws.workspaceId) {
  const userId = await provisionUser();
  await h.http.put(`/v1/workspaces/${workspaceId}/members/${userId}`).set(bearer(service)).send({ role }).expect(201);
  return { userId, token: await signToken(TEST_JWT_SECRET, userId) };
}

describe("a workspace's share of the workers", () => {
  it("is set by the host, kept when a later PUT leaves it out, and orders packs on the shared queue", async () => {
    const heavy = unique("ws");
    const created = await h.http.put(`/v1/workspaces/${heavy}`).set(bearer(service)).send({ name: "Heavy", schedulingWeight: 4 });
    expect(created.status).toBe(201);
    expect(created.body.schedulingWeight).toBe(4);
    const renamed = await h.http.put(`/v1/workspaces/${heavy}`).set(bearer(service)).send({ name: "Heavy, renamed" });
    expect(renamed.body).toMatchObject({ name: "Heavy, renamed", schedulingWeight: 4 });
    const light = unique("ws");
    expect((await h.http.put(`/v1/workspaces/${light}`).set(bearer(service)).send({ name: "Light" })).body.schedulingWeight).toBe(1);

    // Three packs each, requested in turns; no worker runs in this file, so the queue shows the order they would run in.
    const workspaces = await Promise.all(
      [heavy, light].map(async (workspaceId) => ({ workspaceId, member: await provisionMember("MEMBER", workspaceId) })),
    );
    const packOwner = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (const { workspaceId, member } of workspaces) {
        const session = await h.http.post(`/v1/workspaces/${workspaceId}/insights/sessions`).set(bearer(member.token)).send({});
        const pack = await h.http
          .post(`/v1/workspaces/${workspaceId}/insights/sessions/${session.body.id}/packs`)
          .set(bearer(member.token))
          .send({ window: { preset: "LAST_7_DAYS" } });
        expect(pack.status, JSON.stringify(pack.body)).toBe(202);
        packOwner.set(pack.body.id, workspaceId === heavy ? "heavy" : "light");
      }
    }
    const queued = (await h.queues.packs.getJobs(["prioritized", "waiting"])).filter((j) => packOwner.has(j.data.packId));
    const order = queued.sort((a, b) => (a.opts.priority ?? 0) - (b.opts.priority ?? 0)).map((j) => packOwner.get(j.data.packId));
    // Weight 4 against 1: the heavy workspace's three packs all come before the light one's second.
    expect(order).toEqual(["heavy", "heavy", "heavy", "light", "light", "light"]);
  });
});

describe("the service token", () => {
  it("is printed by `npm run cli -- token --service` and provisions a workspace", async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), "insights-cli-"));
    try {
      const { stdout } = await promisify(execFile)(
        path.join(ROOT, "node_modules/.bin/tsx"),
        [path.join(ROOT, "api/src/cli/main.ts"), "token", "--service"],
        { cwd, env: { PATH: process.env.PATH ?? "", DATABASE_URL: inject("databaseUrl"), AUTH_JWT_SECRET: TEST_JWT_SECRET } },
      );
      const token = stdout.trim();
      expect(token.split(".")).toHaveLength(3);
      const id = unique("ws");
      const res = await h.http.put(`/v1/workspaces/${id}`).set(bearer(token)).send({ name: "From the CLI" });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it("ingests campaigns and leads into a workspace", async () => {
    await h.http.put(`${ws.base}/campaigns/host-cmp`).set(bearer(service)).send({ name: "Host campaign" }).expect(200);
    const res = await h.http
      .post(`${ws.base}/leads/batch`)
      .set(bearer(service))
      .send({
        leads: [
          {
            id: unique("lead"),
            campaignId: "host-cmp",
            messages: [{ id: "m1", direction: "INBOUND", body: "Hi", sentAt: new Date().toISOString() }],
          },
        ],
      });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const audit = await h.http.get(`${ws.base}/insights/audit-events?action=LEADS_INGESTED`).set(bearer(ws.tokens.owner));
    expect(audit.body.events[0].actor).toEqual({ type: "SERVICE" });
  });

  it("answers 404 for ingestion into a workspace that does not exist", async () => {
    const res = await h.http
      .put(`/v1/workspaces/${unique("nowhere")}/campaigns/c1`)
      .set(bearer(service))
      .send({ name: "x" });
    expect(res.status).toBe(404);
  });

  // Every route of the workspace except ingestion and erasure: sessions, messages, packs, audit events, settings, insights.
  const chatRoutes = ROUTES.filter((r) => !["PUT campaigns/:id", "POST leads/batch", "DELETE leads/:id"].includes(r.name));
  it.each(chatRoutes.map((r) => [r.name, r] as const))("never reads or writes chat data: %s → 403", async (_name, route) => {
    const { path: url, body } = await route.prepare(h, ws);
    const req = h.http[route.method](url).set(bearer(service));
    const res = body ? await req.send(body) : await req;
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error.code).toBe("FORBIDDEN");
  });

  it("cannot pass as a user, even one whose id it names", async () => {
    const impostor = await signServiceToken(TEST_JWT_SECRET, ws.users.owner.id);
    expect((await h.http.get(`${ws.base}/insights/sessions`).set(bearer(impostor))).status).toBe(403);
    expect((await h.http.get("/v1/me").set(bearer(impostor))).status).toBe(403);
    expect((await h.http.get("/admin/queues").set(bearer(impostor))).status).toBe(401);
  });
});

describe("a user token", () => {
  const provisioning = () => [
    { method: "put" as const, path: `/v1/workspaces/${ws.workspaceId}`, body: { name: "Taken over" } },
    { method: "put" as const, path: `/v1/workspaces/${unique("ws")}`, body: { name: "New" } },
    { method: "put" as const, path: `/v1/users/${ws.users.member.id}`, body: { email: "changed@host.test" } },
    { method: "put" as const, path: `${ws.base}/members/${ws.users.outsider.id}`, body: { role: "OWNER" } },
    { method: "delete" as const, path: `${ws.base}/members/${ws.users.member.id}` },
  ];

  const serviceRoutes = HOST_ROUTES.filter((r) => r.route.access === "service");
  it.each(serviceRoutes.map((r) => [r.name, r] as const))("never provisions: %s → 403 for the workspace's owner", async (_name, route) => {
    const target = await h.seed(); // the fixtures may add members; the shared workspace stays as it is
    const { path: url, body } = await route.prepare(h, target);
    const req = h.http[route.method](url).set(bearer(target.tokens.owner));
    const res = body ? await req.send(body) : await req;
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error.code).toBe("FORBIDDEN");
  });

  it("never provisions, not even the workspace owner's (403, and nothing changes)", async () => {
    for (const { method, path: url, body } of provisioning()) {
      const req = h.http[method](url).set(bearer(ws.tokens.owner));
      const res = body ? await req.send(body) : await req;
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error.code).toBe("FORBIDDEN");
    }
    expect(await h.db.client.findUniqueOrThrow({ where: { id: ws.workspaceId } })).toMatchObject({
      name: expect.not.stringMatching("Taken over"),
    });
    expect(await h.db.workspaceMembership.count({ where: { clientId: ws.workspaceId, userId: ws.users.outsider.id } })).toBe(0);
    expect(await h.db.workspaceMembership.count({ where: { clientId: ws.workspaceId, userId: ws.users.member.id } })).toBe(1);
  });

  it("cannot pass as the service by its subject or extra claims", async () => {
    // Signed with the right secret, but without the service audience: it is a user token for a user named "host".
    const lookalike = await new SignJWT({ kind: "service", scope: "service" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("host")
      .setAudience("insights:services")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const res = await h.http
      .put(`/v1/workspaces/${unique("ws")}`)
      .set(bearer(lookalike))
      .send({ name: "x" });
    expect(res.status).toBe(403);
  });

  it("answers 401 on provisioning without a token", async () => {
    expect((await h.http.put(`/v1/workspaces/${unique("ws")}`).send({ name: "x" })).status).toBe(401);
  });
});

describe("provisioning", () => {
  it("creates with 201 and updates with 200, by the host's ids", async () => {
    const workspaceId = unique("ws");
    const created = await h.http.put(`/v1/workspaces/${workspaceId}`).set(bearer(service)).send({ name: "Acme" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: workspaceId, name: "Acme" });
    const renamed = await h.http.put(`/v1/workspaces/${workspaceId}`).set(bearer(service)).send({ name: "Acme Inc" });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: workspaceId, name: "Acme Inc", createdAt: created.body.createdAt });

    const userId = unique("user");
    const user = await h.http
      .put(`/v1/users/${userId}`)
      .set(bearer(service))
      .send({ email: `${userId}@host.test`, name: "Ada" });
    expect(user.status).toBe(201);
    const again = await h.http
      .put(`/v1/users/${userId}`)
      .set(bearer(service))
      .send({ email: `${userId}@host.test`, name: "Ada L." });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: userId, name: "Ada L." });

    const member = await h.http.put(`/v1/workspaces/${workspaceId}/members/${userId}`).set(bearer(service)).send({ role: "ADMIN" });
    expect(member.status).toBe(201);
    expect(member.body).toMatchObject({ workspaceId, userId, role: "ADMIN" });
    const promoted = await h.http.put(`/v1/workspaces/${workspaceId}/members/${userId}`).set(bearer(service)).send({ role: "OWNER" });
    expect(promoted.status).toBe(200);
    expect(promoted.body.role).toBe("OWNER");
  });

  it.each(HOST_ROUTES.filter((r) => r.badBodies).map((r) => [r.name, r] as const))(
    "refuses bad bodies of %s with 400 naming the field",
    async (_name, route) => {
      const target = await h.seed();
      for (const { body, field } of route.badBodies!) {
        const { path: url } = await route.prepare(h, target);
        const res = await h.http[route.method](url)
          .set(bearer(service))
          .send(body as object);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toContain(field);
      }
    },
  );

  it("refuses an email another user has with 409, and bad bodies with 400 naming the field", async () => {
    const userId = unique("user");
    const res = await h.http.put(`/v1/users/${userId}`).set(bearer(service)).send({ email: ws.users.member.email });
    expect(res.status).toBe(409);
    expect(await h.db.user.count({ where: { id: userId } })).toBe(0);

    const cases = [
      { path: `/v1/workspaces/${unique("ws")}`, body: { name: "" }, field: "body.name" },
      { path: `/v1/workspaces/bad id!`, body: { name: "x" }, field: "params.workspaceId" },
      { path: `/v1/users/${unique("user")}`, body: { email: "not-an-email" }, field: "body.email" },
      { path: `${ws.base}/members/${ws.users.outsider.id}`, body: { role: "KING" }, field: "body.role" },
      { path: `${ws.base}/members/${ws.users.outsider.id}`, body: { role: "MEMBER", extra: 1 }, field: "body" },
    ];
    for (const { path: url, body, field } of cases) {
      const bad = await h.http.put(url).set(bearer(service)).send(body);
      expect(bad.status, url).toBe(400);
      expect(bad.body.error.details.fields.map((f: { path: string }) => f.path)).toContain(field);
    }
  });

  it("answers 404 for a membership of a user or workspace that does not exist", async () => {
    expect(
      (
        await h.http
          .put(`${ws.base}/members/${unique("ghost")}`)
          .set(bearer(service))
          .send({ role: "MEMBER" })
      ).status,
    ).toBe(404);
    expect(
      (
        await h.http
          .put(`/v1/workspaces/${unique("ghost")}/members/${ws.users.outsider.id}`)
          .set(bearer(service))
          .send({ role: "MEMBER" })
      ).status,
    ).toBe(404);
    expect((await h.http.delete(`${ws.base}/members/${ws.users.outsider.id}`).set(bearer(service))).status).toBe(404);
  });

  it("audits every membership change as the service, and nothing for a PUT that changes nothing", async () => {
    const target = await h.seed();
    const { userId } = await provisionMember("MEMBER", target.workspaceId);
    const member = `${target.base}/members/${userId}`;
    await h.http.put(member).set(bearer(service)).send({ role: "MEMBER" }).expect(200);
    await h.http.put(member).set(bearer(service)).send({ role: "ADMIN" }).expect(200);
    const removed = await h.http.delete(member).set(bearer(service));
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ workspaceId: target.workspaceId, userId, role: "ADMIN" });

    const res = await h.http.get(`${target.base}/insights/audit-events`).set(bearer(target.tokens.owner));
    const events = (res.body.events as Array<{ action: string; actor: unknown; details: unknown }>).filter((e) =>
      e.action.startsWith("MEMBER_"),
    );
    expect(events.map((e) => [e.action, e.details])).toEqual([
      ["MEMBER_REMOVED", { userId, role: "ADMIN" }],
      ["MEMBER_ROLE_CHANGED", { userId, from: "MEMBER", to: "ADMIN" }],
      ["MEMBER_ADDED", { userId, role: "MEMBER" }],
    ]);
    for (const e of events) expect(e.actor).toEqual({ type: "SERVICE" });
  });

  it("gives one row and one event to identical PUTs sent at once", async () => {
    for (let round = 0; round < 10; round++) {
      const workspaceId = unique("ws");
      const workspaces = await Promise.all(
        Array.from({ length: 6 }, () => h.http.put(`/v1/workspaces/${workspaceId}`).set(bearer(service)).send({ name: "Race" })),
      );
      expect(workspaces.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);

      const userId = await provisionUser();
      const members = await Promise.all(
        Array.from({ length: 6 }, () =>
          h.http.put(`/v1/workspaces/${workspaceId}/members/${userId}`).set(bearer(service)).send({ role: "MEMBER" }),
        ),
      );
      expect(members.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      expect(await h.db.insightChatAuditEvent.count({ where: { clientId: workspaceId, action: "MEMBER_ADDED" } })).toBe(1);
    }
  });

  it("changes a role at once in the process that made the change", async () => {
    const { userId, token } = await provisionMember("ADMIN");
    const admin = () => h.http.get(`${ws.base}/insights/audit-events`).set(bearer(token));
    expect((await admin()).status).toBe(200);
    await h.http.put(`${ws.base}/members/${userId}`).set(bearer(service)).send({ role: "MEMBER" }).expect(200);
    expect((await admin()).status).toBe(403);
  });
});

describe("GET /v1/me", () => {
  it("names the user and every workspace they belong to, with their role", async () => {
    const other = await h.seed();
    await h.http.put(`${other.base}/members/${ws.users.member.id}`).set(bearer(service)).send({ role: "ADMIN" }).expect(201);
    const res = await h.http.get("/v1/me").set(bearer(ws.tokens.member));
    expect(res.status).toBe(200);
    const user = await h.db.user.findUniqueOrThrow({ where: { id: ws.users.member.id } });
    expect(res.body.user).toEqual({ id: user.id, email: user.email, name: user.name });
    const names = new Map([
      [ws.workspaceId, "MEMBER"],
      [other.workspaceId, "ADMIN"],
    ]);
    expect(res.body.workspaces).toHaveLength(2);
    for (const w of res.body.workspaces) expect(w).toEqual({ id: w.id, name: expect.any(String), role: names.get(w.id) });
  });

  it("lists no workspaces for a user in none, and 404 for a token whose user was never provisioned", async () => {
    const res = await h.http.get("/v1/me").set(bearer(ws.tokens.outsider));
    expect(res.body.workspaces).toEqual([]);
    const ghost = await h.http.get("/v1/me").set(bearer(await signToken(TEST_JWT_SECRET, unique("ghost"))));
    expect(ghost.status).toBe(404);
  });
});

describe("removing a member", () => {
  let apis: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(apis.map((api) => api.kill()));
  });

  it("ends their access within 6 seconds in every API process", async () => {
    const started = await Promise.all([startApiProcess(h.prefix), startApiProcess(h.prefix)]);
    apis = started.map((api) => api.proc);
    const urls = started.map((api) => api.url);
    const { userId, token } = await provisionMember("MEMBER");
    const read = (url: string) => fetch(`${url}${ws.base}/insights/sessions`, { headers: bearer(token) }).then((r) => r.status);
    // Both processes have the membership cached when it is removed.
    await waitForAll(urls, read, 200);

    const removed = await fetch(`${urls[0]}${ws.base}/members/${userId}`, { method: "DELETE", headers: bearer(service) });
    expect(removed.status).toBe(200);
    const removedAt = Date.now();
    expect(await read(urls[0]!)).toBe(404); // the process that removed it forgets at once
    await waitForAll(urls, read, 404, 6_000);
    expect(Date.now() - removedAt).toBeLessThan(6_000);
  });
});

/** Polls each URL until `read` gives `status`, all within `timeoutMs` (from the start). */
async function waitForAll(urls: string[], read: (url: string) => Promise<number>, status: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      if ((await read(url).catch(() => 0)) === status) break;
      if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
