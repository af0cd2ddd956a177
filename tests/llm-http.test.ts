// The openai client's HTTP under the provider (worker/src/llm/http-fetch.ts), against a bare local HTTP server: what
// goes over the wire, and what a call does when the server is not there or stops answering. The fake model covers
// answers, errors, timeouts and dropped streams through the same path (llm-faults, live-events, packs).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConversationInsightOutcome } from "@insights/shared/db/client";
import { createOpenAiProvider } from "@insights/worker/llm/openai-provider";
import type { LeadThread, LlmProvider } from "@insights/worker/llm/provider";
import { unlimited } from "@insights/worker/llm/rate-limit";

const thread: LeadThread = {
  leadId: "lead-1",
  leadName: "Ada Lovelace",
  campaignName: "Spring",
  messages: [{ direction: "INBOUND", body: "Tell me about pricing: über-cheap? 💸", sentAt: new Date("2026-11-01T10:00:00Z") }],
};
const insight = {
  outcome: Object.values(ConversationInsightOutcome)[0],
  sentiment: "positive",
  summary: "Asked about pricing.",
  keyFacts: [],
  objections: [],
  nextStep: null,
};

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

async function listen(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => handle(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

/** A chat completion whose content is `insight`, as OpenAI answers one. */
function answer(res: ServerResponse) {
  res.writeHead(200, { "content-type": "application/json", "x-request-id": "req-1" });
  res.end(
    JSON.stringify({
      id: "c1",
      object: "chat.completion",
      created: 0,
      model: "gpt-test",
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: JSON.stringify(insight) } }],
      usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
    }),
  );
}

const providerAt = (baseURL: string, timeoutMs = 2_000): LlmProvider =>
  createOpenAiProvider({
    apiKey: "sk-test-key",
    baseURL,
    timeoutMs,
    retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 50 },
    malformedRetries: 0,
    rateLimiter: unlimited,
  });
const call = (signal = new AbortController().signal) => ({ model: "gpt-test", reasoningEffort: "low" as const, signal });

describe("the LLM client's HTTP", () => {
  it("sends the key and the request as JSON, and reads the answer and its token counts", async () => {
    const seen: Array<{ method?: string; url?: string; authorization?: string; contentType?: string; body: string }> = [];
    const baseURL = await listen((req, body, res) => {
      seen.push({
        method: req.method,
        url: req.url,
        authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
        body,
      });
      answer(res);
    });
    const result = await providerAt(baseURL).extractLeadInsight(thread, call());
    expect(result.value).toEqual(insight);
    expect(result.usage).toMatchObject({ llmCalls: 1, inputTokens: 11, outputTokens: 7 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/v1/chat/completions", authorization: "Bearer sk-test-key" });
    expect(seen[0]!.contentType).toContain("application/json");
    const sent = JSON.parse(seen[0]!.body);
    expect(sent.model).toBe("gpt-test");
    expect(JSON.stringify(sent.messages)).toContain("über-cheap? 💸");
  });

  it("follows a redirect that keeps the request (307), as fetch does, sending the body again", async () => {
    const bodies: string[] = [];
    const baseURL = await listen((req, body, res) => {
      bodies.push(`${req.method} ${req.url} ${body.length}`);
      if (req.url === "/v1/chat/completions") {
        res.writeHead(307, { location: "/v2/chat/completions" }).end();
        return;
      }
      answer(res);
    });
    expect((await providerAt(baseURL).extractLeadInsight(thread, call())).value).toEqual(insight);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toMatch(/^POST \/v2\/chat\/completions [1-9]/);
    expect(bodies[1]!.split(" ")[2]).toBe(bodies[0]!.split(" ")[2]);
  });

  it("fails a call to a server that is not there with a readable error, after its retries, without hanging", async () => {
    const baseURL = await listen(() => undefined);
    const closed = servers.pop()!;
    await new Promise((r) => closed.close(r));
    const started = Date.now();
    await expect(providerAt(baseURL).extractLeadInsight(thread, call())).rejects.toThrow(/LLM server did not answer/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("ends a call whose server stops answering at the timeout, and a cancelled one at once, closing its connection", async () => {
    const open = new Set<IncomingMessage>();
    let closedByClient = 0;
    const baseURL = await listen((req) => {
      open.add(req);
      req.socket.once("close", () => {
        open.delete(req);
        closedByClient++;
      });
    });
    // Timeout: each of the two tries gives up after 300 ms.
    const timedOut = Date.now();
    await expect(providerAt(baseURL, 300).extractLeadInsight(thread, call())).rejects.toThrow(/timed out|did not answer/i);
    expect(Date.now() - timedOut).toBeLessThan(1_500);
    // Cancelled mid-call: the call rejects at once and the server sees its connection go.
    const controller = new AbortController();
    const pending = providerAt(baseURL, 10_000).extractLeadInsight(thread, call(controller.signal));
    await expect.poll(() => open.size).toBe(1);
    const before = closedByClient;
    const cancelledAt = Date.now();
    controller.abort("cancelled");
    await expect(pending).rejects.toBeDefined();
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
    await expect.poll(() => closedByClient).toBe(before + 1);
  });
});
