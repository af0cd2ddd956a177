// Property-based fuzzing of every route in the shared table: arbitrary JSON, structured mutations of each route's
// valid body, hostile path ids and query strings, sent as an owner, a member and an outsider. Whatever arrives, the
// answer is one of the contract's statuses, never a 500, and every error has the contract's shape. Seeds and run
// counts are fixed, so a run is reproducible and its cost bounded (1,990 requests when every property holds; a
// failing property stops at its first counterexample). The count goes to tests/.results/fuzz.json.
import { mkdir, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Response } from "supertest";
import { errorStatus } from "@insights/api/http/app-error";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { ROUTES, type RouteCase } from "./support/routes.ts";

const SEED = 20_261_125;
const BODY_RUNS = 100;
const PATH_RUNS = 40;
const QUERY_RUNS = 80;
const OTHER_QUERY_RUNS = 15;
const WORKSPACE_RUNS = 60;
const CONTRACT_STATUSES = new Set([200, 201, 202, 204, 304, 400, 401, 403, 404, 409, 413, 429]);
const RESULTS = new URL("./.results/fuzz.json", import.meta.url);

const h = createHarness();
let ws: TestWorkspace;
const tally = { requests: 0, serverErrors: 0 };
const startedAt = Date.now();

beforeAll(async () => {
  ws = await h.seed({ leads: 3 });
});
afterAll(async () => {
  await h.close();
  const durationMs = Date.now() - startedAt;
  console.log(`fuzzed ${tally.requests} requests, ${tally.serverErrors} server errors (${(durationMs / 1000).toFixed(1)} s)`);
  await mkdir(new URL(".", RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify({ ...tally, seed: SEED, durationMs }, null, 2)}\n`);
});

/** A stable per-property seed, so adding a route does not reshuffle the others' inputs. */
const seedOf = (label: string) => [...label].reduce((acc, c) => (acc * 31 + c.charCodeAt(0)) | 0, SEED);

type Caller = "owner" | "member" | "outsider";
// Owners reach every code path; members and outsiders check that refusals keep the contract's shape too.
const caller = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Caller>("owner") },
  { weight: 1, arbitrary: fc.constantFrom<Caller>("member", "outsider") },
);

interface FuzzRequest {
  method: RouteCase["method"];
  path: string;
  as: Caller;
  contentType?: string;
  /** Raw body text, sent as is. */
  body?: string;
}

/** Sends one request and checks the answer against the contract. */
async function fuzz(request: FuzzRequest): Promise<void> {
  let req = h.http[request.method](request.path).set(bearer(ws.tokens[request.as]));
  if (request.body !== undefined) {
    req = req.set("Content-Type", request.contentType ?? "application/json").send(request.body);
  }
  const res = await req;
  tally.requests++;
  if (res.status >= 500) tally.serverErrors++;
  expectContractAnswer(res, `${request.method.toUpperCase()} ${request.path.slice(0, 300)} as ${request.as}`);
}

function expectContractAnswer(res: Response, label: string): void {
  const detail = `${label} → ${res.status} ${res.text?.slice(0, 300)}`;
  expect(CONTRACT_STATUSES.has(res.status), detail).toBe(true);
  if (res.status < 400) return;
  expect(res.headers["content-type"], detail).toMatch(/^application\/json/);
  const { error, ...rest } = res.body as { error: Record<string, unknown> };
  expect(rest, detail).toEqual({});
  expect(error, detail).toEqual({
    code: expect.any(String),
    message: expect.any(String),
    requestId: res.headers["x-request-id"],
    ...(error?.details !== undefined ? { details: expect.any(Object) } : {}),
  });
  expect(errorStatus[error.code as keyof typeof errorStatus], detail).toBe(res.status);
  // No stack frame, ORM or SQL text leaks into an answer (ids cannot hold spaces, so these never echo input).
  expect(res.text, detail).not.toMatch(/\bat .+\.[jt]s:\d+|PrismaClient|invocation in|Database error|SELECT |INSERT /);
}

// ---- values ---------------------------------------------------------------------------------------------------

const NASTY_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\uFEFF",
  "\u202Etxt.exe",
  "\uD800",
  "\uDFFF\uD800",
  "😀".repeat(60),
  "é".normalize("NFD"),
  "NaN",
  "Infinity",
  "-Infinity",
  "-1",
  "0",
  "1e309",
  "9007199254740993",
  "0x10",
  "null",
  "true",
  "undefined",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "prototype",
  "../../etc/passwd",
  "..",
  "%00",
  "<script>alert(1)</script>",
  '\'; DROP TABLE "Lead"; --',
  "$where",
  '{"$gt":""}',
  "2026-02-30",
  "2026-13-01",
  "0000-01-01",
  "9999-12-31",
  "9999-12-31T23:59:59-14:00",
  "0001-01-01T00:00:00+14:00",
  "2026-01-01T00:00:00+99:99",
  "+275760-09-13T00:00:00Z",
  "-000001-01-01T00:00:00Z",
  "1970-01-01T00:00:00Z",
  "2026-11-01T10:00:00.123456789Z",
  "LAST_7_DAYS",
  "CUSTOM",
  "INBOUND",
  "OUTBOUND",
  "OWNER",
  "high",
];
const NASTY_NUMBERS = [-1, 0, 1, -0, 0.5, 1e-7, 2 ** 31, -(2 ** 31), 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 501, 1001, 50, 51];

/** Long strings: over each field's cap, and now and then over the body limit. */
const LONG_STRINGS = [201, 8001, 20_001, 70_000, 300_000];

/** Hostile leaf values; `longest` caps the long strings (a URL over Node's 16 kB header limit never reaches the app). */
const leafJunkUpTo = (longest: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_NUMBERS) },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(...LONG_STRINGS.filter((n) => n <= longest)).map((n) => "x".repeat(n)) },
  );
const leafJunk = leafJunkUpTo(Infinity);

const objectKey = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "", " ", "\u0000", "id", "title"),
  fc.string({ maxLength: 12 }),
);

/** An object whose own keys may be `__proto__` and friends (defined, not assigned, so they stay plain keys). */
function ownObject(entries: Array<[string, unknown]>): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return target;
}

const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: leafJunk },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(leafJunk, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.array(fc.tuple(objectKey, leafJunk), { maxLength: 4 }).map(ownObject) },
  { weight: 1, arbitrary: fc.constant(JSON.parse('{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"polluted": 1}}}')) },
);

// ---- structured mutations of a valid body -------------------------------------------------------------------

type Segment = string | number;
type Drawn<A> = A extends fc.Arbitrary<infer T> ? T : never;

function pathsOf(value: unknown, prefix: Segment[] = []): Segment[][] {
  const paths = [prefix];
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      paths.push(...pathsOf(v, [...prefix, i]));
    });
  } else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) paths.push(...pathsOf(v, [...prefix, key]));
  }
  return paths;
}

/** A copy of `root` with the node at `path` replaced by `change(node)`; the input is never modified. */
function updateAt(root: unknown, path: Segment[], change: (node: unknown) => unknown): unknown {
  if (path.length === 0) return change(root);
  const [head, ...rest] = path as [Segment, ...Segment[]];
  const node = root as Record<Segment, unknown>;
  const next = updateAt(node[head], rest, change);
  if (Array.isArray(root)) return root.map((v, i) => (i === head ? next : v));
  return ownObject(Object.entries(root as object).map(([k, v]) => [k, k === head ? next : v]));
}

const MUTATIONS = ["replace", "addKey", "deleteKey", "wrapInArray", "repeat", "stringify", "nest"] as const;

const mutation = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom(...MUTATIONS),
  value: junk,
  key: objectKey,
  times: fc.constantFrom(0, 2, 3, 501, 1001),
});

function applyMutation(body: unknown, m: Drawn<typeof mutation>): unknown {
  const paths = pathsOf(body);
  const path = paths[m.at % paths.length]!;
  return updateAt(body, path, (node) => {
    switch (m.kind) {
      case "replace":
        return m.value;
      case "addKey":
        return node !== null && typeof node === "object" && !Array.isArray(node)
          ? ownObject([...Object.entries(node), [m.key, m.value]])
          : ownObject([[m.key, m.value]]);
      case "deleteKey": {
        if (node === null || typeof node !== "object") return undefined;
        if (Array.isArray(node)) return node.slice(1);
        return ownObject(Object.entries(node).slice(1));
      }
      case "wrapInArray":
        return [node];
      case "repeat":
        return Array.from({ length: m.times }, () => node);
      case "stringify":
        return JSON.stringify(node);
      case "nest":
        return { value: node };
    }
  });
}

/** One to three shape mutations anywhere in the valid body: wrong types, extra and missing keys, arrays, nesting. */
const mutatedBody = (valid: object) =>
  fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => JSON.stringify(ms.reduce(applyMutation, valid)) ?? "");

/** Characters that pass a schema's string checks and then meet the database, the logs and the LLM prompt. */
const TAINTS = ["\u0000", "\uD800", "\u202E", "\uFEFF", "😀", "'", "\\", "%00", "\r\n", "\t", " "];
/** Dates a date schema may accept that a timestamp column or `Date` cannot hold, or that sit on an edge. */
const EDGE_DATES = [
  "0000-01-01",
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00+14:00",
  "9999-12-31",
  "9999-12-31T23:59:59-14:00",
  "1969-12-31T23:59:59.999Z",
  "2028-02-29",
  "2026-02-30",
  "2026-01-01T24:00:00Z",
  "+275760-09-13T00:00:00Z",
];
const DATE_LIKE = /^\d{4}-\d{2}-\d{2}/;

const taint = fc.record({
  at: fc.nat(),
  text: fc.oneof({ weight: 3, arbitrary: fc.constant("\u0000") }, { weight: 4, arbitrary: fc.constantFrom(...TAINTS) }),
  where: fc.constantFrom("before", "after", "instead"),
  nastyString: fc.constantFrom(...NASTY_STRINGS),
  edgeDate: fc.constantFrom(...EDGE_DATES),
  nastyNumber: fc.constantFrom(...NASTY_NUMBERS),
});

function taintLeaf(node: unknown, t: Drawn<typeof taint>): unknown {
  if (typeof node === "number") return t.nastyNumber;
  if (typeof node !== "string") return t.nastyString;
  if (DATE_LIKE.test(node) && t.where !== "instead") return t.edgeDate;
  if (t.where === "instead") return t.nastyString;
  return t.where === "before" ? `${t.text}${node}` : `${node}${t.text}`;
}

/**
 * The valid body with exactly one leaf made hostile and the rest left valid, so the value gets past the shape
 * checks and reaches what lies behind them: a NUL in a name, a date no column can hold, a number on the edge.
 */
const taintedBody = (valid: object) => {
  const leaves = pathsOf(valid).filter((path) => {
    const node = path.reduce<unknown>((n, k) => (n as Record<Segment, unknown>)[k], valid);
    return node === null || typeof node !== "object";
  });
  return taint.map((t) => {
    if (leaves.length === 0) return JSON.stringify(ownObject([["force", taintLeaf("", t)]]));
    return JSON.stringify(updateAt(valid, leaves[t.at % leaves.length]!, (node) => taintLeaf(node, t)));
  });
};

/** Text that is not quite JSON: truncated, doubled, comments, trailing commas, other encodings' bytes. */
const brokenJson = (valid: object) => {
  const text = JSON.stringify(valid);
  return fc.oneof(
    fc.nat({ max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n)),
    fc.constantFrom(`${text}${text}`, `${text},`, `[${text}]`, `// c\n${text}`, text.replace(/"/g, "'"), "", " ", "\u0000"),
    fc.string({ unit: "binary", maxLength: 60 }),
  );
};

const bodyText = (valid: object) =>
  fc.oneof(
    { weight: 4, arbitrary: taintedBody(valid) },
    { weight: 3, arbitrary: mutatedBody(valid) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? "") },
    { weight: 1, arbitrary: brokenJson(valid) },
  );

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant("application/json") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "application/json; charset=utf-16le",
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/merge-patch+json",
    ),
  },
);

