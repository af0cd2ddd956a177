// A local OpenAI-compatible server standing in for the LLM: the real openai client code runs against it over
// HTTP. It records every request, answers each task (told apart by its structured-output name) with a valid
// answer by default, and can be scripted to fail: status codes with retry-after, malformed output, latency.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  task: string;
  body: {
    model: string;
    reasoning_effort?: string;
    messages: Array<{ role: string; content: string }>;
    response_format?: { json_schema?: { name?: string } };
  };
  /** Every message's content, joined: what the LLM was shown. */
  text: string;
  receivedAt: number;
}

/** One scripted answer: an HTTP error, or a 200 whose content is given verbatim (e.g. malformed JSON). */
export type ScriptedReply =
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { content: string }
  | { hang: true };

export type Responder = (request: RecordedRequest) => unknown;

export interface FakeLlm {
  /** For OPENAI_BASE_URL. */
  baseURL: string;
  requests: RecordedRequest[];
  callsFor(task: string): number;
  /** Queue replies for a task; each scripted reply is used once, in order, before the default answers resume. */
  script(task: string, ...replies: ScriptedReply[]): void;
  /** Replace the default answer for a task. */
  respond(task: string, responder: Responder): void;
  /** Decide per request whether it fails (checked before scripts): return a reply to use, or undefined to go on. */
  intercept: ((request: RecordedRequest) => ScriptedReply | undefined) | null;
  latencyMs: number;
  reset(): void;
  close(): Promise<void>;
}

export const USAGE = { prompt_tokens: 120, completion_tokens: 30 };

const DEFAULTS: Record<string, Responder> = {
  lead_insight: (req) => {
    const text = req.text.toLowerCase();
    const outcome = !/\] lead:/.test(text)
      ? "NO_REPLY"
      : text.includes("unsubscribe")
        ? "UNSUBSCRIBED"
        : text.includes("book a call")
          ? "MEETING_BOOKED"
          : text.includes("pricing")
            ? "INTERESTED"
            : "NOT_INTERESTED";
    return {
      outcome,
      sentiment: outcome === "MEETING_BOOKED" || outcome === "INTERESTED" ? "positive" : "neutral",
      summary: `Fake summary: ${outcome.toLowerCase()}.`,
      keyFacts: ["fake fact"],
      objections: outcome === "NOT_INTERESTED" ? ["fake objection"] : [],
      nextStep: null,
    };
  },
  pack_synthesis: () => ({ synthesis: "Fake synthesis: the pack was synthesized from lead summaries." }),
  chat_answer: () => ({ answer: "Fake answer, from the pack.", citedLeadIds: [], suggestedActions: [] }),
};

export async function startFakeLlm(): Promise<FakeLlm> {
  const scripts = new Map<string, ScriptedReply[]>();
  const responders = new Map<string, Responder>();
  const hanging = new Set<() => void>();
  const fake: FakeLlm = {
    baseURL: "",
    requests: [],
    latencyMs: 0,
    intercept: null,
    callsFor: (task) => fake.requests.filter((r) => r.task === task).length,
    script: (task, ...replies) => scripts.set(task, [...(scripts.get(task) ?? []), ...replies]),
    respond: (task, responder) => responders.set(task, responder),
    reset() {
      fake.requests.length = 0;
      scripts.clear();
      responders.clear();
      fake.latencyMs = 0;
      fake.intercept = null;
    },
    close: () =>
      new Promise((resolve) => {
        for (const release of hanging) release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server: Server = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req)) as RecordedRequest["body"];
    const task = body.response_format?.json_schema?.name ?? "text";
    const recorded: RecordedRequest = { task, body, text: body.messages.map((m) => m.content).join("\n"), receivedAt: Date.now() };
    fake.requests.push(recorded);
    if (fake.latencyMs > 0) await new Promise((r) => setTimeout(r, fake.latencyMs));

    const scripted = fake.intercept?.(recorded) ?? scripts.get(task)?.shift();
    if (scripted && "hang" in scripted) {
      // Never answers: the client's timeout or abort must end the call.
      await new Promise<void>((release) => {
        hanging.add(release);
        req.on("close", () => release());
      });
      return;
    }
    if (scripted && "status" in scripted) {
      res.writeHead(scripted.status, { "content-type": "application/json", ...scripted.headers });
      res.end(JSON.stringify(scripted.body ?? { error: { message: `scripted ${scripted.status}`, type: "fake" } }));
      return;
    }
    const content = scripted
      ? scripted.content
      : JSON.stringify((responders.get(task) ?? DEFAULTS[task] ?? (() => ({ text: "ok" })))(recorded));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${fake.requests.length}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content, refusal: null } }],
        usage: { ...USAGE, total_tokens: USAGE.prompt_tokens + USAGE.completion_tokens },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return fake;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
