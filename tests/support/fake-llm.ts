// A local OpenAI-compatible server standing in for the LLM: the real openai client code runs against it over
// HTTP. It records every request, answers each task (told apart by its structured-output name) with a valid
// answer by default, and can be scripted to fail: status codes with retry-after, malformed output, latency.
// A request with `stream: true` is answered as OpenAI streams: server-sent chunks of the content, then a usage
// chunk and `[DONE]`, at a pace a test can set (or a stream cut off part way, as a dropped connection).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  task: string;
  body: {
    model: string;
    reasoning_effort?: string;
    messages: Array<{ role: string; content: string }>;
    response_format?: { json_schema?: { name?: string } };
    stream?: boolean;
  };
  /** Every message's content, joined: what the LLM was shown. */
  text: string;
  receivedAt: number;
}

/** One scripted answer: an HTTP error, or a 200 whose content is given verbatim (e.g. malformed JSON). */
type ScriptedReply =
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { content: string }
  | { hang: true }
  /** Streamed requests only: sends this many characters of the default answer, then drops the connection. */
  | { dropAfterChars: number };

type Responder = (request: RecordedRequest) => unknown;

export interface FakeLlm {
  /** For OPENAI_BASE_URL. */
  baseURL: string;
  requests: RecordedRequest[];
  callsFor(task: string): number;
  /** Requests received whose response has not ended yet (answered, failed or aborted by the client). */
  inFlight: number;
  /** Queue replies for a task; each scripted reply is used once, in order, before the default answers resume. */
  script(task: string, ...replies: ScriptedReply[]): void;
  /** Replace the default answer for a task. */
  respond(task: string, responder: Responder): void;
  /** Decide per request whether it fails (checked before scripts): return a reply to use, or undefined to go on. */
  intercept: ((request: RecordedRequest) => ScriptedReply | undefined) | null;
  latencyMs: number;
  /** Streamed replies: characters per chunk, and the pause before each chunk after the first. */
  streamChunkChars: number;
  streamChunkDelayMs: number;
  /** When each streamed reply sent its first content chunk (ms since epoch), in order. */
  firstChunkAt: number[];
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
    streamChunkChars: 8,
    streamChunkDelayMs: 0,
    firstChunkAt: [],
    inFlight: 0,
    intercept: null,
    callsFor: (task) => fake.requests.filter((r) => r.task === task).length,
    script: (task, ...replies) => scripts.set(task, [...(scripts.get(task) ?? []), ...replies]),
    respond: (task, responder) => responders.set(task, responder),
    reset() {
      fake.requests.length = 0;
      scripts.clear();
      responders.clear();
      fake.latencyMs = 0;
      fake.streamChunkChars = 8;
      fake.streamChunkDelayMs = 0;
      fake.firstChunkAt.length = 0;
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
    fake.inFlight += 1;
    let gone = false;
    res.on("close", () => {
      fake.inFlight -= 1;
      gone = true;
    });
    const body = JSON.parse(await readBody(req)) as RecordedRequest["body"];
    const task = body.response_format?.json_schema?.name ?? "text";
    const recorded: RecordedRequest = { task, body, text: body.messages.map((m) => m.content).join("\n"), receivedAt: Date.now() };
    fake.requests.push(recorded);
    if (fake.latencyMs > 0) await new Promise((r) => setTimeout(r, fake.latencyMs));
    // A client that gave up during the latency (an aborted call) takes no scripted answer: a later test's would go.
    if (gone) return;

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
    const content =
      scripted && "content" in scripted
        ? scripted.content
        : JSON.stringify((responders.get(task) ?? DEFAULTS[task] ?? (() => ({ text: "ok" })))(recorded));
    if (body.stream) {
      await streamReply(res, fake, body.model, content, scripted && "dropAfterChars" in scripted ? scripted.dropAfterChars : undefined);
      return;
    }
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

async function streamReply(res: ServerResponse, fake: FakeLlm, model: string, content: string, dropAfterChars?: number) {
  const base = { id: `chatcmpl-${fake.requests.length}`, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
  const send = (chunk: object) => res.write(`data: ${JSON.stringify({ ...base, ...chunk })}\n\n`);
  res.writeHead(200, { "content-type": "text/event-stream" });
  const end = dropAfterChars ?? content.length;
  for (let at = 0; at < end; at += fake.streamChunkChars) {
    if (at > 0 && fake.streamChunkDelayMs > 0) await new Promise((r) => setTimeout(r, fake.streamChunkDelayMs));
    if (res.destroyed) return;
    if (at === 0) fake.firstChunkAt.push(Date.now());
    const piece = content.slice(at, Math.min(end, at + fake.streamChunkChars));
    send({ choices: [{ index: 0, delta: at === 0 ? { role: "assistant", content: piece } : { content: piece }, finish_reason: null }] });
  }
  if (dropAfterChars !== undefined) {
    res.destroy();
    return;
  }
  send({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  send({ choices: [], usage: { ...USAGE, total_tokens: USAGE.prompt_tokens + USAGE.completion_tokens } });
  res.end("data: [DONE]\n\n");
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