// ---- path ids and query strings --------------------------------------------------------------------------------

/** Percent-encodes any string, lone surrogates included (they go out as U+FFFD, as a UTF-8 client sends them). */
const encode = (value: unknown) => encodeURIComponent(Buffer.from(String(value)).toString("utf8"));

/** Path segments as they go on the wire: most percent-encoded, some raw and deliberately malformed. */
const pathSegment = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map(encode) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }).map(encode) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "..",
      ".",
      "%2e%2e",
      "%2E%2E%2F",
      "..%2F..%2Fadmin",
      "%00",
      "a%00b",
      "%",
      "%E0%A4%A",
      "%C0%AF",
      "%ZZ",
      "%u0041",
      "__proto__",
      "constructor",
      "prototype",
      "-1",
      "0",
      "NaN",
      "null",
      "undefined",
      "%20",
      "+",
      "*",
      "a;b=c",
      "%3Cscript%3E",
      "~",
      "!",
      "%F0%9F%98%80",
      "%EF%BB%BF",
      "%FF%FE",
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 129, max: 8000 }).map((n) => "a".repeat(n)) },
  { weight: 1, arbitrary: fc.uuid() },
);

/** A route that reads no query gets every route's parameters (and ignores them). */
const ALL_QUERY_KEYS = [...new Set(ROUTES.flatMap((r) => r.queryKeys))];

