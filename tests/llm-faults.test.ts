// The LLM misbehaving in every way the pipeline must survive: each fault gets bounded retries and a clear error,
// per lead and per pack, and no job hangs.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { fakeLlmProvider, startTestWorker, waitFor } from "./support/worker-harness.ts";

const h = createHarness();
let fake: FakeLlm;
let worker: WorkerRuntime;
const MAX_RETRIES = 2;

beforeAll(async () => {
  fake = await startFakeLlm();
  // A short timeout and few retries, so every fault resolves within the test's time.
  worker = await startTestWorker(h, fakeLlmProvider(fake, { timeoutMs: 400, maxRetries: MAX_RETRIES }), { llmConcurrency: 4 });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await worker.close();
  await fake.close();
  await h.close();
});

type Pack = {
  id: string;
  status: string;
  error: string | null;
  failures: Array<{ leadId: string; error: string }>;
  progress: { totalLeads: number; processedLeads: number; failedLeads: number };
};

async function runPack(ws: TestWorkspace): Promise<Pack> {
  const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  const res = await h.http
    .post(`${ws.base}/insights/sessions/${session.body.id}/packs`)
    .set(bearer(ws.tokens.member))
    .send({ window: { preset: "LAST_90_DAYS" } });
  return waitFor(
    async () => {
      const pack = (await h.http.get(`${ws.base}/insights/packs/${res.body.id}`).set(bearer(ws.tokens.member))).body as Pack;
      return ["COMPLETE", "FAILED", "CANCELLED"].includes(pack.status) ? pack : undefined;
    },
    { timeoutMs: 25_000, what: "the pack to finish" },
  );
}

/** Lead names are unique within a seeded workspace; the extraction prompt names its lead. */
const leadOf = (text: string) => /Lead: (.*)/.exec(text)?.[1];

describe("LLM faults", () => {
  it("times out a call that never answers, retries it, then records the lead as failed while the pack completes", async () => {
    const ws = await h.seed({ leads: 6 });
    let victim: string | undefined;
    fake.intercept = (req) => {
      if (req.task !== "lead_insight") return undefined;
      victim ??= leadOf(req.text);
      return leadOf(req.text) === victim ? { hang: true } : undefined;
    };
    const started = Date.now();
    const pack = await runPack(ws);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress).toMatchObject({ totalLeads: 6, processedLeads: 6, failedLeads: 1 });
    expect(pack.failures).toHaveLength(1);
    expect(pack.failures[0]!.error).toMatch(/did not answer.*gave up after 3 attempts/);
    expect(fake.requests.filter((r) => leadOf(r.text) === victim)).toHaveLength(MAX_RETRIES + 1);
    // Bounded: three timeouts of 400 ms plus backoff, not a hung job.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("rides out a storm of 429s: every call is retried within its bound, and the pack completes", async () => {
    const ws = await h.seed({ leads: 8 });
    let storm = 12;
    fake.intercept = (req) =>
      req.task === "lead_insight" && storm-- > 0 ? { status: 429, headers: { "retry-after-ms": "30" } } : undefined;
    const pack = await runPack(ws);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress.processedLeads).toBe(8);
    // Each lead had at most MAX_RETRIES + 1 attempts; any lead that ran out says it was rate-limited.
    const perLead = new Map<string, number>();
    for (const r of fake.requests.filter((r) => r.task === "lead_insight"))
      perLead.set(leadOf(r.text)!, (perLead.get(leadOf(r.text)!) ?? 0) + 1);
    expect(Math.max(...perLead.values())).toBeLessThanOrEqual(MAX_RETRIES + 1);
    for (const failure of pack.failures) expect(failure.error).toMatch(/rate-limited the request \(429\)/);
    expect(pack.progress.failedLeads).toBe(pack.failures.length);
  });

  it("records leads the server keeps failing (partial failure) with their reason, and completes the rest", async () => {
    const ws = await h.seed({ leads: 9 });
    const broken = new Set<string>();
    fake.intercept = (req) => {
      if (req.task !== "lead_insight") return undefined;
      const lead = leadOf(req.text)!;
      if (broken.size < 3 && !broken.has(lead)) broken.add(lead);
      return broken.has(lead) ? { status: 503 } : undefined;
    };
    const pack = await runPack(ws);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress).toMatchObject({ processedLeads: 9, failedLeads: 3 });
    expect(pack.error).toMatch(/3 lead\(s\) could not be summarized/);
    expect(pack.failures.map((f) => f.error)).toEqual(Array(3).fill(expect.stringMatching(/answered 503.*gave up after 3 attempts/)));
    expect(await h.db.leadConversationInsight.count({ where: { clientId: ws.workspaceId } })).toBe(6);
  });

  it("fails the pack with a clear error when every lead fails", async () => {
    const ws = await h.seed({ leads: 3 });
    fake.intercept = (req) => (req.task === "lead_insight" ? { content: "{ not json" } : undefined);
    const pack = await runPack(ws);
    expect(pack.status).toBe("FAILED");
    expect(pack.error).toMatch(/every lead failed to summarize \(3 of 3\); first error: the model's answer did not match/);
    expect(fake.callsFor("pack_synthesis")).toBe(0);
  });
});
