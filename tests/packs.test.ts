import { describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { signToken } from "@insights/api/auth/jwt";
import { MEMBERSHIP_CACHE_MS } from "@insights/api/auth/membership-cache";
import { createPackBodyCache } from "@insights/api/packs/pack-body-cache";
import { bearer, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";
import { USAGE } from "./support/fake-llm.ts";
import { useFakeModelWorker, waitFor } from "./support/worker-harness.ts";

const { h, fake } = await useFakeModelWorker();

type Pack = {
  id: string;
  status: string;
  scopeKey: string;
  progress: { stage: string; totalLeads: number; processedLeads: number; cachedLeads: number; failedLeads: number; percent: number };
  usage: { llmCalls: number; inputTokens: number; outputTokens: number };
  metrics: {
    counts: Record<string, number>;
    byOutcome: Record<string, number>;
    byCampaign: unknown[];
    replyRate: number;
    positiveRate: number;
  };
  synthesis: string | null;
  stale: boolean;
  error: string | null;
  generation: number;
};

async function newSession(ws: TestWorkspace, token = ws.tokens.member): Promise<string> {
  const res = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(token)).send({});
  return res.body.id;
}

async function requestPack(ws: TestWorkspace, sessionId: string, body: object = { window: { preset: "LAST_90_DAYS" } }) {
  return h.http.post(`${ws.base}/insights/sessions/${sessionId}/packs`).set(bearer(ws.tokens.member)).send(body);
}

async function getPack(ws: TestWorkspace, packId: string): Promise<Pack> {
  const res = await h.http.get(`${ws.base}/insights/packs/${packId}`).set(bearer(ws.tokens.member));
  expect(res.status).toBe(200);
  return res.body;
}

const FINAL = ["COMPLETE", "FAILED", "CANCELLED"];
const waitForPack = (ws: TestWorkspace, packId: string, timeoutMs = 20_000) =>
  waitFor(
    async () => {
      const pack = await getPack(ws, packId);
      return FINAL.includes(pack.status) ? pack : undefined;
    },
    { timeoutMs, what: `pack ${packId} to finish` },
  );

describe("a context pack", () => {
  it("runs from a member's request through to COMPLETE, with a synthesis, metrics and usage", async () => {
    const ws = await h.seed({ leads: 24 });
    const sessionId = await newSession(ws);
    const res = await requestPack(ws, sessionId);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("PENDING");
    expect(res.body.progress.stage).toBe("QUEUED");

    const pack = await waitForPack(ws, res.body.id);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress).toEqual({ stage: "DONE", totalLeads: 24, processedLeads: 24, cachedLeads: 0, failedLeads: 0, percent: 100 });
    expect(pack.synthesis).toContain("Fake synthesis");
    expect(fake.callsFor("lead_insight")).toBe(24);
    expect(fake.callsFor("pack_synthesis")).toBe(1);
    expect(pack.usage).toEqual({ llmCalls: 25, inputTokens: 25 * USAGE.prompt_tokens, outputTokens: 25 * USAGE.completion_tokens });
    expect(pack.metrics.counts).toMatchObject({ total: 24, summarized: 24, extracted: 24, cached: 0, failed: 0 });
    const outcomes = Object.values(pack.metrics.byOutcome).reduce((a, b) => a + b, 0);
    expect(outcomes).toBe(24);
    expect(pack.metrics.byCampaign).toHaveLength(3);
    expect(pack.stale).toBe(false);
  });

  it("sends the model each lead's thread as stored: its name, campaign, and every message in order with its time", async () => {
    const ws = await h.seed({ leads: 12 });
    const sessionId = await newSession(ws);
    const res = await requestPack(ws, sessionId);
    expect((await waitForPack(ws, res.body.id)).status).toBe("COMPLETE");

    const leads = await h.db.lead.findMany({
      where: { clientId: ws.workspaceId },
      include: { campaign: true, messages: { orderBy: [{ sentAt: "asc" }, { id: "asc" }] } },
    });
    const prompts = fake.requests.filter((r) => r.task === "lead_insight").map((r) => r.text);
    expect(prompts).toHaveLength(12);
    for (const lead of leads) {
      const thread = lead.messages.map((m) => `[${m.sentAt.toISOString()}] ${m.direction === "INBOUND" ? "LEAD" : "US"}: ${m.body}`);
      const expected = `Lead: ${lead.name ?? "unknown"}\nCampaign: ${lead.campaign?.name ?? "none"}\nThread (oldest first):\n${thread.join("\n")}`;
      expect(
        prompts.filter((p) => p.endsWith(expected)),
        lead.id,
      ).toHaveLength(1);
    }
  });

  it("uses the workspace's model and reasoning effort", async () => {
    const ws = await h.seed({ leads: 2 });
    await h.http
      .patch(`${ws.base}/insights/settings`)
      .set(bearer(ws.tokens.admin))
      .send({ insightsChatModel: "gpt-test-large", insightsChatReasoningEffort: "high" });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    expect(pack.status).toBe("COMPLETE");
    expect(fake.requests.map((r) => [r.body.model, r.body.reasoning_effort])).toEqual(Array(3).fill(["gpt-test-large", "high"]));
    const lead = await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId } });
    const insight = await h.http.get(`${ws.base}/leads/${lead.id}/insight`).set(bearer(ws.tokens.member));
    expect(insight.body).toMatchObject({ model: "gpt-test-large", provider: "openai", stale: false });
  });

  it("selects only the leads in the window and campaigns, most recent first, under the server's cap", async () => {
    const ws = await h.seed({ leads: 30 });
    const campaign = ws.campaignIds[1]!;
    const expected = await h.db.lead.count({
      where: { clientId: ws.workspaceId, campaignId: campaign, lastActivityAt: { gte: new Date(Date.now() - 30 * 24 * 3600_000) } },
    });
    const res = await requestPack(ws, await newSession(ws), { window: { preset: "LAST_30_DAYS" }, campaignIds: [campaign] });
    const pack = await waitForPack(ws, res.body.id);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress.totalLeads).toBe(expected);
    expect(fake.callsFor("lead_insight")).toBe(expected);
  });

  it("reports progress that only moves forward, stage by stage, while it runs", async () => {
    const ws = await h.seed({ leads: 30 });
    fake.latencyMs = 40;
    const res = await requestPack(ws, await newSession(ws));
    const stages = ["QUEUED", "SELECTING", "EXTRACTING", "SYNTHESIZING", "DONE"];
    const seen: Pack["progress"][] = [];
    await waitFor(
      async () => {
        const pack = await getPack(ws, res.body.id);
        seen.push(pack.progress);
        return FINAL.includes(pack.status) ? pack : undefined;
      },
      { intervalMs: 20 },
    );
    expect(seen.some((p) => p.stage === "EXTRACTING" && p.processedLeads > 0 && p.processedLeads < 30)).toBe(true);
    for (let i = 1; i < seen.length; i++) {
      const [before, after] = [seen[i - 1]!, seen[i]!];
      expect(stages.indexOf(after.stage)).toBeGreaterThanOrEqual(stages.indexOf(before.stage));
      expect(after.processedLeads).toBeGreaterThanOrEqual(before.processedLeads);
      expect(after.percent).toBeGreaterThanOrEqual(before.percent);
    }
    expect(seen.at(-1)).toMatchObject({ stage: "DONE", percent: 100, processedLeads: 30 });
  });

  it("answers polling with an ETag, and If-None-Match with 304 while the pack is unchanged", async () => {
    const ws = await h.seed({ leads: 3 });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    const first = await h.http.get(`${ws.base}/insights/packs/${pack.id}`).set(bearer(ws.tokens.member));
    expect(first.headers.etag).toBeTruthy();
    const again = await h.http
      .get(`${ws.base}/insights/packs/${pack.id}`)
      .set(bearer(ws.tokens.member))
      .set("If-None-Match", String(first.headers.etag));
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
  });

  it("answers 304 also under Cache-Control: no-cache (as fetch sends it), and 200 with a new ETag once the pack reads differently", async () => {
    const ws = await h.seed({ leads: 3 });
    const sessionId = await newSession(ws);
    const pack = await waitForPack(ws, (await requestPack(ws, sessionId)).body.id);
    const url = `${h.baseUrl()}${ws.base}/insights/packs/${pack.id}`;
    const first = await fetch(url, { headers: bearer(ws.tokens.member) });
    const etag = first.headers.get("etag")!;
    const unchanged = await fetch(url, { headers: { ...bearer(ws.tokens.member), "If-None-Match": etag, "Cache-Control": "no-cache" } });
    expect(unchanged.status).toBe(304);

    // A thread in scope changes: the pack turns stale, so it reads differently.
    const lead = await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId } });
    const message = { id: "new", direction: "INBOUND", body: "Tell me more.", sentAt: new Date().toISOString() };
    await h.http
      .post(`${ws.base}/leads/batch`)
      .set(bearer(ws.tokens.admin))
      .send({ leads: [{ id: lead.id, campaignId: lead.campaignId, messages: [message] }] });
    const stale = await fetch(url, { headers: { ...bearer(ws.tokens.member), "If-None-Match": etag, "Cache-Control": "no-cache" } });
    expect(stale.status).toBe(200);
    expect(await stale.json()).toMatchObject({ id: pack.id, stale: true });
    expect(stale.headers.get("etag")).not.toBe(etag);

    // Deleting the session hides the pack from members, ETag or not.
    await h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.owner));
    const hidden = await fetch(url, { headers: { ...bearer(ws.tokens.member), "If-None-Match": stale.headers.get("etag")! } });
    expect(hidden.status).toBe(404);
  });
});

