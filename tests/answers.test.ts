import { describe, expect, it } from "vitest";
import { bearer, type TestWorkspace } from "./support/harness.ts";
import { USAGE } from "./support/fake-llm.ts";
import { useFakeModelWorker, waitFor } from "./support/worker-harness.ts";

const { h, fake } = await useFakeModelWorker();

type Message = {
  id: string;
  role: string;
  status: string;
  content: string;
  author: { id: string } | null;
  packId: string | null;
  replyToId: string | null;
  error: string | null;
  suggestions: Array<{ type: string }> | null;
  usage: { llmCalls: number; inputTokens: number; outputTokens: number };
};

/** A workspace with a COMPLETE pack in a fresh session. */
async function sessionWithPack(ws: TestWorkspace) {
  const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  const sessionId = session.body.id as string;
  const res = await h.http
    .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
    .set(bearer(ws.tokens.member))
    .send({ window: { preset: "LAST_90_DAYS" } });
  const pack = await waitFor(async () => {
    const p = await h.http.get(`${ws.base}/insights/packs/${res.body.id}`).set(bearer(ws.tokens.member));
    return p.body.status === "COMPLETE" ? p.body : undefined;
  });
  return { sessionId, pack };
}

async function ask(ws: TestWorkspace, sessionId: string, content: string, token = ws.tokens.member) {
  const res = await h.http.post(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(token)).send({ content });
  expect(res.status).toBe(201);
  return res.body as { message: Message; reply: Message | null };
}

async function waitForReply(ws: TestWorkspace, sessionId: string, replyId: string): Promise<Message> {
  return waitFor(
    async () => {
      const res = await h.http.get(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.member));
      const reply = (res.body.messages as Message[]).find((m) => m.id === replyId);
      return reply && reply.status !== "PENDING" ? reply : undefined;
    },
    { what: `reply ${replyId}` },
  );
}

describe("asking a question", () => {
  it("is answered end to end from the session's pack, with the reply's usage recorded", async () => {
    const ws = await h.seed({ leads: 6 });
    const { sessionId, pack } = await sessionWithPack(ws);
    const { message, reply } = await ask(ws, sessionId, "Which leads asked for pricing?");
    expect(message).toMatchObject({ role: "USER", status: "COMPLETE", author: { id: ws.users.member.id } });
    expect(reply).toMatchObject({ role: "ASSISTANT", status: "PENDING", packId: pack.id, replyToId: message.id });

    const answered = await waitForReply(ws, sessionId, reply!.id);
    expect(answered.status).toBe("COMPLETE");
    expect(answered.content).toBe("Fake answer, from the pack.");
    expect(answered.usage).toEqual({ llmCalls: 1, inputTokens: USAGE.prompt_tokens, outputTokens: USAGE.completion_tokens });
    expect(fake.callsFor("chat_answer")).toBe(1);

    const list = await h.http.get(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.admin));
    expect(list.body.messages.map((m: Message) => [m.role, m.author?.id ?? null])).toEqual([
      ["USER", ws.users.member.id],
      ["ASSISTANT", null],
    ]);
  });

  it("stores the message without a reply when the session has no COMPLETE pack", async () => {
    const ws = await h.seed({ leads: 1 });
    const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
    const { reply } = await ask(ws, session.body.id, "Anything yet?");
    expect(reply).toBeNull();
  });

  it("refuses to answer from a named pack that is not COMPLETE", async () => {
    const ws = await h.seed({ leads: 2 });
    const { sessionId } = await sessionWithPack(ws);
    fake.latencyMs = 300;
    const other = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_7_DAYS" } });
    const res = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "From the new pack?", packId: other.body.id });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("CONFLICT");
  });
});

