// GET /openapi.json against the app itself: the document, built from the route declarations (api/src/routes.ts),
// must list exactly the routes the Express router serves, with the auth and admin flags the permission matrix
// (tests/support/routes.ts) proves.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routeLabeler } from "@insights/api/http/route";
import { ALL_ROUTES } from "@insights/api/routes";
import { createHarness, type TestWorkspace } from "./support/harness.ts";
import { HOST_ROUTES, ROUTES } from "./support/routes.ts";

const h = createHarness();
let ws: TestWorkspace;
let doc: OpenApiDocument;

interface Operation {
  operationId: string;
  security: unknown[];
  parameters?: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
  "x-admin-only"?: boolean;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

beforeAll(async () => {
  ws = await h.seed({ leads: 1 });
  const res = await h.http.get("/openapi.json");
  expect(res.status).toBe(200);
  doc = res.body as OpenApiDocument;
});
afterAll(() => h.close());

/** What router 2.x's listRoutes() gives for one layer. */
interface ListedRoute {
  path: string;
  methods?: string[];
  router?: { listRoutes(): ListedRoute[] };
}

/** Every "METHOD /path" the Express app routes, mounts included, params written {name}. HEAD rides on GET. */
function servedRoutes(): string[] {
  const walk = (router: { listRoutes(): ListedRoute[] }, prefix: string): string[] =>
    router.listRoutes().flatMap((layer) => {
      const path = prefix + (layer.path === "/" ? "" : layer.path);
      if (layer.router) return walk(layer.router, path);
      return (layer.methods ?? []).filter((m) => m !== "HEAD").map((m) => `${m} ${path.replace(/:(\w+)/g, "{$1}")}`);
    });
  return walk((h.app as unknown as { router: { listRoutes(): ListedRoute[] } }).router, "").sort();
}

const documentedRoutes = () =>
  Object.entries(doc.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();

const operations = () => Object.values(doc.paths).flatMap((ops) => Object.values(ops));

describe("GET /openapi.json", () => {
  it("lists every route the Express app serves, and only those", () => {
    const served = servedRoutes();
    expect(served.length).toBeGreaterThan(25);
    // Bull Board and the web client are mounts (a subtree each) that the router cannot list; the next tests ask them.
    const mounts = ALL_ROUTES.filter((r) => r.mount).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(mounts).toEqual(["GET /admin/queues", "GET /app"]);
    expect(documentedRoutes().filter((r) => !mounts.includes(r))).toEqual(served);
  });

  it("lists Bull Board's mount, which answers (behind auth) rather than 404", async () => {
    expect(documentedRoutes()).toContain("GET /admin/queues");
    expect((await h.http.get("/admin/queues")).status).toBe(401);
  });

  it("lists the web client's mount, which serves its page", async () => {
    expect(documentedRoutes()).toContain("GET /app");
    const res = await h.http.get("/app");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
  });

  it("is an OpenAPI 3.1 document with paths, components and responses on every operation", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(["bearerAuth"]));
    expect(doc.components.schemas.Error).toMatchObject({ type: "object", required: ["error"] });
    const ids = operations().map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [path, ops] of Object.entries(doc.paths)) {
      expect(path.startsWith("/"), path).toBe(true);
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(["get", "post", "put", "patch", "delete"], where).toContain(method);
        const statuses = Object.keys(op.responses);
        expect(statuses.length, where).toBeGreaterThan(0);
        expect(
          statuses.some((s) => /^[23]\d\d$/.test(s)),
          `${where} has a success response`,
        ).toBe(true);
        // Every {param} in the path is a declared, required path parameter.
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          expect(
            op.parameters?.find((p) => p.in === "path" && p.name === name),
            `${where} declares ${name}`,
          ).toMatchObject({ required: true });
        }
      }
    }
    // Every $ref points at something the document defines.
    for (const [, section, name] of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)) {
      expect((doc.components as Record<string, Record<string, unknown>>)[section!]?.[name!], `${section}/${name}`).toBeDefined();
    }
  });

  it("describes bodies and queries as a client sends them, from the routes' zod schemas", () => {
    const sessions = doc.paths["/v1/workspaces/{workspaceId}/insights/sessions"]!;
    const query = Object.fromEntries((sessions.get!.parameters ?? []).filter((p) => p.in === "query").map((p) => [p.name, p]));
    // Defaults make a field optional for the client (io: "input"), whatever the parsed value always has.
    expect(query.includeDeleted).toMatchObject({ required: false, schema: { enum: ["true", "false"] } });
    expect(query.limit).toMatchObject({ required: false });
    expect(query.cursor).toMatchObject({ required: false, schema: { type: "string" } });

    const preferences = doc.paths["/v1/workspaces/{workspaceId}/insights/preferences"]!.put!;
    const body = preferences.requestBody!.content["application/json"]!.schema;
    expect(body).toMatchObject({ type: "object", additionalProperties: false });
    expect(body.required).toEqual(expect.arrayContaining(["windowPreset", "campaignCap"]));
    expect((body.properties as Record<string, unknown>).campaignCap).toMatchObject({ type: "integer", minimum: 1, maximum: 50 });
  });

  it("needs no credentials, and names the auth every other route needs", async () => {
    const res = await h.http.get("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/application\/json/);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) {
        if (path.startsWith("/v1/")) {
          expect(op.security, path).toEqual([{ bearerAuth: [] }]);
          expect(op.responses["401"], path).toBeDefined();
        }
      }
    }
  });

  it("marks exactly the routes the permission matrix proves admin-only", async () => {
    const labelOf = routeLabeler(ALL_ROUTES);
    for (const route of ROUTES) {
      const { path } = await route.prepare(h, ws);
      const spec = ALL_ROUTES.find((r) => r.method === route.method && r.path === labelOf(route.method, path.split("?")[0]!));
      expect(spec, route.name).toBeDefined();
      expect(spec!.access === "admin" || spec!.access === "adminOrService", route.name).toBe(route.adminOnly);
      const op = doc.paths[spec!.path]![route.method]!;
      expect(Boolean(op["x-admin-only"]), route.name).toBe(route.adminOnly);
      if (route.adminOnly) expect(op.responses["403"], route.name).toBeDefined();
    }
    // The matrix covers every workspace route in the table; the host's routes have their own suite.
    const workspaceRoutes = ALL_ROUTES.filter((r) => r.path.startsWith("/v1/"));
    expect(ROUTES.length + HOST_ROUTES.length).toBe(workspaceRoutes.length);
  });
});