describe("polling a pack", () => {
  const packUrl = (ws: TestWorkspace, packId: string, base = ws.base) => `${h.baseUrl()}${base}/insights/packs/${packId}`;
  const revalidate = (token: string, etag: string) => ({ ...bearer(token), "If-None-Match": etag, "Cache-Control": "no-cache" });
  async function completePack(leads = 3) {
    const ws = await h.seed({ leads });
    const sessionId = await newSession(ws);
    const pack = await waitForPack(ws, (await requestPack(ws, sessionId)).body.id);
    return { ws, sessionId, pack };
  }

  it("sends the same body again while the pack is unchanged, and never the old body once it changed", async () => {
    const { ws, pack } = await completePack();
    const url = packUrl(ws, pack.id);
    const first = await fetch(url, { headers: bearer(ws.tokens.member) });
    const firstText = await first.text();
    const firstTag = first.headers.get("etag")!;
    const again = await fetch(url, { headers: bearer(ws.tokens.member) });
    expect(again.status).toBe(200);
    expect(again.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(again.headers.get("etag")).toBe(firstTag);
    expect(await again.text()).toBe(firstText);
    const head = await fetch(url, { method: "HEAD", headers: bearer(ws.tokens.member) });
    expect(head.status).toBe(200);
    expect(head.headers.get("etag")).toBe(firstTag);
    expect(await head.text()).toBe("");

    // Any write to the row (here the synthesis alone) bumps its version: a new tag, and the body is built again.
    await h.db.insightContextPack.update({ where: { id: pack.id }, data: { synthesis: "A rewritten synthesis." } });
    const changed = await fetch(url, { headers: bearer(ws.tokens.member) });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ id: pack.id, synthesis: "A rewritten synthesis." });
    const changedTag = changed.headers.get("etag")!;
    expect(changedTag).not.toBe(firstTag);
    const withOldTag = await fetch(url, { headers: revalidate(ws.tokens.member, firstTag) });
    expect(withOldTag.status).toBe(200);
    expect(await withOldTag.json()).toMatchObject({ synthesis: "A rewritten synthesis." });
    expect((await fetch(url, { headers: revalidate(ws.tokens.member, changedTag) })).status).toBe(304);
  });

  it("changes the ETag and the body when the pack turns stale, also for a client that sends no If-None-Match", async () => {
    const { ws, pack } = await completePack();
    const url = packUrl(ws, pack.id);
    const fresh = await fetch(url, { headers: bearer(ws.tokens.member) });
    expect(await fresh.json()).toMatchObject({ stale: false });
    const freshTag = fresh.headers.get("etag")!;

    const lead = await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId } });
    const message = { id: "later", direction: "INBOUND", body: "One more question.", sentAt: new Date().toISOString() };
    await h.http
      .post(`${ws.base}/leads/batch`)
      .set(bearer(ws.tokens.admin))
      .send({ leads: [{ id: lead.id, campaignId: lead.campaignId, messages: [message] }] })
      .expect(200);
    const stale = await fetch(url, { headers: bearer(ws.tokens.member) });
    expect(await stale.json()).toMatchObject({ id: pack.id, stale: true });
    const staleTag = stale.headers.get("etag")!;
    expect(staleTag).not.toBe(freshTag);
    expect((await fetch(url, { headers: revalidate(ws.tokens.member, staleTag) })).status).toBe(304);
  });

  it("answers concurrent polls each by the caller's own access: another workspace's member and an outsider get 404", async () => {
    const { ws, pack } = await completePack();
    const other = await h.seed();
    const polls = [
      ...Array.from({ length: 8 }, () => ({ url: packUrl(ws, pack.id), token: ws.tokens.member, status: 200 })),
      ...Array.from({ length: 4 }, () => ({ url: packUrl(other, pack.id), token: other.tokens.owner, status: 404 })),
      ...Array.from({ length: 4 }, () => ({ url: packUrl(ws, pack.id), token: ws.tokens.outsider, status: 404 })),
    ];
    // Twice: the second round is answered from the cached body and the remembered tokens.
    for (let round = 0; round < 2; round++) {
      const statuses = await Promise.all(polls.map((p) => fetch(p.url, { headers: bearer(p.token) }).then((r) => r.status)));
      expect(statuses).toEqual(polls.map((p) => p.status));
    }
  });

  it("stops answering a removed member within the membership cache's bound, though their token is remembered", async () => {
    const { ws, pack } = await completePack();
    const url = packUrl(ws, pack.id);
    const first = await fetch(url, { headers: bearer(ws.tokens.member) });
    const poll = () => fetch(url, { headers: revalidate(ws.tokens.member, first.headers.get("etag")!) }).then((r) => r.status);
    expect(await poll()).toBe(304);
    // Removed by another API process (a row deleted behind this one's back): this process cannot forget at once.
    await h.db.workspaceMembership.delete({ where: { clientId_userId: { clientId: ws.workspaceId, userId: ws.users.member.id } } });
    const removedAt = Date.now();
    let status = await poll();
    while (status !== 404 && Date.now() - removedAt < MEMBERSHIP_CACHE_MS + 2_000) {
      await new Promise((r) => setTimeout(r, 100));
      status = await poll();
    }
    expect(status).toBe(404);
    expect(Date.now() - removedAt).toBeLessThan(MEMBERSHIP_CACHE_MS + 1_000);
  });

  it("refuses a remembered token once it has expired", async () => {
    const { ws, pack } = await completePack(1);
    const token = await signToken(TEST_JWT_SECRET, ws.users.member.id, 2);
    const { exp } = decodeJwt(token);
    expect((await fetch(packUrl(ws, pack.id), { headers: bearer(token) })).status).toBe(200);
    expect((await fetch(packUrl(ws, pack.id), { headers: bearer(token) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, exp! * 1000 - Date.now() + 50));
    const late = await fetch(packUrl(ws, pack.id), { headers: bearer(token) });
    expect(late.status).toBe(401);
  });
});

