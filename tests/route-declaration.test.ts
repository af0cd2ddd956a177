// What a route declaration (api/src/http/route.ts) can say beyond today's routes, served and documented the same way:
// a text/event-stream response written by its handler, a route outside /v1/workspaces/{workspaceId}, and a
// request header parsed and validated like any other input.
import express from "express";
import request from "supertest";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticate } from "@insights/api/auth/guards";
import { INSIGHTS_PATH, sessionPath } from "@insights/api/http/common.schema";
import { errorHandler, routeNotFound } from "@insights/api/http/error-handler";
import { mountRoutes } from "@insights/api/http/mount-routes";
import { assignRequestId } from "@insights/api/http/request-context";
import { defineRoute, type RouteDeps } from "@insights/api/http/route";
import { buildOpenApiDocument } from "@insights/api/ops/openapi";
import { createLogger } from "@insights/shared/logger";
import { bearer, createHarness, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;

const events = defineRoute({
  operationId: "sessionEvents",
  method: "get",
  path: `${INSIGHTS_PATH}/sessions/{sessionId}/events`,
  summary: "A session's events as they happen",
  tag: "insights",
  access: "member",
  params: sessionPath,
  headers: z.object({ "Last-Event-ID": z.string().optional() }),
  responses: { 200: { description: "Server-sent events", contentType: "text/event-stream" } },
  handle: ({ params, headers, res }) => {
    res.type("text/event-stream");
    res.write(`id: 1\ndata: ${JSON.stringify({ sessionId: params.sessionId, after: headers["Last-Event-ID"] ?? null })}\n\n`);
    res.end();
  },
});

const me = defineRoute({
  operationId: "getMe",
  method: "get",
  path: "/v1/me",
  summary: "Who the token belongs to",
  tag: "insights",
  access: "member",
  responses: { 200: { description: "The caller", body: z.object({ userId: z.string() }) } },
  handle: ({ req }) => ({ status: 200, body: { userId: req.userId ?? "" } }),
});

const things = defineRoute({
  operationId: "createThing",
  method: "post",
  path: "/v1/things",
  summary: "Create a thing once per Idempotency-Key",
  tag: "insights",
  access: "member",
  headers: z.object({ "Idempotency-Key": z.string().min(8).max(128) }),
  body: z.strictObject({ name: z.string().min(1) }),
  responses: { 201: { description: "The thing", body: z.object({ key: z.string(), name: z.string() }) } },
  handle: ({ headers, body }) => ({ status: 201, body: { key: headers["Idempotency-Key"], name: body.name } }),
});

const routes = [events, me, things];
let http: ReturnType<typeof request>;

beforeAll(async () => {
  ws = await h.seed({ leads: 1 });
  const app = express();
  app.use(assignRequestId);
  app.use("/v1", authenticate(TEST_JWT_SECRET));
  // Only the guards' own dependencies are used by these routes.
  app.use(mountRoutes(routes, { db: h.db, opsAdmins: [] } as unknown as RouteDeps));
  app.use(routeNotFound);
  app.use(errorHandler(createLogger("route-declaration-test", "silent")));
  http = request(app);
});
afterAll(() => h.close());

describe("a route declaration", () => {
  it("serves a text/event-stream its handler writes, behind the membership guard, with a parsed request header", async () => {
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const url = `${ws.base}/insights/sessions/${session.body.id}/events`;
    const res = await http.get(url).set(bearer(ws.tokens.member)).set("Last-Event-ID", "41");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    expect(res.text).toBe(`id: 1\ndata: ${JSON.stringify({ sessionId: session.body.id, after: "41" })}\n\n`);
    expect((await http.get(url).set(bearer(ws.tokens.outsider))).status).toBe(404);
  });

  it("serves a route outside any workspace to any signed-in user, and 401 without a token", async () => {
    const res = await http.get("/v1/me").set(bearer(ws.tokens.outsider));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ userId: ws.users.outsider.id });
    expect((await http.get("/v1/me")).status).toBe(401);
  });

  it("refuses a missing or malformed request header with 400 naming it", async () => {
    const missing = await http.post("/v1/things").set(bearer(ws.tokens.member)).send({ name: "a" });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.fields).toEqual([{ path: "headers.Idempotency-Key", message: expect.any(String) }]);
    const short = await http.post("/v1/things").set(bearer(ws.tokens.member)).set("Idempotency-Key", "abc").send({ name: "a" });
    expect(short.status).toBe(400);
    const ok = await http.post("/v1/things").set(bearer(ws.tokens.member)).set("idempotency-key", "key-12345").send({ name: "a" });
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ key: "key-12345", name: "a" });
  });

  it("is documented like every other route: stream content type, header parameters, 413 on its JSON body", () => {
    const doc = buildOpenApiDocument(routes) as unknown as {
      paths: Record<
        string,
        Record<
          string,
          { parameters: Array<{ name?: string; in?: string; required?: boolean }>; responses: Record<string, { content?: object }> }
        >
      >;
    };
    const stream = doc.paths[`${INSIGHTS_PATH}/sessions/{sessionId}/events`]!.get!;
    expect(Object.keys(stream.responses[200]!.content!)).toEqual(["text/event-stream"]);
    expect(stream.parameters).toContainEqual(expect.objectContaining({ name: "Last-Event-ID", in: "header", required: false }));
    const create = doc.paths["/v1/things"]!.post!;
    expect(create.parameters).toContainEqual(expect.objectContaining({ name: "Idempotency-Key", in: "header", required: true }));
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(["201", "400", "401", "413", "429"]));
    expect(Object.keys(doc.paths["/v1/me"]!.get!.responses)).not.toContain("404");
  });
});
