// The hot queries use indexes. On a database of its own, this file seeds one big workspace (3,000 leads through the
// real ingestion), surrounds it with nine other tenants and a history of sessions, messages, packs, audit events and
// usage (as a multi-tenant table looks in production), runs ANALYZE, then captures the SQL the real code sends and
// asks `EXPLAIN (FORMAT JSON)` for its plan: no Seq Scan on a big table, and an index on the table it reads.
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents } from "@insights/api/audit/audit.service";
import type { Caller } from "@insights/api/http/request-context";
import { listMessages } from "@insights/api/messages/messages.service";
import { toPackDto } from "@insights/api/packs/packs.service";
import { listSessions } from "@insights/api/sessions/sessions.service";
import { getUsage } from "@insights/api/usage/usage.service";
import { PrismaClient, type InsightContextPack, type Prisma } from "@insights/shared/db/client";
import { scopeHashOf } from "@insights/shared/scope/scope";
import { PackRun } from "@insights/worker/packs/pack-run";
import { selectLeads } from "@insights/worker/packs/select-leads";
import { readPendingPage } from "@insights/worker/packs/extract-leads";
import { createIsolatedDatabase } from "./support/database.ts";
import { createHarness, type Harness, type TestWorkspace } from "./support/harness.ts";

let database: Awaited<ReturnType<typeof createIsolatedDatabase>>;
const DAY_MS = 24 * 3600_000;
/** The model and effort a selection fixes for its run. */
const call = { model: "gpt-5-mini", reasoningEffort: "medium" as const };

/** Tables that grow with use; a Seq Scan on any of them in a hot query is a finding. */
const BIG_TABLES = new Set([
  "Lead",
  "LeadMessage",
  "InsightChatSession",
  "InsightChatMessage",
  "InsightContextPack",
  "InsightContextPackLead",
  "InsightChatAuditEvent",
  "InsightLlmUsage",
]);

interface CapturedQuery {
  query: string;
  params: unknown[];
}

let h: Harness;
let ws: TestWorkspace;
let db: PrismaClient;
let sql: pg.Client;
let caller: Caller;
let recording: CapturedQuery[] | null = null;
/** What each query used, printed at the end for the reader of the CI log. */
const report: Array<{ query: string; indexes: string }> = [];

beforeAll(async () => {
  database = await createIsolatedDatabase();
  h = createHarness({ databaseUrl: database.url });
  ws = await h.seed({ leads: 3000 });
  caller = { workspaceId: ws.workspaceId, userId: ws.users.owner.id, isAdmin: true };
  db = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url }), log: [{ emit: "event", level: "query" }] });
  // $on is typed from the client's own options; this file's client is typed as the plain one the services take.
  (db as unknown as { $on(event: "query", listener: (e: { query: string; params: string }) => void): void }).$on("query", (e) =>
    recording?.push({ query: e.query, params: JSON.parse(e.params) as unknown[] }),
  );
  sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  await fillHistory();
  await sql.query("ANALYZE");
}, 180_000);

afterAll(async () => {
  if (report.length > 0) console.info(`indexes used by the hot queries:\n${report.map((r) => `  ${r.query}: ${r.indexes}`).join("\n")}`);
  await sql?.end();
  await db?.$disconnect();
  await h?.close();
  await database?.drop();
});

/**
 * Nine other tenants of the same size (leads with threads), and a history for the big workspace: sessions (some deleted), one long chat,
 * packs, a 3,000-lead pack run half extracted, audit events across sessions, packs and actions, a year of usage.
 */