describe("enqueueing", () => {
  it("gives 20 concurrent identical requests one pack and one job", async () => {
    const ws = await h.seed({ leads: 5 });
    const sessionId = await newSession(ws);
    const [a, b, c] = ws.campaignIds as [string, string, string];
    // The same scope written differently: campaign order, duplicates, the cap spelled out or left to preferences.
    const bodies = [
      { window: { preset: "LAST_90_DAYS" }, campaignIds: [a, b, c] },
      { window: { preset: "LAST_90_DAYS" }, campaignIds: [c, a, b], campaignCap: 10 },
      { window: { preset: "LAST_90_DAYS" }, campaignIds: [b, c, a, a] },
      { campaignIds: [a, c, b], window: { preset: "LAST_90_DAYS" } },
    ];
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => requestPack(ws, sessionId, bodies[i % 4]!)));
    expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(19);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(await h.db.insightContextPack.count({ where: { sessionId } })).toBe(1);

    const packId = responses[0]!.body.id as string;
    await waitForPack(ws, packId);
    const jobs = await h.queues.packs.getJobs(["completed", "active", "waiting", "delayed", "failed"]);
    expect(jobs.filter((j) => j.data.packId === packId)).toHaveLength(1);
  });

  it("gives the same scope in another session its own pack", async () => {
    const ws = await h.seed({ leads: 2 });
    const one = await requestPack(ws, await newSession(ws));
    const two = await requestPack(ws, await newSession(ws));
    expect(two.status).toBe(202);
    expect(two.body.id).not.toBe(one.body.id);
    expect(two.body.scopeKey).toBe(one.body.scopeKey);
  });

  it("fills what the request leaves out from the caller's preferences", async () => {
    const ws = await h.seed({ leads: 2 });
    await h.http.put(`${ws.base}/insights/preferences`).set(bearer(ws.tokens.member)).send({ windowPreset: "LAST_7_DAYS", campaignCap: 3 });
    const sessionId = await newSession(ws);
    const implicit = await requestPack(ws, sessionId, {});
    const explicit = await requestPack(ws, sessionId, { window: { preset: "LAST_7_DAYS" }, campaignCap: 3, campaignIds: [] });
    expect(implicit.body.scope).toMatchObject({ window: { preset: "LAST_7_DAYS" }, campaignIds: [], campaignCap: 3 });
    expect(explicit.status).toBe(200);
    expect(explicit.body.id).toBe(implicit.body.id);
  });
});