const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? "").toString("base64url");
const queryLeaf = leafJunkUpTo(8001);
/** Cursors are base64url JSON `{t, id}`: forge well-formed ones with hostile fields, and plain garbage. */
const cursorValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({
        t: fc.oneof(fc.constant("2026-01-01T00:00:00.000Z"), fc.constantFrom(...EDGE_DATES), queryLeaf),
        id: fc.oneof(fc.constantFrom(...TAINTS, "a\u0000b"), queryLeaf),
      })
      .map(base64Json),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map(base64Json) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);

const queryValue = fc.oneof(
  { weight: 4, arbitrary: queryLeaf.map(encode) },
  { weight: 1, arbitrary: cursorValue.map(encode) },
  { weight: 2, arbitrary: fc.constantFrom(...EDGE_DATES).map(encode) },
  { weight: 1, arbitrary: fc.constantFrom("%", "%00", "%E0%A4%A", "true", "false", "TRUE", "1", "200", "201", "0", "-5", "1e3") },
);
/** What a parameter's value is drawn from: its own kind of hostile value most of the time. */
const valueFor = (key: string): fc.Arbitrary<string> => {
  if (key === "cursor") return fc.oneof({ weight: 3, arbitrary: cursorValue.map(encode) }, { weight: 1, arbitrary: queryValue });
  if (key === "from" || key === "to") {
    return fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...EDGE_DATES).map(encode) }, { weight: 1, arbitrary: queryValue });
  }
  return queryValue;
};

