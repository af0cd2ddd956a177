// Request bodies are capped before they are parsed: 10mb on the ingestion batch, 256kb everywhere else. A body over
// the cap gets 413 PAYLOAD_TOO_LARGE in the contract's error shape on every JSON route, and nothing is written.
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Response } from "supertest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { ROUTES } from "./support/routes.ts";

const KB = 1024;
const GENERAL_LIMIT = 256 * KB;
const INGESTION_LIMIT = 10 * KB * KB;

const h = createHarness();
let ws: TestWorkspace;

beforeAll(async () => {
  ws = await h.seed({ leads: 3 });
});
afterAll(() => h.close());

const limitOf = (path: string) => (path.endsWith("/leads/batch") ? INGESTION_LIMIT : GENERAL_LIMIT);

/** Everything a request could write in a workspace, read straight from the database. */
async function snapshot(workspaceId: string) {
  const where = { clientId: workspaceId };
  return Promise.all([
    h.db.insightChatSession.findMany({ where, orderBy: { id: "asc" } }),
    h.db.insightChatMessage.findMany({ where, orderBy: { id: "asc" } }),
    h.db.campaign.findMany({ where, orderBy: { id: "asc" } }),
    h.db.lead.findMany({ where, orderBy: { id: "asc" } }),
    h.db.leadMessage.count({ where }),
    h.db.insightChatAuditEvent.count({ where }),
    h.db.insightChatUserPreference.findMany({ where, orderBy: { userId: "asc" } }),
    h.db.insightContextPack.findMany({ where, orderBy: { id: "asc" } }),
    h.db.workspaceSettings.findUnique({ where }),
  ]);
}

/** The route's own valid body, padded with one string field until the JSON text is `bytes` long. */
function paddedBody(body: object | undefined, bytes: number): string {
  const base = JSON.stringify({ ...body, padding: "" });
  return JSON.stringify({ ...body, padding: "x".repeat(bytes - base.length) });
}

function expectPayloadTooLarge(res: Response): void {
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(413);
  expect(res.body).toEqual({
    error: { code: "PAYLOAD_TOO_LARGE", message: expect.any(String), requestId: res.headers["x-request-id"] },
  });
}

const jsonRoutes = ROUTES.filter((r) => r.method === "post" || r.method === "put" || r.method === "patch");

describe.each(jsonRoutes)("$name", (route) => {
  it("refuses a body one byte over its limit with 413 PAYLOAD_TOO_LARGE and writes nothing", async () => {
    const { path, body } = await route.prepare(h, ws);
    const text = paddedBody(body, limitOf(path) + 1);
    expect(Buffer.byteLength(text)).toBe(limitOf(path) + 1);
    const before = await snapshot(ws.workspaceId);

    const res = await h.http[route.method](path).set(bearer(ws.tokens.owner)).set("Content-Type", "application/json").send(text);

    expectPayloadTooLarge(res);
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });
});

describe("body limits", () => {
  it("reads a body exactly at the limit and judges it on its content", async () => {
    const before = await snapshot(ws.workspaceId);
    const res = await h.http
      .post(`${ws.base}/insights/sessions`)
      .set(bearer(ws.tokens.owner))
      .set("Content-Type", "application/json")
      .send(paddedBody({ title: "Limit" }, GENERAL_LIMIT));

    // Parsed, then refused for its unknown field: the size alone was acceptable.
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ path: "body" })]);
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });

  it("counts a compressed body by its inflated size, so a gzip bomb gets 413", async () => {
    const text = paddedBody({ title: "Bomb" }, 2 * GENERAL_LIMIT);
    const compressed = gzipSync(text);
    expect(compressed.length).toBeLessThan(GENERAL_LIMIT / 50);
    const before = await snapshot(ws.workspaceId);

    const res = await h.http
      .post(`${ws.base}/insights/sessions`)
      .set(bearer(ws.tokens.owner))
      .set("Content-Type", "application/json")
      .set("Content-Encoding", "gzip")
      // Send the compressed bytes as they are: superagent would otherwise JSON-encode a Buffer.
      .serialize((raw: Buffer) => raw as unknown as string)
      .send(compressed);

    expectPayloadTooLarge(res);
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });

  it("refuses a body that claims gzip but is not with 400, never 500", async () => {
    const before = await snapshot(ws.workspaceId);
    const res = await h.http
      .post(`${ws.base}/insights/sessions`)
      .set(bearer(ws.tokens.owner))
      .set("Content-Type", "application/json")
      .set("Content-Encoding", "gzip")
      .send(JSON.stringify({ title: "not compressed" }));

    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({ code: "VALIDATION_FAILED", requestId: res.headers["x-request-id"] });
    expect(await snapshot(ws.workspaceId)).toEqual(before);
  });

  it("answers 401 to an anonymous over-limit body without reading it", async () => {
    const res = await h.http
      .post(`${ws.base}/leads/batch`)
      .set("Content-Type", "application/json")
      .send(paddedBody({}, INGESTION_LIMIT + 1));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("UNAUTHENTICATED");
  });
});