describe("the lead summary cache", () => {
  it("is reused by another session's pack over the same leads", async () => {
    const ws = await h.seed({ leads: 10 });
    const first = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    expect(first.status).toBe("COMPLETE");
    fake.reset();

    const second = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    expect(second.status).toBe("COMPLETE");
    expect(second.progress.cachedLeads).toBe(10);
    expect(fake.callsFor("lead_insight")).toBe(0);
    expect(fake.callsFor("pack_synthesis")).toBe(1);
    expect(second.usage.llmCalls).toBe(1);
  });

  it("makes an incremental recompute call the LLM for exactly the changed leads, plus one synthesis", async () => {
    const ws = await h.seed({ leads: 12 });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    expect(pack.status).toBe("COMPLETE");

    const leads = await h.db.lead.findMany({ where: { clientId: ws.workspaceId }, orderBy: { id: "asc" }, take: 3 });
    const changed = leads.map((l) => ({
      id: l.id,
      campaignId: l.campaignId,
      messages: [
        { id: "m1", direction: "OUTBOUND", body: "Following up on my note.", sentAt: new Date(Date.now() - 3600_000).toISOString() },
        { id: "m2", direction: "INBOUND", body: "Please unsubscribe me.", sentAt: new Date().toISOString() },
      ],
    }));
    const ingest = await h.http.post(`${ws.base}/leads/batch`).set(bearer(ws.tokens.admin)).send({ leads: changed });
    expect(ingest.body.threadsChanged).toBe(3);
    expect((await getPack(ws, pack.id)).stale).toBe(true);

    fake.reset();
    const recompute = await h.http.post(`${ws.base}/insights/packs/${pack.id}/recompute`).set(bearer(ws.tokens.admin)).send({});
    expect(recompute.status).toBe(202);
    const after = await waitForPack(ws, pack.id);
    expect(after.status).toBe("COMPLETE");
    expect(after.generation).toBe(2);
    expect(fake.callsFor("lead_insight")).toBe(3);
    expect(fake.callsFor("pack_synthesis")).toBe(1);
    expect(after.progress).toMatchObject({ totalLeads: 12, cachedLeads: 9, failedLeads: 0 });
    expect(after.metrics.byOutcome.UNSUBSCRIBED).toBeGreaterThanOrEqual(3);
    expect(after.stale).toBe(false);
    for (const lead of leads) {
      const insight = await h.http.get(`${ws.base}/leads/${lead.id}/insight`).set(bearer(ws.tokens.member));
      expect(insight.body.outcome).toBe("UNSUBSCRIBED");
    }
  });

  it("is bypassed by a forced recompute", async () => {
    const ws = await h.seed({ leads: 5 });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    fake.reset();
    await h.http.post(`${ws.base}/insights/packs/${pack.id}/recompute`).set(bearer(ws.tokens.owner)).send({ force: true });
    const after = await waitForPack(ws, pack.id);
    expect(after.progress.cachedLeads).toBe(0);
    expect(fake.callsFor("lead_insight")).toBe(5);
    const events = await h.http
      .get(`${ws.base}/insights/audit-events?packId=${pack.id}&action=PACK_RECOMPUTED`)
      .set(bearer(ws.tokens.admin));
    expect(events.body.events).toEqual([
      expect.objectContaining({
        action: "PACK_RECOMPUTED",
        actor: expect.objectContaining({ id: ws.users.owner.id }),
        details: expect.objectContaining({ force: true }),
      }),
    ]);
  });
});