const queryString = (keys: string[]) =>
  fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...keys).chain((key) => valueFor(key).map((value) => `${key}=${value}`)) },
        {
          weight: 1,
          arbitrary: fc
            .constantFrom("__proto__", "constructor", "limit[]", "cursor[a]", "a.b", "%", "")
            .chain((key) => queryValue.map((value) => `${key}=${value}`)),
        },
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((pairs) => pairs.join("&"))
    .filter((query) => query.length < 12_000);

/** The route's resource id in its path (campaign, lead, session or pack). */
const ID_SEGMENT = /\/(campaigns|leads|sessions|packs)\/([^/?]+)/;

// ---- the properties --------------------------------------------------------------------------------------------

const withBody = ROUTES.filter((r) => r.method === "post" || r.method === "put" || r.method === "patch");
const withId = ROUTES.filter((r) => r.name.includes(":id"));
const readable = ROUTES.filter((r) => r.method === "get");

const runOptions = (label: string, numRuns: number) => ({ seed: seedOf(label), numRuns, endOnFailure: true });

/** More valid bodies for some routes, so the fuzzer also starts from the optional fields the table's body leaves out. */
const MORE_VALID_BODIES: Record<string, (ws: TestWorkspace) => object[]> = {
  "POST leads/batch": (ws) => [
    {
      leads: [
        {
          id: "lead-fuzz",
          name: "Ana Fuzz",
          email: "ana@example.test",
          campaignId: ws.campaignIds[1],
          messages: [
            { id: "m1", direction: "OUTBOUND", body: "Hello", sentAt: "2026-10-01T10:00:00+02:00" },
            { id: "m2", direction: "INBOUND", body: "Tell me more", sentAt: "2026-10-02T10:00:00Z" },
          ],
        },
      ],
    },
  ],
  "POST sessions/:id/packs": (ws) => [
    {
      window: { preset: "CUSTOM", from: "2026-01-01", to: "2026-02-01T00:00:00Z" },
      campaignIds: ws.campaignIds.slice(0, 2),
      campaignCap: 5,
    },
  ],
  "PUT preferences": () => [{ windowPreset: "CUSTOM", customFrom: "2026-01-01", customTo: "2026-03-01T00:00:00+02:00", campaignCap: 5 }],
  "PATCH settings": () => [
    {
      insightsChatModel: "gpt-5-mini",
      insightsChatReasoningEffort: "low",
      insightsChatEnableCampaignChanges: true,
      insightsChatEnableExperimentWrites: false,
      insightsChatEnableFollowupPauses: true,
    },
  ],
  "POST packs/:id/recompute": () => [{ force: true }],
};

