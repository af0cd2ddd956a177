// A session's live feed: the API's event stream (Server-Sent Events through the browser's EventSource), resumed by
// id after any drop, or, where the service has no event stream, polling. Either way the view gets FeedEvents.
import { ApiError, type Api } from "./api.ts";
import type { Message, Pack, Session } from "./types.ts";

export type FeedEvent =
  | { type: "snapshot"; session: Session; packs: Pack[]; messages: Message[] }
  | { type: "pack"; pack: Pack }
  | { type: "packDeleted"; id: string }
  | { type: "message"; message: Message }
  | { type: "delta"; messageId: string; attempt: number; text: string }
  | { type: "session"; session: Session };

/** live: streaming; polling: the service has no stream, so it is asked every few seconds; lost: retrying. */
export type FeedStatus = "connecting" | "live" | "polling" | "lost";

interface FeedOptions {
  api: Api;
  /** `/v1/workspaces/:id/insights` */
  base: string;
  sessionId: string;
  onEvent: (event: FeedEvent) => void;
  onStatus: (status: FeedStatus) => void;
  /** The session cannot be followed (gone, or no longer allowed). */
  onFatal: (error: ApiError) => void;
}

export interface Feed {
  close(): void;
  /** Catch up now (after an action of our own, in polling mode). */
  refresh(): void;
}

const POLL_MS = 2000;
const RETRY_MS = [500, 1000, 2000, 3000, 5000];

// biome-ignore lint/suspicious/noExplicitAny: event data from the wire; each mapper reads the fields of its own event type
const EVENT_TYPES: Record<string, (data: any) => FeedEvent> = {
  "session.snapshot": (d) => ({ type: "snapshot", session: d.session, packs: d.packs, messages: d.messages }),
  "pack.updated": (d) => ({ type: "pack", pack: d }),
  "pack.deleted": (d) => ({ type: "packDeleted", id: d.id }),
  "message.created": (d) => ({ type: "message", message: d }),
  "message.updated": (d) => ({ type: "message", message: d }),
  "message.delta": (d) => ({ type: "delta", messageId: d.messageId, attempt: d.attempt, text: d.text }),
  "session.updated": (d) => ({ type: "session", session: d }),
  "session.deleted": (d) => ({ type: "session", session: d }),
};

export function openFeed(o: FeedOptions): Feed {
  const sessionPath = `${o.base}/sessions/${o.sessionId}`;
  const eventsPath = `${sessionPath}/events`;
  let source: EventSource | null = null;
  let lastEventId: string | null = null;
  let mode: "stream" | "poll" = "stream";
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const later = (fn: () => void, ms: number) => {
    clearTimeout(timer);
    if (!closed) timer = setTimeout(fn, ms);
  };

  function connect() {
    if (closed) return;
    const query = new URLSearchParams({ access_token: o.api.token });
    if (lastEventId) query.set("lastEventId", lastEventId);
    const es = new EventSource(`${eventsPath}?${query}`);
    source = es;
    o.onStatus(lastEventId ? "lost" : "connecting");
    es.onopen = () => {
      failures = 0;
      o.onStatus("live");
    };
    for (const [name, toEvent] of Object.entries(EVENT_TYPES)) {
      es.addEventListener(name, (e: MessageEvent<string>) => {
        if (e.lastEventId) lastEventId = e.lastEventId;
        o.onEvent(toEvent(JSON.parse(e.data)));
      });
    }
    es.onerror = () => {
      // CONNECTING: the browser is already reconnecting, sending Last-Event-ID itself. CLOSED: the server refused.
      if (es.readyState === EventSource.CONNECTING) return o.onStatus("lost");
      es.close();
      void diagnose();
    };
  }

  /** EventSource hides why a connection was refused; the same request through fetch says. */
  async function diagnose() {
    const abort = new AbortController();
    let status = 0;
    try {
      const res = await fetch(eventsPath, {
        headers: { authorization: `Bearer ${o.api.token}`, accept: "text/event-stream" },
        signal: abort.signal,
      });
      status = res.status;
      if (!res.ok) await res.text().catch(() => undefined);
    } catch {
      status = 0;
    } finally {
      abort.abort();
    }
    if (closed) return;
    if (status === 429) {
      // Too many open streams for this user (other tabs): this one asks every few seconds instead.
      mode = "poll";
      return void poll();
    }
    if (status === 404 || status === 401 || status === 403) {
      // Either the session is gone (or not ours), or this service has no event stream: the session itself says.
      try {
        await o.api.get(sessionPath);
        mode = "poll";
        void poll();
      } catch (err) {
        if (err instanceof ApiError && err.status !== 0 && err.status < 500) return o.onFatal(err);
        retry();
      }
      return;
    }
    retry();
  }

  function retry() {
    o.onStatus("lost");
    const ms = RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]!;
    later(mode === "stream" ? connect : poll, ms);
  }

  async function poll() {
    if (closed) return;
    try {
      const [session, packs, messages] = await Promise.all([
        o.api.get<Session>(sessionPath),
        o.api.get<{ packs: Pack[] }>(`${sessionPath}/packs`),
        allMessages(o.api, sessionPath),
      ]);
      if (closed) return;
      failures = 0;
      o.onEvent({ type: "snapshot", session, packs: packs.packs, messages });
      o.onStatus("polling");
      later(poll, POLL_MS);
    } catch (err) {
      if (err instanceof ApiError && err.status !== 0 && err.status < 500 && err.status !== 429) return o.onFatal(err);
      retry();
    }
  }

  const onOnline = () => {
    // Back online: do not wait for the backoff.
    if (closed) return;
    if (mode === "poll") return void poll();
    if (!source || source.readyState === EventSource.CLOSED) connect();
  };
  addEventListener("online", onOnline);
  connect();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      source?.close();
      removeEventListener("online", onOnline);
    },
    refresh() {
      if (mode === "poll") void poll();
    },
  };
}

/** Every message of the session, oldest first (the snapshot carries only the last 50). */
export async function allMessages(api: Api, sessionPath: string): Promise<Message[]> {
  const messages: Message[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "200", ...(cursor ? { cursor } : {}) });
    const page: { messages: Message[]; nextCursor: string | null } = await api.get(`${sessionPath}/messages?${query}`);
    messages.push(...page.messages);
    cursor = page.nextCursor;
  } while (cursor);
  return messages;
}