describe("admin actions on packs", () => {
  it("refuses a member's recompute and delete", async () => {
    const ws = await h.seed({ leads: 2 });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    const recompute = await h.http.post(`${ws.base}/insights/packs/${pack.id}/recompute`).set(bearer(ws.tokens.member)).send({});
    const del = await h.http.delete(`${ws.base}/insights/packs/${pack.id}`).set(bearer(ws.tokens.member));
    expect([recompute.status, del.status]).toEqual([403, 403]);
    expect((await getPack(ws, pack.id)).generation).toBe(1);
  });

  it("refuses to recompute a pack that is still running", async () => {
    const ws = await h.seed({ leads: 2 });
    fake.latencyMs = 300;
    const res = await requestPack(ws, await newSession(ws));
    const recompute = await h.http.post(`${ws.base}/insights/packs/${res.body.id}/recompute`).set(bearer(ws.tokens.admin)).send({});
    expect(recompute.status).toBe(409);
    await waitForPack(ws, res.body.id);
  });

  it("lets the same scope be requested again after a delete, as a new pack", async () => {
    const ws = await h.seed({ leads: 2 });
    const sessionId = await newSession(ws);
    const first = await waitForPack(ws, (await requestPack(ws, sessionId)).body.id);
    const del = await h.http.delete(`${ws.base}/insights/packs/${first.id}`).set(bearer(ws.tokens.admin));
    expect(del.status).toBe(200);
    expect((await h.http.get(`${ws.base}/insights/packs/${first.id}`).set(bearer(ws.tokens.admin))).status).toBe(404);
    const again = await requestPack(ws, sessionId);
    expect(again.status).toBe(202);
    expect(again.body.id).not.toBe(first.id);
    expect((await waitForPack(ws, again.body.id)).status).toBe("COMPLETE");
    const events = await h.http.get(`${ws.base}/insights/audit-events?packId=${first.id}`).set(bearer(ws.tokens.admin));
    expect(events.body.events.map((e: { action: string }) => e.action)).toEqual(["PACK_DELETED"]);
  });
});

