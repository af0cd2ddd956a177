// Scale: a 50,000-lead workspace, pushed through the ingestion route in batches of 500 as a host application would,
// then one pack over all of it. The LLM is a zero-latency provider passed in, so the test measures the pipeline, not
// a model; each lead's outcome follows from its seeded thread, so the pack's figures can be checked exactly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeLead } from "@insights/api/cli/seed";
import type { LeadThread, LlmProvider } from "@insights/worker/llm/provider";
import type { LeadInsight } from "@insights/worker/llm/schemas";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { bearer, createHarness, requestPackInNewSession } from "./support/harness.ts";
import { startTestWorker, waitFor } from "./support/worker-harness.ts";

const LEADS = 50_000;
const BATCH = 500;
const USAGE = { llmCalls: 1, inputTokens: 100, outputTokens: 20 };

/** The seeded threads' replies (api/src/cli/seed.ts) in index order modulo 7, and the outcome each one gets here. */
const OUTCOME_BY_SHAPE = [
  "MEETING_BOOKED",
  "INTERESTED",
  "NOT_INTERESTED",
  "NOT_INTERESTED",
  "UNSUBSCRIBED",
  "NOT_INTERESTED",
  "NO_REPLY",
] as const;

function classify(thread: LeadThread): LeadInsight["outcome"] {
  const inbound = thread.messages
    .filter((m) => m.direction === "INBOUND")
    .map((m) => m.body.toLowerCase())
    .join(" ");
  if (!inbound) return "NO_REPLY";
  if (inbound.includes("unsubscribe")) return "UNSUBSCRIBED";
  if (inbound.includes("book a call")) return "MEETING_BOOKED";
  if (inbound.includes("pricing")) return "INTERESTED";
  return "NOT_INTERESTED";
}

function instantProvider(calls: { extract: number; synthesize: number }): LlmProvider {
  return {
    name: "openai",
    modelFor: (model) => model,
    extractLeadInsight: async (thread) => {
      calls.extract++;
      const outcome = classify(thread);
      return {
        value: { outcome, sentiment: "neutral", summary: `Summary: ${outcome}.`, keyFacts: [], objections: [], nextStep: null },
        usage: USAGE,
      };
    },
    synthesizePack: async () => {
      calls.synthesize++;
      return { value: "Synthesis of 50,000 conversations.", usage: USAGE };
    },
    answerQuestion: async () => ({ value: { answer: "unused", citedLeadIds: [], suggestedActions: [] }, usage: USAGE }),
  };
}

const h = createHarness();
const calls = { extract: 0, synthesize: 0 };
let worker: WorkerRuntime;

beforeAll(async () => {
  worker = await startTestWorker(h, instantProvider(calls), { maxLeadsPerPack: LEADS, progressIntervalMs: 1000 });
});
afterAll(async () => {
  await worker.close();
  await h.close();
});

describe("a 50,000-lead workspace", () => {
  it("is ingested in batches of 500 through the API, and a pack over all of it completes with exact counts", {
    timeout: 600_000,
  }, async () => {
    const ws = await h.seed({ leads: 0 });
    const now = new Date();
    for (let start = 0; start < LEADS; start += BATCH) {
      const leads = Array.from({ length: BATCH }, (_, i) => makeLead(start + i, "scale", ws.campaignIds, now));
      const res = await h.http.post(`${ws.base}/leads/batch`).set(bearer(ws.tokens.admin)).send({ leads });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toEqual({ received: BATCH, created: BATCH, threadsChanged: BATCH });
    }
    expect(await h.db.lead.count({ where: { clientId: ws.workspaceId } })).toBe(LEADS);

    const { packId } = await requestPackInNewSession(h, ws);
    const pack = await waitFor(
      async () => {
        const res = await h.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member));
        return ["COMPLETE", "FAILED", "CANCELLED"].includes(res.body.status) ? res.body : undefined;
      },
      { timeoutMs: 480_000, intervalMs: 500, what: "the 50,000-lead pack" },
    );

    expect(pack.status).toBe("COMPLETE");
    expect(pack.error).toBeNull();
    expect(pack.progress).toEqual({
      stage: "DONE",
      totalLeads: LEADS,
      processedLeads: LEADS,
      cachedLeads: 0,
      failedLeads: 0,
      percent: 100,
    });
    expect(pack.metrics.counts).toEqual({ total: LEADS, summarized: LEADS, extracted: LEADS, cached: 0, failed: 0 });
    // Every lead exactly once: index i has thread shape i % 7 and campaign i % 3.
    const expectedOutcomes: Record<string, number> = {};
    for (let i = 0; i < LEADS; i++) {
      const outcome = OUTCOME_BY_SHAPE[i % 7]!;
      expectedOutcomes[outcome] = (expectedOutcomes[outcome] ?? 0) + 1;
    }
    expect(pack.metrics.byOutcome).toEqual(expectedOutcomes);
    const perCampaign = Object.fromEntries(
      (pack.metrics.byCampaign as Array<{ campaignId: string; leads: number }>).map((c) => [c.campaignId, c.leads]),
    );
    expect(perCampaign).toEqual({ [ws.campaignIds[0]!]: 16_667, [ws.campaignIds[1]!]: 16_667, [ws.campaignIds[2]!]: 16_666 });
    expect(calls).toEqual({ extract: LEADS, synthesize: 1 });
    expect(pack.usage).toEqual({
      llmCalls: LEADS + 1,
      inputTokens: (LEADS + 1) * USAGE.inputTokens,
      outputTokens: (LEADS + 1) * USAGE.outputTokens,
    });
    expect(await h.db.leadConversationInsight.count({ where: { clientId: ws.workspaceId } })).toBe(LEADS);
    expect(await h.db.insightLlmUsage.count({ where: { packId: pack.id, kind: "EXTRACTION" } })).toBe(LEADS);
  });
});