describe("response schemas", () => {
  type ObjectSchema = {
    properties: Record<string, ObjectSchema>;
    required?: string[];
    anyOf?: ObjectSchema[];
    type?: string;
    format?: string;
  };
  const schemaOf = (operationId: string, status: string) => {
    const op = operations().find((o) => o.operationId === operationId)!;
    return (op.responses[status] as { content: Record<string, { schema: ObjectSchema }> }).content["application/json"]!.schema;
  };

  it("describe exactly the fields a session, a message and a pack come back with", async () => {
    const session = await h.http.post(`${ws.base}/insights/sessions`).set("Authorization", `Bearer ${ws.tokens.member}`).send({});
    const posted = await h.http
      .post(`${ws.base}/insights/sessions/${session.body.id}/messages`)
      .set("Authorization", `Bearer ${ws.tokens.member}`)
      .send({ content: "hello" });
    const pack = await h.http
      .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
      .set("Authorization", `Bearer ${ws.tokens.member}`)
      .send({});
    const keys = (o: object) => Object.keys(o).sort();
    expect(keys(schemaOf("createSession", "201").properties)).toEqual(keys(session.body));
    expect(keys(schemaOf("createMessage", "201").properties.message!.properties)).toEqual(keys(posted.body.message));
    const packSchema = schemaOf("requestPack", "202");
    expect(keys(packSchema.properties)).toEqual(keys(pack.body));
    expect(keys(packSchema.properties.progress!.properties)).toEqual(keys(pack.body.progress));
    expect(packSchema.properties.createdAt).toEqual({ type: "string", format: "date-time" });
  });
});