describe("cancellation", () => {
  /** Jobs of this pack that BullMQ could still run: waiting, delayed or running. */
  const unfinishedJobsOf = async (packId: string) =>
    (await h.queues.packs.getJobs(["active", "waiting", "delayed", "prioritized"])).filter((job) => job.data.packId === packId).length;

  /** Until the pack's job has ended and the model has no call in flight (aborted calls included). */
  const waitForPackWorkToSettle = (packId: string) =>
    waitFor(async () => ((await unfinishedJobsOf(packId)) === 0 && fake.inFlight === 0 ? true : undefined), {
      what: "the pack's job to end and the model to have no call in flight",
    });

  it("stops a running pack's LLM calls when an admin deletes it", async () => {
    const ws = await h.seed({ leads: 40 });
    fake.latencyMs = 150;
    const res = await requestPack(ws, await newSession(ws));
    await waitFor(async () => (fake.callsFor("lead_insight") >= 4 ? true : undefined), { what: "extraction to start" });
    await h.http.delete(`${ws.base}/insights/packs/${res.body.id}`).set(bearer(ws.tokens.admin)).expect(200);
    const atDelete = fake.callsFor("lead_insight");
    // In-flight calls are aborted and no new one starts: the count settles at most one round of calls later.
    await waitForPackWorkToSettle(res.body.id);
    const settled = fake.callsFor("lead_insight");
    expect(settled).toBeLessThanOrEqual(atDelete + 8);
    // With its job over and no call in flight, nothing is left that could call the model for this pack.
    expect(await unfinishedJobsOf(res.body.id)).toBe(0);
    expect(fake.callsFor("lead_insight")).toBe(settled);
    expect(settled).toBeLessThan(40);
    expect(fake.callsFor("pack_synthesis")).toBe(0);
    expect(await h.db.insightContextPackLead.count({ where: { packId: res.body.id } })).toBe(0);
  });

  it("aborts the LLM calls in flight as soon as an admin deletes the pack, without waiting for their timeout", async () => {
    const ws = await h.seed({ leads: 4 });
    // Every summary call hangs: only an abort (or the client's 5 s timeout) can end it.
    fake.intercept = (req) => (req.task === "lead_insight" ? { hang: true } : undefined);
    const res = await requestPack(ws, await newSession(ws));
    await waitFor(async () => (fake.inFlight >= 4 ? true : undefined), { what: "four hanging calls" });
    const deletedAt = Date.now();
    await h.http.delete(`${ws.base}/insights/packs/${res.body.id}`).set(bearer(ws.tokens.admin)).expect(200);
    await waitForPackWorkToSettle(res.body.id);
    expect(Date.now() - deletedAt).toBeLessThan(2_500);
    expect(fake.callsFor("lead_insight")).toBe(4);
    expect(fake.callsFor("pack_synthesis")).toBe(0);
  });

  it("cancels a session's running packs when the session is deleted, and a member can restart them after restore", async () => {
    const ws = await h.seed({ leads: 30 });
    fake.latencyMs = 150;
    const sessionId = await newSession(ws);
    const res = await requestPack(ws, sessionId);
    await waitFor(async () => (fake.callsFor("lead_insight") >= 2 ? true : undefined), { what: "extraction to start" });
    await h.http.delete(`${ws.base}/insights/sessions/${sessionId}`).set(bearer(ws.tokens.admin)).expect(200);
    const cancelled = await h.http.get(`${ws.base}/insights/packs/${res.body.id}`).set(bearer(ws.tokens.admin));
    expect(cancelled.body.status).toBe("CANCELLED");
    expect(cancelled.body.error).toMatch(/session was deleted/);
    await waitForPackWorkToSettle(res.body.id);
    const settled = fake.callsFor("lead_insight");
    expect(await unfinishedJobsOf(res.body.id)).toBe(0);
    expect(fake.callsFor("lead_insight")).toBe(settled);

    fake.latencyMs = 0;
    await h.http.post(`${ws.base}/insights/sessions/${sessionId}/restore`).set(bearer(ws.tokens.admin)).expect(200);
    const restart = await requestPack(ws, sessionId);
    expect(restart.status).toBe(202);
    expect(restart.body.id).toBe(res.body.id);
    const done = await waitForPack(ws, res.body.id);
    expect(done.status).toBe("COMPLETE");
    expect(done.progress.totalLeads).toBe(30);
  });
});