describe("the answering path", () => {
  it("never sends raw thread text: a follow-up is built from the pack, the summaries and the conversation", async () => {
    const ws = await h.seed({ leads: 0 });
    const marker = (i: number) => `RAWTHREADMARKER${i}X`;
    const leads = Array.from({ length: 8 }, (_, i) => ({
      id: `marked-${i}`,
      campaignId: ws.campaignIds[i % 3],
      messages: [
        { id: "m1", direction: "OUTBOUND", body: `Hello from us ${marker(i)}`, sentAt: new Date(Date.now() - 7200_000).toISOString() },
        { id: "m2", direction: "INBOUND", body: `Send pricing please ${marker(i)}`, sentAt: new Date(Date.now() - 3600_000).toISOString() },
      ],
    }));
    await h.http.post(`${ws.base}/leads/batch`).set(bearer(ws.tokens.admin)).send({ leads }).expect(200);
    const { sessionId } = await sessionWithPack(ws);
    // Extraction is the one step that reads threads: the markers did reach the LLM there.
    expect(fake.requests.filter((r) => r.task === "lead_insight").every((r) => r.text.includes("RAWTHREADMARKER"))).toBe(true);

    const first = await ask(ws, sessionId, "Who asked for pricing?");
    await waitForReply(ws, sessionId, first.reply!.id);
    const followUp = await ask(ws, sessionId, "And which campaign were they in?");
    await waitForReply(ws, sessionId, followUp.reply!.id);

    const answers = fake.requests.filter((r) => r.task === "chat_answer");
    expect(answers).toHaveLength(2);
    for (const request of answers) {
      expect(request.text).not.toContain("RAWTHREADMARKER");
      expect(request.text).toContain("Fake synthesis"); // the pack's synthesis
      expect(request.text).toContain("Fake summary"); // cached lead summaries
    }
    // The follow-up carries the earlier exchange.
    const followUpMessages = answers[1]!.body.messages;
    expect(followUpMessages.map((m) => m.content)).toEqual(
      expect.arrayContaining(["Who asked for pricing?", "Fake answer, from the pack.", "And which campaign were they in?"]),
    );
    expect(followUpMessages.at(-1)!.content).toBe("And which campaign were they in?");
  });

  it("uses the workspace's model and effort, states the toggles, and suggests only actions whose toggle is on", async () => {
    const ws = await h.seed({ leads: 3 });
    await h.http
      .patch(`${ws.base}/insights/settings`)
      .set(bearer(ws.tokens.admin))
      .send({ insightsChatModel: "gpt-answer-test", insightsChatReasoningEffort: "low", insightsChatEnableFollowupPauses: true })
      .expect(200);
    const { sessionId } = await sessionWithPack(ws);
    fake.respond("chat_answer", () => ({
      answer: "Pause follow-ups for the unsubscribed leads, and rewrite the SMS campaign.",
      citedLeadIds: [],
      suggestedActions: ["FOLLOWUP_PAUSE", "CAMPAIGN_CHANGE", "EXPERIMENT_WRITE"].map((type) => ({
        type,
        title: `Do ${type}`,
        rationale: "because",
        campaignId: null,
        leadIds: [],
      })),
    }));
    const { reply } = await ask(ws, sessionId, "What should we change?");
    const answered = await waitForReply(ws, sessionId, reply!.id);
    expect(answered.suggestions!.map((s) => s.type)).toEqual(["FOLLOWUP_PAUSE"]);

    const request = fake.requests.find((r) => r.task === "chat_answer")!;
    expect([request.body.model, request.body.reasoning_effort]).toEqual(["gpt-answer-test", "low"]);
    const system = request.body.messages[0]!.content;
    expect(system).toContain("FOLLOWUP_PAUSE");
    expect(system).not.toContain("CAMPAIGN_CHANGE");
    expect(system).not.toContain("EXPERIMENT_WRITE");
  });

  it("tells the model no action is allowed when every toggle is off", async () => {
    const ws = await h.seed({ leads: 2 });
    const { sessionId } = await sessionWithPack(ws);
    const { reply } = await ask(ws, sessionId, "What should we change?");
    const answered = await waitForReply(ws, sessionId, reply!.id);
    expect(answered.suggestions).toEqual([]);
    expect(fake.requests.find((r) => r.task === "chat_answer")!.body.messages[0]!.content).toContain("allows no actions");
  });
});