async function fillHistory(): Promise<void> {
  // One multi-statement script (no bind parameters allowed there): the two ids are inlined as escaped literals.
  const workspace = sql.escapeLiteral(ws.workspaceId);
  const owner = sql.escapeLiteral(ws.users.owner.id);
  await sql.query(
    `
    INSERT INTO "Client" (id, name) SELECT 'other-' || g, 'Other ' || g FROM generate_series(1, 9) g;

    INSERT INTO "Lead" ("clientId", id, "lastActivityAt", "threadFingerprint", "threadUpdatedAt", "updatedAt")
    SELECT 'other-' || c, 'lead-' || g, now() - random() * interval '80 days', md5(g::text), now() - random() * interval '80 days', now()
    FROM generate_series(1, 9) c, generate_series(1, 3000) g;

    INSERT INTO "LeadMessage" ("clientId", "leadId", id, direction, body, "sentAt")
    SELECT l."clientId", l.id, 'm' || m, CASE WHEN m = 2 THEN 'INBOUND' ELSE 'OUTBOUND' END::"MessageDirection", 'Hello', l."lastActivityAt" - (3 - m) * interval '1 hour'
    FROM "Lead" l, generate_series(1, 3) m WHERE l."clientId" LIKE 'other-%';

    INSERT INTO "InsightChatSession" (id, "clientId", title, "createdById", "createdAt", "updatedAt", "deletedAt")
    SELECT 'session-' || c || '-' || g, CASE WHEN c = 0 THEN $1 ELSE 'other-' || c END, 'Session ' || g, $2,
           now() - random() * interval '90 days', now(), CASE WHEN g % 10 = 0 THEN now() END
    FROM generate_series(0, 9) c, generate_series(1, 300) g;

    INSERT INTO "InsightChatMessage" (id, "clientId", "sessionId", role, content, "createdAt")
    SELECT gen_random_uuid()::text, s."clientId", s.id, 'USER', 'Question ' || g, s."createdAt" + g * interval '1 minute'
    FROM "InsightChatSession" s, generate_series(1, CASE WHEN s.id = 'session-0-1' THEN 3000 ELSE 10 END) g;

    INSERT INTO "InsightContextPack" (id, "clientId", "sessionId", "scopeKey", "scopeHash", "windowPreset", "windowFrom",
                                      "windowTo", "campaignIds", "campaignCap", "requestedById", "createdAt", "updatedAt")
    SELECT 'pack-' || s.id || '-' || k, s."clientId", s.id, 'v1;window=LAST_' || k || '_DAYS;campaigns=*;cap=10',
           encode(sha256(convert_to('v1;window=LAST_' || k || '_DAYS;campaigns=*;cap=10', 'UTF8')), 'hex'),
           ('LAST_' || k || '_DAYS')::"InsightsWindowPreset", now() - k * interval '1 day', now(), '{}', 10, $2,
           s."createdAt", s."createdAt"
    FROM "InsightChatSession" s, (VALUES (7), (30), (90)) AS w(k);

    INSERT INTO "InsightContextPackLead" ("packId", "clientId", "leadId", position, status)
    SELECT 'pack-session-' || c || '-1-30', 'other-' || c, 'lead-' || g, g, 'EXTRACTED'
    FROM generate_series(1, 9) c, generate_series(1, 3000) g;

    INSERT INTO "InsightChatAuditEvent" (id, "clientId", "actorId", action, "sessionId", "packId", "createdAt")
    SELECT gen_random_uuid()::text, CASE WHEN c = 0 THEN $1 ELSE 'other-' || c END, $2,
           (enum_range(NULL::"InsightChatAuditAction"))[1 + g % 9],
           'session-' || c || '-' || (1 + g % 300), 'pack-session-' || c || '-' || (1 + g % 300) || '-30',
           now() - random() * interval '90 days'
    FROM generate_series(0, 9) c, generate_series(1, 3000) g;

    INSERT INTO "InsightLlmUsage" (id, "clientId", kind, "packId", "llmCalls", "inputTokens", "outputTokens", "createdAt")
    SELECT gen_random_uuid()::text, CASE WHEN c = 0 THEN $1 ELSE 'other-' || c END,
           (enum_range(NULL::"LlmUsageKind"))[1 + g % 3], 'pack-x', 1, 1200, 300, now() - random() * interval '365 days'
    FROM generate_series(0, 9) c, generate_series(1, 5000) g;
    `
      .replaceAll("$1", workspace)
      .replaceAll("$2", owner),
  );
}

/** Runs `work` with query logging on and returns the statements it sent. */
async function capture(work: () => Promise<unknown>): Promise<CapturedQuery[]> {
  recording = [];
  try {
    await work();
    return recording;
  } finally {
    recording = null;
  }
}

/** The one captured statement that reads `table` (by its quoted name), e.g. the page query of a service call. */
function statementOn(queries: CapturedQuery[], table: string, also: RegExp = /SELECT/): CapturedQuery {
  const matching = queries.filter((q) => q.query.includes(`"${table}"`) && also.test(q.query) && !/^(BEGIN|COMMIT)/.test(q.query));
  expect(matching, `statements on ${table}:\n${queries.map((q) => q.query).join("\n")}`).toHaveLength(1);
  return matching[0]!;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)];