describe("LLM faults", () => {
  it("retries a 429 after the retry-after the server asked for, and completes", async () => {
    const ws = await h.seed({ leads: 3 });
    fake.script("lead_insight", { status: 429, headers: { "retry-after": "1" } });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress.failedLeads).toBe(0);
    expect(fake.callsFor("lead_insight")).toBe(4);
    const times = fake.requests.filter((r) => r.task === "lead_insight").map((r) => r.receivedAt);
    const first = times[0]!;
    // The 429'd lead's retry came no sooner than the server asked (1 s).
    expect(Math.max(...times) - first).toBeGreaterThanOrEqual(1000);
  });

  it("retries 500s with backoff and completes", async () => {
    const ws = await h.seed({ leads: 3 });
    fake.script("lead_insight", { status: 500 }, { status: 502 }, { status: 503 });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress.failedLeads).toBe(0);
    expect(fake.callsFor("lead_insight")).toBe(6);
  });

  it("records a lead whose answers stay malformed as failed, without failing the pack", async () => {
    const ws = await h.seed({ leads: 4 });
    fake.latencyMs = 0;
    // One lead gets malformed answers on both of its attempts (the first answer and one retry).
    let malformedLead: string | undefined;
    fake.respond("lead_insight", (req) => {
      const lead = /Lead: (.*)/.exec(req.text)?.[1];
      malformedLead ??= lead;
      if (lead === malformedLead) return { outcome: "SOMETHING_ELSE" };
      return { outcome: "INTERESTED", sentiment: "positive", summary: "ok", keyFacts: [], objections: [], nextStep: null };
    });
    const pack = await waitForPack(ws, (await requestPack(ws, await newSession(ws))).body.id);
    expect(pack.status).toBe("COMPLETE");
    expect(pack.progress).toMatchObject({ totalLeads: 4, failedLeads: 1, processedLeads: 4 });
    expect(pack.error).toMatch(/1 lead\(s\) could not be summarized/);
    expect(fake.callsFor("lead_insight")).toBe(5);
    const failed = await h.db.insightContextPackLead.findFirstOrThrow({ where: { packId: pack.id, status: "FAILED" } });
    expect(failed.error).toMatch(/did not match the expected shape 2 times/);
    expect(failed.llmCalls).toBe(2);
  });

  it("fails the pack with a readable error when synthesis keeps failing, and a member's request restarts it", async () => {
    const ws = await h.seed({ leads: 3 });
    fake.script("pack_synthesis", { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const sessionId = await newSession(ws);
    const failed = await waitForPack(ws, (await requestPack(ws, sessionId)).body.id);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/^synthesis failed: the LLM server answered 500/);
    expect(fake.callsFor("pack_synthesis")).toBe(4);

    fake.reset();
    const restart = await requestPack(ws, sessionId);
    expect(restart.status).toBe(202);
    const done = await waitForPack(ws, failed.id);
    expect(done.status).toBe("COMPLETE");
    expect(done.progress.cachedLeads).toBe(3);
    expect(fake.callsFor("lead_insight")).toBe(0);
  });
});