describe("an LLM failure", () => {
  it("leaves a FAILED reply with a readable reason, and the session answers the next question", async () => {
    const ws = await h.seed({ leads: 2 });
    const { sessionId } = await sessionWithPack(ws);
    fake.script("chat_answer", { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const { reply } = await ask(ws, sessionId, "Will this work?");
    const failed = await waitForReply(ws, sessionId, reply!.id);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/^could not answer: the LLM server answered 500/);

    const next = await ask(ws, sessionId, "And now?");
    const answered = await waitForReply(ws, sessionId, next.reply!.id);
    expect(answered.status).toBe("COMPLETE");
  });

  it("fails a reply whose pack was deleted before it was answered", async () => {
    const ws = await h.seed({ leads: 2 });
    const { sessionId, pack } = await sessionWithPack(ws);
    fake.latencyMs = 400;
    const { reply } = await ask(ws, sessionId, "Quick question");
    await h.http.delete(`${ws.base}/insights/packs/${pack.id}`).set(bearer(ws.tokens.admin)).expect(200);
    const result = await waitForReply(ws, sessionId, reply!.id);
    // Either the answer won the race, or the reply says what happened; it never stays PENDING.
    if (result.status === "FAILED") expect(result.error).toMatch(/pack .* was deleted/);
    else expect(result.status).toBe("COMPLETE");
  });
});

describe("usage accounting", () => {
  it("adds up across replies, packs and the workspace, and reports what reuse saved", async () => {
    const ws = await h.seed({ leads: 5 });
    const { sessionId, pack } = await sessionWithPack(ws);
    const a = await ask(ws, sessionId, "First question");
    const b = await ask(ws, sessionId, "Second question");
    const replies = [await waitForReply(ws, sessionId, a.reply!.id), await waitForReply(ws, sessionId, b.reply!.id)];

    // A second session over the same scope reuses every cached summary; asking the first session again reuses its pack.
    const second = await sessionWithPack(ws);
    await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/packs`)
      .set(bearer(ws.tokens.member))
      .send({ window: { preset: "LAST_90_DAYS" } })
      .expect(200);

    const usage = await h.http.get(`${ws.base}/insights/usage`).set(bearer(ws.tokens.admin));
    expect(usage.status).toBe(200);
    const replyCalls = replies.reduce((n, r) => n + r.usage.llmCalls, 0);
    const replyInput = replies.reduce((n, r) => n + r.usage.inputTokens, 0);
    expect(usage.body.totals).toEqual({
      llmCalls: pack.usage.llmCalls + second.pack.usage.llmCalls + replyCalls,
      inputTokens: pack.usage.inputTokens + second.pack.usage.inputTokens + replyInput,
      outputTokens: pack.usage.outputTokens + second.pack.usage.outputTokens + replies.reduce((n, r) => n + r.usage.outputTokens, 0),
    });
    expect(usage.body.byKind.EXTRACTION.llmCalls).toBe(5);
    expect(usage.body.byKind.SYNTHESIS.llmCalls).toBe(2);
    expect(usage.body.byKind.ANSWER.llmCalls).toBe(2);
    expect(usage.body.saved.cachedLeadSummaries).toEqual({
      inputTokens: 5 * USAGE.prompt_tokens,
      outputTokens: 5 * USAGE.completion_tokens,
    });
    expect(usage.body.saved.reusedPacks).toEqual({ inputTokens: pack.usage.inputTokens, outputTokens: pack.usage.outputTokens });
    expect(usage.body.byDay.reduce((n: number, d: { llmCalls: number }) => n + d.llmCalls, 0)).toBe(usage.body.totals.llmCalls);
  });

  it("is for admins: a member gets 403, an outsider 404", async () => {
    const ws = await h.seed({ leads: 1 });
    expect((await h.http.get(`${ws.base}/insights/usage`).set(bearer(ws.tokens.member))).status).toBe(403);
    expect((await h.http.get(`${ws.base}/insights/usage`).set(bearer(ws.tokens.outsider))).status).toBe(404);
  });
});

describe("who sees what", () => {
  it("lets every member read the shared session's questions and answers, and hides them from outsiders", async () => {
    const ws = await h.seed({ leads: 2 });
    const { sessionId } = await sessionWithPack(ws);
    const { reply } = await ask(ws, sessionId, "Shared question", ws.tokens.admin);
    await waitForReply(ws, sessionId, reply!.id);
    const path = `${ws.base}/insights/sessions/${sessionId}/messages`;
    const asMember = await h.http.get(path).set(bearer(ws.tokens.member));
    expect(asMember.body.messages.map((m: Message) => m.role)).toEqual(["USER", "ASSISTANT"]);
    expect((await h.http.get(path).set(bearer(ws.tokens.outsider))).status).toBe(404);
    expect((await h.http.post(path).set(bearer(ws.tokens.outsider)).send({ content: "let me in" })).status).toBe(404);
  });

  it("adds a SYSTEM note to the session when an admin recomputes its pack", async () => {
    const ws = await h.seed({ leads: 2 });
    const { sessionId, pack } = await sessionWithPack(ws);
    await h.http.post(`${ws.base}/insights/packs/${pack.id}/recompute`).set(bearer(ws.tokens.admin)).send({}).expect(202);
    const list = await h.http.get(`${ws.base}/insights/sessions/${sessionId}/messages`).set(bearer(ws.tokens.member));
    expect(list.body.messages).toEqual([
      expect.objectContaining({ role: "SYSTEM", author: null, content: expect.stringContaining("recomputed") }),
    ]);
    await waitFor(async () =>
      (await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.id } })).status === "COMPLETE" ? true : undefined,
    );
  });
});
