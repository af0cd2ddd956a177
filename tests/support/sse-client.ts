// A Server-Sent Events client for the live tests, over plain fetch: it keeps every event (id, type, parsed data)
// and every comment line, in order, so a test can compare what two clients saw, or read why a stream was closed.
import { readServerSentEvents } from "@insights/api/cli/sse-reader";

export interface LiveEvent {
  id: string;
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: each test narrows what it reads
  data: any;
}

export class SseClient {
  readonly events: LiveEvent[] = [];
  readonly comments: string[] = [];
  /** Resolves when the server ends the stream (or the client closes it). */
  readonly ended: Promise<void>;
  private readonly abort = new AbortController();

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    body: ReadableStream<Uint8Array> | null,
  ) {
    this.ended = body ? this.read(body) : Promise.resolve();
  }

  /** Opens a stream; a non-200 answer resolves too, with its status and no events. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { Accept: "text/event-stream", ...headers }, signal: abort.signal });
    const client = new SseClient(res.status, res.headers, res.status === 200 ? res.body : null);
    client.abort.signal.addEventListener("abort", () => abort.abort());
    if (res.status !== 200) client.body = await res.json().catch(() => null);
    return client;
  }

  /** The JSON error body of a refused stream. */
  body: unknown = null;

  get lastEventId(): string | undefined {
    return this.events.at(-1)?.id;
  }

  close(): void {
    this.abort.abort();
  }

  /** Waits until an event satisfying `match` has arrived (counting those already received). */
  async waitFor(match: (e: LiveEvent) => boolean, what: string, timeoutMs = 20_000): Promise<LiveEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        const got = this.events.map((e) => e.event).join(", ") || "no event";
        throw new Error(`timed out waiting for ${what}; got ${got} (status ${this.status}; comments: ${this.comments.join(" | ")})`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const event of readServerSentEvents(body, (text) => this.comments.push(text))) {
        this.events.push({ id: event.id, event: event.event, data: JSON.parse(event.data) });
      }
    } catch {
      // aborted by close(), or the connection dropped: either way the stream has ended
    }
  }
}
