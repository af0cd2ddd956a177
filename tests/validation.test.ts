// Bad input is refused with 400 VALIDATION_FAILED naming the failing field, before anything is written; no input
// a client can send makes the service answer 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Response } from "supertest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { ROUTES } from "./support/routes.ts";

const h = createHarness();
let ws: TestWorkspace;

beforeAll(async () => {
  ws = await h.seed({ leads: 3 });
});
afterAll(() => h.close());

/** Every response of this file goes through here: none of them may be a 500. */
function expectNoServerError(res: Response): Response {
  expect(res.status, `${res.status} ${JSON.stringify(res.body)}`).toBeLessThan(500);
  return res;
}

async function send(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  const req = h.http[method as "get"](path).set(bearer(token));
  return expectNoServerError(await (body === undefined ? req : req.send(body as object)));
}

/** Everything a request could write in the workspace, read straight from the database. */
async function snapshot(workspaceId: string) {
  const where = { clientId: workspaceId };
  const [sessions, chatMessages, campaigns, leads, leadMessages, auditEvents, preferences, packs, settings] = await Promise.all([
    h.db.insightChatSession.findMany({ where, orderBy: { id: "asc" } }),
    h.db.insightChatMessage.count({ where }),
    h.db.campaign.findMany({ where, orderBy: { id: "asc" } }),
    h.db.lead.findMany({ where, orderBy: { id: "asc" } }),
    h.db.leadMessage.count({ where }),
    h.db.insightChatAuditEvent.count({ where }),
    h.db.insightChatUserPreference.findMany({ where, orderBy: { userId: "asc" } }),
    h.db.insightContextPack.count({ where }),
    h.db.workspaceSettings.findUnique({ where }),
  ]);
  return { sessions, chatMessages, campaigns, leads, leadMessages, auditEvents, preferences, packs, settings };
}

function expectValidationError(res: Response, field: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error).toMatchObject({ code: "VALIDATION_FAILED", message: expect.any(String) });
  expect(res.body.error.requestId).toBe(res.headers["x-request-id"]);
  const fields = res.body.error.details?.fields as Array<{ path: string; message: string }>;
  expect(Array.isArray(fields), JSON.stringify(res.body)).toBe(true);
  for (const f of fields) expect(f).toEqual({ path: expect.any(String), message: expect.any(String) });
  const paths = fields.map((f) => f.path);
  expect(
    paths.some((p) => p.startsWith(field)),
    `expected a field starting with ${field}, got ${JSON.stringify(paths)}`,
  ).toBe(true);
}

const withBadBodies = ROUTES.filter((r) => r.badBodies && r.badBodies.length > 0);

describe.each(withBadBodies)("$name", (route) => {
  const cases = route.badBodies!.map((bad) => ({
    ...bad,
    label: JSON.stringify(bad.body).slice(0, 80),
  }));

  it.each(cases)("refuses $label with 400 naming $field and writes nothing", async ({ body, field }) => {
    const { path } = await route.prepare(h, ws);
    const before = await snapshot(ws.workspaceId);

    const res = await send(route.method, path, ws.tokens.owner, body);

    expectValidationError(res, field);
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });
});