function render(node: PlanNode, depth = 0): string {
  const on = node["Relation Name"] ? ` on ${node["Relation Name"]}` : "";
  const using = node["Index Name"] ? ` using ${node["Index Name"]}` : "";
  return [`${"  ".repeat(depth)}${node["Node Type"]}${on}${using}`, ...(node.Plans ?? []).map((p) => render(p, depth + 1))].join("\n");
}

/** EXPLAINs the statement with its own parameters and checks it reads `table` through an index, big tables never by Seq Scan. */
async function expectIndexed(name: string, statement: CapturedQuery, table: string): Promise<string[]> {
  const { rows } = await sql.query(`EXPLAIN (FORMAT JSON) ${statement.query}`, statement.params);
  const plan = (rows[0] as { "QUERY PLAN": Array<{ Plan: PlanNode }> })["QUERY PLAN"][0]!.Plan;
  const nodes = flatten(plan);
  const seqScans = nodes.filter((n) => n["Node Type"] === "Seq Scan" && BIG_TABLES.has(n["Relation Name"] ?? ""));
  const shown = `${name}:\n${render(plan)}\n\n${statement.query}`;
  expect(
    seqScans.map((n) => n["Relation Name"]),
    shown,
  ).toEqual([]);
  const indexes = nodes.map((n) => n["Index Name"]).filter((i): i is string => typeof i === "string" && i.startsWith(`${table}_`));
  expect(indexes, `${shown}\n\nreads ${table} through no index`).not.toEqual([]);
  report.push({ query: name, indexes: [...new Set(indexes)].join(", ") });
  return indexes;
}

/** A seeded pack, updated to the shape the test needs. */
async function packOf(id: string, data: Prisma.InsightContextPackUpdateInput = {}): Promise<InsightContextPack> {
  return db.insightContextPack.update({ where: { id }, data });
}

