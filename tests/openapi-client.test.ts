// GET /openapi.json is good enough to generate a client from: it lints clean under Redocly's recommended rules (the
// engine `redocly lint` runs, here in-process and offline), openapi-typescript turns it into types, and the real
// responses of a client's flow through the API typecheck against those types, while a response with one wrong field
// does not.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import openapiTS, { astToString, type OpenAPI3 } from "openapi-typescript";
import { beforeAll, describe, expect, it } from "vitest";
import { bearer, type TestWorkspace } from "./support/harness.ts";
import { useFakeModelWorker, waitFor } from "./support/worker-harness.ts";

const { h, fake } = await useFakeModelWorker();
let doc: OpenAPI3;

beforeAll(async () => {
  doc = (await h.http.get("/openapi.json")).body as OpenAPI3;
});

describe("GET /openapi.json", () => {
  it("lints clean under Redocly's recommended rules", async () => {
    const config = await createConfig({
      extends: ["recommended"],
      // Health, readiness and this document answer no 4xx: nothing about them can be wrong.
      rules: { "operation-4xx-response": "off" },
    });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: "openapi.json", config });
    const found = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(found).toEqual([]);
  });
});

/** One real response, and the operation whose generated type it must satisfy. */
interface Sample {
  path: string;
  method: "get" | "post" | "put" | "patch" | "delete";
  status: number;
  body: unknown;
}

const WS = "/v1/workspaces/{workspaceId}";
const INSIGHTS = `${WS}/insights`;

/** A member's and an admin's way through the API, with every response kept. */
async function clientFlow(ws: TestWorkspace): Promise<{ samples: Sample[]; etag: string }> {
  const samples: Sample[] = [];
  const call = async (method: Sample["method"], path: string, url: string, token: string, body?: object) => {
    const req = h.http[method](`${ws.base}${url}`).set(bearer(token));
    const res = body ? await req.send(body) : await req;
    expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    samples.push({ path, method, status: res.status, body: res.body });
    return res;
  };
  const { member, owner } = ws.tokens;

  await call("patch", `${INSIGHTS}/settings`, "/insights/settings", owner, { insightsChatEnableCampaignChanges: true });
  await call("put", `${INSIGHTS}/preferences`, "/insights/preferences", member, { windowPreset: "LAST_90_DAYS", campaignCap: 5 });
  const session = (await call("post", `${INSIGHTS}/sessions`, "/insights/sessions", member, { title: "Typed" })).body;
  const sessionUrl = `/insights/sessions/${session.id}`;
  const requested = await call("post", `${INSIGHTS}/sessions/{sessionId}/packs`, `${sessionUrl}/packs`, member, {});
  const packUrl = `/insights/packs/${requested.body.id}`;
  const complete = await waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}${packUrl}`).set(bearer(member));
      return res.body.status === "COMPLETE" ? res : undefined;
    },
    { what: "the pack to complete" },
  );
  samples.push({ path: `${INSIGHTS}/packs/{packId}`, method: "get", status: 200, body: complete.body });
  // The same scope again: the existing pack, 200.
  await call("post", `${INSIGHTS}/sessions/{sessionId}/packs`, `${sessionUrl}/packs`, member, {});
  await call("get", `${INSIGHTS}/sessions/{sessionId}/packs`, `${sessionUrl}/packs?limit=10`, member);

  const asked = await call("post", `${INSIGHTS}/sessions/{sessionId}/messages`, `${sessionUrl}/messages`, member, {
    content: "What should we change?",
  });
  expect(asked.body.reply).not.toBeNull();
  const messages = await waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}${sessionUrl}/messages`).set(bearer(member));
      const reply = res.body.messages.find((m: { id: string }) => m.id === asked.body.reply.id);
      return reply?.status === "COMPLETE" ? res : undefined;
    },
    { what: "the reply" },
  );
  samples.push({ path: `${INSIGHTS}/sessions/{sessionId}/messages`, method: "get", status: 200, body: messages.body });

  await call("get", `${INSIGHTS}/sessions`, "/insights/sessions", member);
  await call("get", `${INSIGHTS}/usage`, "/insights/usage", owner);
  await call("get", `${INSIGHTS}/audit-events`, "/insights/audit-events", owner);
  return { samples, etag: complete.headers.etag as string };
}