describe("the pack body cache", () => {
  const bytes = (n: number) => Buffer.alloc(n, 120);

  it("serves a body only under the tag it was stored with, and forgets the older tag when a newer one is stored", () => {
    const cache = createPackBodyCache(10, 1024);
    cache.set("p", 'W/"pack-1-0"', bytes(10));
    expect(cache.get("p", 'W/"pack-1-0"')).toEqual(bytes(10));
    expect(cache.get("p", 'W/"pack-1-1"')).toBeUndefined();
    cache.set("p", 'W/"pack-2-0"', bytes(20));
    expect(cache.get("p", 'W/"pack-1-0"')).toBeUndefined();
    expect(cache.get("p", 'W/"pack-2-0"')).toEqual(bytes(20));
  });

  it("stays within its entries and bytes, forgetting the least recently served first", () => {
    const cache = createPackBodyCache(2, 100);
    cache.set("a", "t", bytes(40));
    cache.set("b", "t", bytes(40));
    cache.get("a", "t"); // a is now the most recently served
    cache.set("c", "t", bytes(40)); // over two entries: b goes
    expect(cache.get("b", "t")).toBeUndefined();
    expect(cache.get("a", "t")).toBeDefined();
    cache.set("d", "t", bytes(90)); // over 100 bytes: c, then a go
    expect(cache.get("c", "t")).toBeUndefined();
    expect(cache.get("a", "t")).toBeUndefined();
    expect(cache.get("d", "t")).toBeDefined();
    cache.set("huge", "t", bytes(300 * 1024)); // larger than any body it holds: not kept, and evicts nothing
    expect(cache.get("huge", "t")).toBeUndefined();
    expect(cache.get("d", "t")).toBeDefined();
  });
});