describe("request bodies", () => {
  it("refuses malformed JSON with 400 naming the body", async () => {
    const before = await snapshot(ws.workspaceId);
    const res = expectNoServerError(
      await h.http
        .post(`${ws.base}/insights/sessions`)
        .set(bearer(ws.tokens.owner))
        .set("Content-Type", "application/json")
        .send('{"title": "unterminated'),
    );
    expectValidationError(res, "body");
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });

  it.each([
    { label: "a top-level array", raw: "[]" },
    { label: "a bare number", raw: "42" },
    { label: "a bare null", raw: "null" },
    { label: "a bare string", raw: '"title"' },
  ])("refuses $label as the JSON body with 400 naming the body", async ({ raw }) => {
    const before = await snapshot(ws.workspaceId);
    const res = expectNoServerError(
      await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.owner)).set("Content-Type", "application/json").send(raw),
    );
    expectValidationError(res, "body");
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });

  it("refuses a JSON body in an unsupported charset with 400 naming the body", async () => {
    const res = expectNoServerError(
      await h.http
        .post(`${ws.base}/insights/sessions`)
        .set(bearer(ws.tokens.owner))
        .set("Content-Type", "application/json; charset=klingon")
        .send('{"title":"x"}'),
    );
    expectValidationError(res, "body");
  });

  it("refuses a body over 256kb on a normal route with 413 PAYLOAD_TOO_LARGE", async () => {
    const before = await snapshot(ws.workspaceId);
    const res = await send("post", `${ws.base}/insights/sessions`, ws.tokens.owner, { title: "x".repeat(300 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", requestId: res.headers["x-request-id"] });
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });

  it("accepts an ingestion batch over 256kb, since whole threads are pushed at once", async () => {
    const messages = Array.from({ length: 16 }, (_, i) => ({
      id: `big-${i}`,
      direction: "INBOUND",
      body: "y".repeat(19_000),
      sentAt: new Date(Date.UTC(2026, 0, 1, i)).toISOString(),
    }));
    const body = { leads: [{ id: "lead-big-thread", messages }] };
    expect(JSON.stringify(body).length).toBeGreaterThan(256 * 1024);

    const res = await send("post", `${ws.base}/leads/batch`, ws.tokens.owner, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await h.db.leadMessage.count({ where: { clientId: ws.workspaceId, leadId: "lead-big-thread" } })).toBe(16);
  });
});

describe("query parameters", () => {
  const cases = [
    { label: "limit=0 on the session list", path: () => `${ws.base}/insights/sessions?limit=0`, field: "query.limit" },
    { label: "limit=abc on the session list", path: () => `${ws.base}/insights/sessions?limit=abc`, field: "query.limit" },
    { label: "limit=201 on the session list", path: () => `${ws.base}/insights/sessions?limit=201`, field: "query.limit" },
    { label: "cursor=garbage on the session list", path: () => `${ws.base}/insights/sessions?cursor=garbage`, field: "query.cursor" },
    {
      label: "includeDeleted=maybe on the session list",
      path: () => `${ws.base}/insights/sessions?includeDeleted=maybe`,
      field: "query.includeDeleted",
    },
    { label: "limit=0 on the audit log", path: () => `${ws.base}/insights/audit-events?limit=0`, field: "query.limit" },
    { label: "cursor=garbage on the audit log", path: () => `${ws.base}/insights/audit-events?cursor=garbage`, field: "query.cursor" },
    { label: "action=NOPE on the audit log", path: () => `${ws.base}/insights/audit-events?action=NOPE`, field: "query.action" },
    {
      label: "sessionId with illegal characters on the audit log",
      path: () => `${ws.base}/insights/audit-events?sessionId=${encodeURIComponent("no good!")}`,
      field: "query.sessionId",
    },
  ];

  it.each(cases)("refuses $label with 400 naming $field", async ({ path, field }) => {
    const res = await send("get", path(), ws.tokens.owner);
    expectValidationError(res, field);
  });

  it("refuses limit=abc on a session's messages with 400 naming query.limit", async () => {
    const session = await send("post", `${ws.base}/insights/sessions`, ws.tokens.owner, {});
    const res = await send("get", `${ws.base}/insights/sessions/${session.body.id}/messages?limit=abc`, ws.tokens.owner);
    expectValidationError(res, "query.limit");
  });

  it("refuses a cursor that is valid base64 JSON but not one the API returned", async () => {
    const forged = Buffer.from(JSON.stringify({ t: "not a date", id: "x" })).toString("base64url");
    const res = await send("get", `${ws.base}/insights/sessions?cursor=${forged}`, ws.tokens.owner);
    expectValidationError(res, "query.cursor");
  });
});

describe("path ids", () => {
  const cases = [
    {
      label: "a session id",
      method: "get",
      path: () => `${ws.base}/insights/sessions/${encodeURIComponent("bad id!")}`,
      field: "params.sessionId",
    },
    {
      label: "a session id on its messages",
      method: "get",
      path: () => `${ws.base}/insights/sessions/${encodeURIComponent("a/b")}/messages`,
      field: "params.sessionId",
    },
    {
      label: "a session id on delete",
      method: "delete",
      path: () => `${ws.base}/insights/sessions/${encodeURIComponent("<x>")}`,
      field: "params.sessionId",
    },
    {
      label: "a campaign id",
      method: "put",
      path: () => `${ws.base}/campaigns/${encodeURIComponent("cmp with spaces")}`,
      field: "params.campaignId",
      body: { name: "ok" },
    },
    { label: "a lead id", method: "get", path: () => `${ws.base}/leads/${encodeURIComponent("lead$1")}/insight`, field: "params.leadId" },
    {
      label: "an over-long session id",
      method: "get",
      path: () => `${ws.base}/insights/sessions/${"a".repeat(129)}`,
      field: "params.sessionId",
    },
  ];

  it.each(cases)("refuses $label with illegal characters with 400 naming $field", async ({ method, path, field, body }) => {
    const before = await snapshot(ws.workspaceId);
    const res = await send(method, path(), ws.tokens.owner, body);
    expectValidationError(res, field);
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });
});