describe("a client generated from it", () => {
  it("typechecks against the API's real responses, and not against a wrong one", { timeout: 120_000 }, async () => {
    const ws = await h.seed({ leads: 8 });
    fake.respond("chat_answer", () => ({
      answer: "Pause the cold campaign.",
      citedLeadIds: [],
      suggestedActions: [
        { type: "CAMPAIGN_CHANGE", title: "Pause it", rationale: "Nobody replies", campaignId: ws.campaignIds[0], leadIds: [] },
      ],
    }));
    const { samples, etag } = await clientFlow(ws);
    const pack = samples.find((s) => s.path.endsWith("/packs/{packId}"))!.body as { progress: object; metrics: { counts: object } | null };
    expect(pack.metrics?.counts).toBeDefined();
    const listed = samples.find((s) => s.path.endsWith("/messages") && s.method === "get")!.body as {
      messages: Array<{ suggestions: unknown[] | null }>;
    };
    expect(listed.messages.some((m) => (m.suggestions ?? []).length > 0)).toBe(true);

    const dir = await mkdtemp(join(tmpdir(), "insights-client-"));
    try {
      await writeFile(join(dir, "api.ts"), astToString(await openapiTS(doc)));
      const typed = (s: Sample) => `Json<"${s.path}", "${s.method}", ${s.status}>`;
      await writeFile(
        join(dir, "flow.ts"),
        [
          `import type { paths } from "./api.ts";`,
          `export type Json<P extends keyof paths, M extends keyof paths[P], S extends number> =`,
          `  paths[P][M] extends { responses: { [K in S]: { content: { "application/json": infer B } } } } ? B : never;`,
          ...samples.map((s, i) => `export const sample${i} = ${JSON.stringify(s.body)} satisfies ${typed(s)};`),
          // What a polling client reads: the ETag it sends back, the progress, the metrics, the suggestions.
          `type GetPack = paths["${INSIGHTS}/packs/{packId}"]["get"];`,
          `export const etag: GetPack["responses"][200]["headers"]["ETag"] = ${JSON.stringify(etag)};`,
          `export const ifNoneMatch: NonNullable<GetPack["parameters"]["header"]>["If-None-Match"] = etag;`,
          `type Pack = Json<"${INSIGHTS}/packs/{packId}", "get", 200>;`,
          `export const percent = (pack: Pack): number => pack.progress.percent;`,
          `export const interested = (pack: Pack): number | undefined => pack.metrics?.byOutcome.INTERESTED;`,
          `type Messages = Json<"${INSIGHTS}/sessions/{sessionId}/messages", "get", 200>;`,
          `export const actions = (page: Messages): Array<"CAMPAIGN_CHANGE" | "EXPERIMENT_WRITE" | "FOLLOWUP_PAUSE"> =>`,
          `  page.messages.flatMap((m) => (m.suggestions ?? []).map((s) => s.type));`,
        ].join("\n"),
      );
      // The control: the completed pack with one field of the wrong type must not typecheck.
      const wrong = { ...pack, progress: { ...pack.progress, percent: "100" } };
      await writeFile(
        join(dir, "wrong.ts"),
        `import type { Json } from "./flow.ts";\nexport const pack = ${JSON.stringify(wrong)} satisfies Json<"${INSIGHTS}/packs/{packId}", "get", 200>;\n`,
      );
      await writeFile(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: "ES2023",
            module: "preserve",
            moduleResolution: "bundler",
            allowImportingTsExtensions: true,
            noUncheckedIndexedAccess: true,
            types: [],
          },
          include: ["*.ts"],
        }),
      );
      const errors = await typecheck(dir);
      expect(errors.filter((line) => !line.startsWith("wrong.ts"))).toEqual([]);
      expect(errors.join("\n")).toMatch(/^wrong\.ts\(\d+,\d+\): error TS2322: .*'string' is not assignable to type 'number'/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const TSC = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));

/** The project's own compiler over `dir`: its error lines (none when it passes). */
async function typecheck(dir: string): Promise<string[]> {
  try {
    await promisify(execFile)(process.execPath, [TSC, "-p", dir, "--pretty", "false"], { cwd: dir });
    return [];
  } catch (error) {
    const { stdout } = error as { stdout?: string };
    if (!stdout) throw error;
    return stdout.split("\n").filter((line) => /error TS\d+/.test(line));
  }
}
