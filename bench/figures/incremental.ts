// Figure 3: a 5,000-lead pack, then 1% of its threads change (pushed through the ingestion route) and an admin
// recomputes it. The recompute must call the LLM for exactly the changed leads plus one synthesis, and take at most
// 5% of the full compute's wall time. Both computes use the same fake LLM (100 ms a call, 32 in flight, as in figure 2).
// Figure 6 follows on the same pack: a question and a follow-up, and what the follow-up sent to the LLM.
import { seedBenchWorkspace, startApi, type BenchApi, type BenchEnv, type BenchWorkspace } from "../support/bench-env.ts";
import { fakeLlmProvider } from "../support/fake-llm-provider.ts";
import { startFakeLlmProcess, type FakeLlmProcess } from "../support/fake-llm-process.ts";
import { callApi, computePack, recomputePack } from "../support/packs.ts";
import { startBenchWorker } from "../support/worker.ts";
import type { Figure } from "../support/report.ts";

const LEADS = 5000;
const CHANGED = 50;
const CONCURRENCY = 32;
const LATENCY_MS = 100;

export async function incrementalAndTokens(env: BenchEnv): Promise<Figure[]> {
  const fake = await startFakeLlmProcess();
  const prefix = `${env.prefix}-incr`;
  const worker = await startBenchWorker(env, fakeLlmProvider(fake), { llmConcurrency: CONCURRENCY }, prefix);
  const api = await startApi(env, prefix);
  try {
    const ws = await seedBenchWorkspace(env, LEADS);
    await fake.setLatency(LATENCY_MS);
    const full = await computePack(api, env.db, ws);
    if (full.totalLeads !== LEADS) throw new Error(`unexpected pack: ${JSON.stringify(full)}`);

    // 1% of the threads get a new inbound message, through the real ingestion route.
    const leads = await env.db.lead.findMany({ where: { clientId: ws.workspaceId }, orderBy: { id: "asc" }, take: CHANGED });
    const changed = leads.map((l, i) => ({
      id: l.id,
      campaignId: l.campaignId,
      messages: [
        { id: "m1", direction: "OUTBOUND", body: "Following up on my note.", sentAt: new Date(Date.now() - 3600_000).toISOString() },
        { id: `new-${i}`, direction: "INBOUND", body: "Please unsubscribe me.", sentAt: new Date().toISOString() },
      ],
    }));
    const ingest = await callApi(api, "POST", `${ws.base}/leads/batch`, ws.tokens.owner, { leads: changed });
    if (ingest.body?.threadsChanged !== CHANGED) throw new Error(`ingest: ${ingest.status} ${JSON.stringify(ingest.body)}`);

    await fake.reset();
    await fake.setLatency(LATENCY_MS);
    const recompute = await recomputePack(api, env.db, ws, full.packId);
    const { calls: received } = await fake.stats();
    const calls = { extraction: received.lead_insight, synthesis: received.pack_synthesis };
    const incremental: Figure = {
      id: "incremental-recompute",
      title: "Incremental recompute wall time / full compute (5,000 leads, 1% changed)",
      measured: (recompute.wallMs / full.wallMs) * 100,
      unit: "%",
      target: { op: "<=", value: 5 },
      detail: {
        leads: LEADS,
        changed: CHANGED,
        concurrency: CONCURRENCY,
        latencyMs: LATENCY_MS,
        fullMs: full.wallMs,
        recomputeMs: recompute.wallMs,
        recomputeCachedLeads: recompute.cachedLeads,
        llmCalls: calls,
      },
    };
    const exactCalls: Figure = {
      id: "incremental-llm-calls",
      title: "Incremental recompute LLM calls - (changed leads + 1)",
      measured: calls.extraction + calls.synthesis - (CHANGED + 1),
      unit: "",
      target: { op: "==", value: 0 },
      detail: { expected: CHANGED + 1, ...calls },
    };
    return [exactCalls, incremental, await followUpTokens(api, env, ws, fake, full.packId)];
  } finally {
    await api.close();
    await worker.close();
    await fake.close();
  }
}

const tokensOf = (chars: number) => Math.ceil(chars / 4);

/** Figure 6: what a follow-up answer sent to the LLM, against the raw threads in its pack's scope (chars / 4 both). */
async function followUpTokens(api: BenchApi, env: BenchEnv, ws: BenchWorkspace, fake: FakeLlmProcess, packId: string): Promise<Figure> {
  await fake.reset();
  const pack = await env.db.insightContextPack.findUniqueOrThrow({ where: { id: packId } });
  const ask = async (content: string) => {
    const res = await callApi(api, "POST", `${ws.base}/insights/sessions/${pack.sessionId}/messages`, ws.tokens.member, { content });
    if (res.status !== 201 || !res.body.reply) throw new Error(`ask: ${res.status} ${JSON.stringify(res.body)}`);
    const replyId = res.body.reply.id as string;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      const reply = await env.db.insightChatMessage.findUniqueOrThrow({ where: { id: replyId } });
      if (reply.status === "COMPLETE") return;
      if (reply.status === "FAILED") throw new Error(`reply failed: ${reply.error}`);
    }
    throw new Error("reply timed out");
  };
  await ask("Which leads asked for pricing, and what objections did they raise?");
  await ask("Of those, which ones should we follow up with first this week?");
  const followUp = (await fake.stats()).lastAnswerMessages!;
  const sentChars = followUp.reduce((n, m) => n + m.content.length, 0);
  const [row] = await env.db.$queryRaw<Array<{ chars: bigint }>>`
    SELECT COALESCE(sum(length(m."body")), 0)::bigint AS chars
    FROM "InsightContextPackLead" pl
    JOIN "LeadMessage" m ON m."clientId" = pl."clientId" AND m."leadId" = pl."leadId"
    WHERE pl."packId" = ${packId}`;
  const rawTokens = tokensOf(Number(row!.chars));
  const sentTokens = tokensOf(sentChars);
  return {
    id: "follow-up-tokens",
    title: "Follow-up answer tokens / raw thread tokens in scope (5,000 leads)",
    measured: (sentTokens / rawTokens) * 100,
    unit: "%",
    target: { op: "<=", value: 5 },
    detail: {
      counting: "ceil(chars / 4), message contents only",
      sentTokens,
      rawTokens,
      packLeads: pack.totalLeads,
      sentMessages: followUp.length,
    },
  };
}
