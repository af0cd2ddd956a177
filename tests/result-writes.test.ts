// How a pack's results reach PostgreSQL when the model is faster than the database: the lanes do not wait for each
// result's own commit (results go out in batches, at most two statements at once), but they never run more than
// MAX_UNCOMMITTED results ahead of the commits, which bounds what a crash can make the next run pay for again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@insights/shared/db/client";
import { createLogger } from "@insights/shared/logger";
import type { LlmProvider } from "@insights/worker/llm/provider";
import { buildPack } from "@insights/worker/packs/build-pack.handler";
import { MAX_UNCOMMITTED } from "@insights/worker/packs/extract-leads";
import { claimPackRun, PackRun } from "@insights/worker/packs/pack-run";
import { selectLeads } from "@insights/worker/packs/select-leads";
import { bearer, createHarness, insertPendingPack, TEST_MODELS, type TestWorkspace } from "./support/harness.ts";
import { instantModel } from "./support/instant-model.ts";
import { waitFor } from "./support/worker-harness.ts";

const LEADS = 600;
const LANES = 8;
/** How long each batch of results takes to commit: far slower than the model, which answers at once. */
const COMMIT_MS = 40;

const h = createHarness();
let ws: TestWorkspace;

beforeAll(async () => {
  ws = await h.seed({ leads: LEADS });
});
afterAll(() => h.close());

/** What the model and the database saw, sampled at every call the model answered. */
const seen = { answered: 0, committed: 0, statements: 0, inFlight: 0, maxInFlight: 0, maxAhead: 0 };

const model = instantModel(() => {
  seen.answered++;
  seen.maxAhead = Math.max(seen.maxAhead, seen.answered - seen.committed);
});

/** The harness' database, with each statement that writes lead results run through `around` (the rest untouched). */
function aroundResultWrites(around: (write: () => Promise<number>) => Promise<number>): Db {
  return new Proxy(h.db, {
    get(target, prop, receiver) {
      if (prop !== "$executeRaw") return Reflect.get(target, prop, receiver);
      return (strings: TemplateStringsArray, ...values: unknown[]) => {
        const write = () => target.$executeRaw(strings, ...values);
        return strings.join("?").includes('INSERT INTO "LeadConversationInsight"') ? around(write) : write();
      };
    },
  }) as Db;
}

/** Each statement that writes lead results slowed and counted. */
const slowResultWrites = aroundResultWrites(async (write) => {
  seen.statements++;
  seen.inFlight++;
  seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
  await new Promise((r) => setTimeout(r, COMMIT_MS));
  try {
    // The statement returns the ledger rows it wrote: one per lead it moved off PENDING.
    const written = await write();
    seen.committed += written;
    return written;
  } finally {
    seen.inFlight--;
  }
});

describe("lead results with a model faster than the database", () => {
  it("go out in batches, two statements at most, with the lanes never more than MAX_UNCOMMITTED ahead", async () => {
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const pack = await insertPendingPack(h, ws, session.body.id);
    const deps = {
      db: slowResultWrites,
      llm: model,
      logger: createLogger("result-writes-test", "silent"),
      live: h.liveLog,
      models: TEST_MODELS,
      tuning: { maxLeadsPerPack: 1000, llmConcurrency: LANES, progressIntervalMs: 50, pageSize: 200, chunkSize: 1000 },
    };
    const outcome = await buildPack(deps, { packId: pack.id, generation: 1 }, new AbortController().signal);
    expect(outcome).toMatchObject({ outcome: "complete", totalLeads: LEADS });

    expect(seen.answered).toBe(LEADS);
    expect(seen.committed).toBe(LEADS);
    // Lanes that waited for their own commit would write at most LANES results per statement: 75 statements or more.
    // Batches of up to 64 take 10, plus the small first ones written before the lanes got ahead.
    expect(seen.statements).toBeLessThanOrEqual(20);
    expect(seen.maxInFlight).toBe(2);
    // Ahead of the commits by the bound, plus at most one call per lane that was already waiting for room.
    expect(seen.maxAhead).toBeGreaterThan(LANES);
    expect(seen.maxAhead).toBeLessThanOrEqual(MAX_UNCOMMITTED + LANES);
    const done = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.id } });
    expect(done).toMatchObject({ status: "COMPLETE", processedLeads: LEADS, llmCalls: LEADS + 1 });
    expect(await h.db.insightLlmUsage.count({ where: { packId: pack.id, kind: "EXTRACTION" } })).toBe(LEADS);
  });
});