describe("the hot queries use indexes", () => {
  it("selects a pack's leads through the workspace's activity index", async () => {
    const now = new Date();
    const base = {
      status: "RUNNING" as const,
      stage: "QUEUED" as const,
      windowFrom: new Date(now.getTime() - 7 * DAY_MS),
      windowTo: now,
    };
    const pack = await packOf(`pack-session-0-2-7`, base);
    const all = await capture(() => selectLeads(new PackRun(db, pack, new AbortController()), 10_000, { call, cachedModel: null }));
    expect(await db.insightContextPackLead.count({ where: { packId: pack.id } })).toBeGreaterThan(0);
    await expectIndexed("lead selection (all campaigns)", statementOn(all, "Lead", /INSERT INTO "InsightContextPackLead"/), "Lead");

    const oneCampaign = await packOf(`pack-session-0-3-30`, {
      ...base,
      windowFrom: new Date(now.getTime() - 30 * DAY_MS),
      campaignIds: [ws.campaignIds[0]!],
    });
    const filtered = await capture(() =>
      selectLeads(new PackRun(db, oneCampaign, new AbortController()), 10_000, { call, cachedModel: null }),
    );
    await expectIndexed("lead selection (one campaign)", statementOn(filtered, "Lead", /INSERT INTO "InsightContextPackLead"/), "Lead");
  });

  it("lists sessions, first page and next, for members and for admins", async () => {
    const member = { ...caller, isAdmin: false };
    const first = await capture(() => listSessions(db, member, { includeDeleted: false, limit: 50 }));
    await expectIndexed("sessions list", statementOn(first, "InsightChatSession"), "InsightChatSession");
    const cursor = { createdAt: new Date(Date.now() - 45 * DAY_MS), id: "session-0-150" };
    const next = await capture(() => listSessions(db, caller, { includeDeleted: true, cursor, limit: 50 }));
    await expectIndexed("sessions list (admin, next page)", statementOn(next, "InsightChatSession"), "InsightChatSession");
  });

  it("pages through a long chat's messages", async () => {
    const first = await capture(() => listMessages(db, caller, "session-0-1", { limit: 50 }));
    await expectIndexed("messages page", statementOn(first, "InsightChatMessage"), "InsightChatMessage");
    const cursor = { createdAt: new Date(Date.now() - 10 * DAY_MS), id: "m" };
    const next = await capture(() => listMessages(db, caller, "session-0-1", { cursor, limit: 50 }));
    await expectIndexed("messages page (next)", statementOn(next, "InsightChatMessage"), "InsightChatMessage");
  });

  it("pages through audit events with each filter", async () => {
    const filters = {
      "no filter": {},
      sessionId: { sessionId: "session-0-7" },
      packId: { packId: "pack-session-0-7-30" },
      action: { action: "PACK_DELETED" as const },
      "no filter, next page": { cursor: { createdAt: new Date(Date.now() - 30 * DAY_MS), id: "m" } },
    };
    for (const [name, filter] of Object.entries(filters)) {
      const queries = await capture(() => listAuditEvents(db, caller, { ...filter, limit: 50 }));
      await expectIndexed(`audit events (${name})`, statementOn(queries, "InsightChatAuditEvent"), "InsightChatAuditEvent");
    }
  });

  it("finds a session's pack by its scope key", async () => {
    // The lookup requestPack makes after its insert, as packs.service.ts writes it.
    const scopeHash = scopeHashOf("v1;window=LAST_30_DAYS;campaigns=*;cap=10");
    const queries = await capture(() =>
      db.insightContextPack.findUniqueOrThrow({ where: { sessionId_scopeHash: { sessionId: "session-0-4", scopeHash } } }),
    );
    await expectIndexed("pack by (sessionId, scopeHash)", statementOn(queries, "InsightContextPack"), "InsightContextPack");
  });

  it("reads a pack run's next page of PENDING leads, and those leads", async () => {
    const packId = "pack-session-0-1-90";
    await sql.query(
      `INSERT INTO "InsightContextPackLead" ("packId", "clientId", "leadId", position, status)
       SELECT $1, "clientId", id, row_number() OVER (ORDER BY id), CASE WHEN random() < 0.5 THEN 'EXTRACTED' ELSE 'PENDING' END::"PackLeadStatus"
       FROM "Lead" WHERE "clientId" = $2`,
      [packId, ws.workspaceId],
    );
    await sql.query(`ANALYZE "InsightContextPackLead"`);
    // The page query of extract-leads.ts: a page of PENDING leads with their threads, in one statement (a chunk's
    // claim reads its first page with the same select list and FROM).
    let leadsRead = 0;
    const page = await capture(async () => {
      leadsRead = (await readPendingPage(db, { packId, after: 1000 }, 200)).leads.length;
    });
    expect(leadsRead).toBe(200);
    const statement = statementOn(page, "InsightContextPackLead");
    await expectIndexed("pack leads PENDING page", statement, "InsightContextPackLead");
    await expectIndexed("threads of a page: leads", statement, "Lead");
    await expectIndexed("threads of a page: messages", statement, "LeadMessage");
  });

  it("checks a COMPLETE pack for staleness, relative and custom windows", async () => {
    const now = new Date();
    const relative = await packOf("pack-session-0-5-30", {
      status: "COMPLETE",
      completedAt: now,
      windowFrom: new Date(now.getTime() - 30 * DAY_MS),
      windowTo: now,
    });
    const queries = await capture(() => toPackDto(db, relative));
    await expectIndexed("staleness (relative window)", statementOn(queries, "Lead"), "Lead");

    const custom = await packOf("pack-session-0-6-90", {
      status: "COMPLETE",
      completedAt: now,
      windowPreset: "CUSTOM",
      windowFrom: new Date(now.getTime() - 60 * DAY_MS),
      windowTo: new Date(now.getTime() - 30 * DAY_MS),
      campaignIds: [ws.campaignIds[1]!],
    });
    const customQueries = await capture(() => toPackDto(db, custom));
    await expectIndexed("staleness (custom window, one campaign)", statementOn(customQueries, "Lead"), "Lead");
  });

  it("sums a workspace's usage ledger over a range", async () => {
    const to = new Date();
    const queries = await capture(() => getUsage(db, caller, { from: new Date(to.getTime() - 30 * DAY_MS), to }));
    await expectIndexed("usage ledger range", statementOn(queries, "InsightLlmUsage"), "InsightLlmUsage");
  });
});