describe.each(withBody)("$name with fuzzed bodies", (route) => {
  it("answers every body with a contract status and error shape, never a 500", { timeout: 120_000 }, async () => {
    const { path, body } = await route.prepare(h, ws);
    const validBodies = [body ?? {}, ...(MORE_VALID_BODIES[route.name]?.(ws) ?? [])];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...validBodies).chain(bodyText), contentType, caller, (text, type, as) =>
        fuzz({ method: route.method, path, as, body: text, contentType: type }),
      ),
      runOptions(`body ${route.name}`, BODY_RUNS),
    );
  });
});

describe.each(withId)("$name with fuzzed path ids", (route) => {
  it("answers every id with a contract status and error shape, never a 500", { timeout: 120_000 }, async () => {
    const { path, body } = await route.prepare(h, ws);
    expect(path).toMatch(ID_SEGMENT);
    await fc.assert(
      fc.asyncProperty(pathSegment, caller, (segment, as) =>
        fuzz({
          method: route.method,
          path: path.replace(ID_SEGMENT, (_m, kind: string) => `/${kind}/${segment}`),
          as,
          ...(body ? { body: JSON.stringify(body) } : {}),
        }),
      ),
      runOptions(`id ${route.name}`, PATH_RUNS),
    );
  });
});

describe.each(readable)("$name with fuzzed query strings", (route) => {
  it("answers every query with a contract status and error shape, never a 500", { timeout: 120_000 }, async () => {
    const { path } = await route.prepare(h, ws);
    const [pathname] = path.split("?");
    const keys = route.queryKeys;
    await fc.assert(
      fc.asyncProperty(queryString(keys.length > 0 ? keys : ALL_QUERY_KEYS), caller, (query, as) =>
        fuzz({ method: "get", path: `${pathname}?${query}`, as }),
      ),
      runOptions(`query ${route.name}`, keys.length > 0 ? QUERY_RUNS : OTHER_QUERY_RUNS),
    );
  });
});

describe("workspace ids", () => {
  it("answers every workspace id in every route's path with a contract status, never a 500", { timeout: 120_000 }, async () => {
    const prepared = await Promise.all(ROUTES.map(async (route) => ({ route, ...(await route.prepare(h, ws)) })));
    await fc.assert(
      fc.asyncProperty(fc.nat(), pathSegment, caller, (pick, segment, as) => {
        const { route, path, body } = prepared[pick % prepared.length]!;
        return fuzz({
          method: route.method,
          path: path.replace(ws.workspaceId, segment),
          as,
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
      }),
      runOptions("workspace ids", WORKSPACE_RUNS),
    );
  });
});