describe("two packs over the same leads, extracted at the same time", () => {
  it("both complete when their results reach the cached summaries in opposite orders (many rounds)", { timeout: 120_000 }, async () => {
    const LEADS_EACH = 150;
    /** A model that answers lead by lead in the order of their ids, or in the reverse order: all calls are in flight at once. */
    const orderedModel = (ranks: Map<string, number>, reverse: boolean): LlmProvider => ({
      ...model,
      extractLeadInsight: async (thread, call) => {
        const rank = ranks.get(thread.leadId)!;
        await new Promise((r) => setTimeout(r, (reverse ? LEADS_EACH - rank : rank) * 0.4));
        return model.extractLeadInsight(thread, call);
      },
    });
    for (let round = 0; round < 8; round++) {
      const shared = await h.seed({ leads: LEADS_EACH });
      const leads = await h.db.lead.findMany({ where: { clientId: shared.workspaceId }, select: { id: true }, orderBy: { id: "asc" } });
      const ranks = new Map(leads.map((l, i) => [l.id, i]));
      const outcomes = await Promise.all(
        [false, true].map(async (reverse) => {
          const session = await h.http.post(`${shared.base}/insights/sessions`).set(bearer(shared.tokens.member)).send({});
          const pack = await insertPendingPack(h, shared, session.body.id);
          const deps = {
            // Slowed writes: each statement then carries many results, and the two packs' statements overlap.
            db: slowResultWrites,
            llm: orderedModel(ranks, reverse),
            logger: createLogger("result-writes-test", "silent"),
            live: h.liveLog,
            models: TEST_MODELS,
            tuning: { maxLeadsPerPack: 1000, llmConcurrency: LEADS_EACH, progressIntervalMs: 50, pageSize: 200, chunkSize: 1000 },
          };
          return buildPack(deps, { packId: pack.id, generation: 1 }, new AbortController().signal);
        }),
      );
      expect(outcomes).toEqual([
        { outcome: "complete", totalLeads: LEADS_EACH },
        { outcome: "complete", totalLeads: LEADS_EACH },
      ]);
      expect(await h.db.leadConversationInsight.count({ where: { clientId: shared.workspaceId } })).toBe(LEADS_EACH);
    }
  });
});

describe("results of a run whose pack moved to a new generation while they waited to be written", () => {
  /**
   * Runs a 40-lead pack whose result statements wait at a gate; `change` moves the pack on meanwhile. Returns the
   * leads the old run's statements moved once let through, and the pack's lead statuses after.
   */
  async function heldAcross(change: (packId: string) => Promise<void>) {
    const shared = await h.seed({ leads: 40 });
    const session = await h.http.post(`${shared.base}/insights/sessions`).set(bearer(shared.tokens.member)).send({});
    const pack = await insertPendingPack(h, shared, session.body.id);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let held = 0;
    let moved = 0;
    const gatedWrites = aroundResultWrites(async (write) => {
      held++;
      await gate;
      const written = await write();
      moved += written;
      return written;
    });
    const deps = {
      db: gatedWrites,
      llm: instantModel(),
      logger: createLogger("result-writes-test", "silent"),
      live: h.liveLog,
      models: TEST_MODELS,
      tuning: { maxLeadsPerPack: 1000, llmConcurrency: LANES, progressIntervalMs: 50, pageSize: 200, chunkSize: 1000 },
    };
    const oldRun = buildPack(deps, { packId: pack.id, generation: 1 }, new AbortController().signal);
    await waitFor(async () => (held > 0 ? true : undefined), { what: "a result statement at the gate" });
    await change(pack.id);
    open();
    expect(await oldRun).toMatchObject({ outcome: "skipped" });
    const statuses = await h.db.insightContextPackLead.groupBy({ by: ["status"], where: { packId: pack.id }, _count: true });
    const summaries = await h.db.leadConversationInsight.count({ where: { clientId: shared.workspaceId } });
    return { moved, statuses, summaries };
  }

  it("never land in a recompute's new list of the same leads", async () => {
    // What a cancel and a recompute leave before the new run's job picks the pack up: a new generation, then its
    // selection of the same leads, all PENDING.
    const { moved, statuses, summaries } = await heldAcross(async (packId) => {
      await h.db.insightContextPack.update({
        where: { id: packId },
        data: { status: "PENDING", stage: "QUEUED", generation: 2, runToken: null },
      });
      const newRun = await claimPackRun(h.db, packId, 2);
      await selectLeads(new PackRun(h.db, newRun!, new AbortController()), 1000, {
        call: { model: "gpt-5-mini", reasoningEffort: "medium" },
        cachedModel: null,
      });
    });
    expect(moved).toBe(0);
    expect(statuses).toEqual([{ status: "PENDING", _count: 40 }]);
    expect(summaries).toBe(0);
  });

  it("still land in the same list when a lead's erasure restarted the pack, so they are not paid for again", async () => {
    // What a lead's erasure leaves: the same list, the next generation, the pack PENDING again at its stage.
    const { moved, statuses, summaries } = await heldAcross(async (packId) => {
      await h.db.insightContextPack.update({
        where: { id: packId },
        data: { status: "PENDING", generation: { increment: 1 }, runToken: null },
      });
    });
    expect(moved).toBeGreaterThan(0);
    expect(statuses).toContainEqual({ status: "EXTRACTED", _count: moved });
    expect(summaries).toBe(moved);
  });
});
