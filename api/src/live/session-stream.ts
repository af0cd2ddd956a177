// One client's event stream: `GET .../sessions/:sessionId/events`. It starts with a snapshot (or, given a
// Last-Event-ID the log still holds, with the events after it), catches up from the log, then follows the hub.
// Ids only ever increase on one connection: an event at or below the last id sent is never sent again, which is
// what makes the hand-over from catch-up to live delivery exact.
import type { Response } from "express";
import type { Db } from "@insights/shared/db/client";
import { compareIds, type SessionEvent, type SessionEventLog } from "@insights/shared/live/session-events";
import type { Logger } from "@insights/shared/logger";
import type { Caller } from "../http/request-context.ts";
import { findVisibleSession } from "../sessions/sessions.service.ts";
import type { LiveHub, LiveSubscriber } from "./live-hub.ts";
import { buildSessionSnapshot } from "./session-snapshot.ts";

export interface LiveStreamDeps {
  db: Db;
  log: SessionEventLog;
  hub: LiveHub;
  logger: Logger;
}

const CATCH_UP_BATCH = 500;
/** Live events held while a stream catches up; a stream that falls this far behind is closed (it can resume). */
const MAX_HELD_EVENTS = 2_000;
/** A closed stream whose client reads nothing is cut off after this long. */
const CLOSE_GRACE_MS = 2_000;
/**
 * A client may fall behind by more than LIVE_MAX_BUFFERED_BYTES for this long (a burst, a slow link) before it is
 * dropped; beyond SLOW_CLIENT_HARD_FACTOR times that, it is dropped at once. That bounds each stream's buffer.
 */
const SLOW_CLIENT_GRACE_MS = 5_000;
const SLOW_CLIENT_HARD_FACTOR = 4;
const TOO_SLOW = "this client reads too slowly; reconnect with Last-Event-ID to resume";

const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  // nginx and similar proxies would otherwise buffer the stream.
  "X-Accel-Buffering": "no",
};

class SessionStream implements LiveSubscriber {
  /** Events that arrived live while the stream was catching up; null once it follows the hub directly. */
  private held: SessionEvent[] | null = [];
  private closed = false;
  /** Nothing is written before the headers: a keep-alive tick would otherwise send default ones. */
  private started = false;
  private ageLimit: NodeJS.Timeout | undefined;
  private slowCheck: NodeJS.Timeout | undefined;

  constructor(
    readonly sessionId: string,
    readonly caller: Caller,
    private lastSentId: string,
    private readonly res: Response,
    private readonly hub: LiveHub,
    private readonly release: () => void,
  ) {
    res.once("close", () => this.detach());
  }

  get position(): string {
    return this.lastSentId;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  deliver(event: SessionEvent): void {
    if (this.closed) return;
    if (this.held) {
      this.held.push(event);
      if (this.held.length > MAX_HELD_EVENTS) this.close(TOO_SLOW);
      return;
    }
    this.send(event);
  }

  start(): void {
    this.res.writeHead(200, SSE_HEADERS);
    this.started = true;
    this.ageLimit = setTimeout(
      () => this.close("this stream reached its maximum age; reconnect with Last-Event-ID to resume"),
      this.hub.limits.maxStreamMs,
    );
  }

  /** The snapshot stands at the log position it was taken at: the events after it follow. */
  sendSnapshot(data: object): void {
    // Exempt from the slow-client bound: it is one write of bounded size (200 packs, 50 messages), and the stream
    // waits for the client to take it before it sends anything else.
    this.write(`id: ${this.lastSentId}\nevent: session.snapshot\ndata: ${JSON.stringify(data)}\n\n`, false);
  }

  send(event: SessionEvent): void {
    if (this.closed || compareIds(event.id, this.lastSentId) <= 0) return;
    this.lastSentId = event.id;
    this.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`);
    if (event.type === "session.deleted") this.close("the session was deleted");
  }

  /** Caught up with the log: send what arrived meanwhile, then follow the hub directly. */
  goLive(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const event of held) this.send(event);
  }

  keepAlive(): void {
    if (this.started) this.write(": keep-alive\n\n");
  }

  close(reason: string): void {
    if (this.closed) return;
    this.detach();
    // Not started: the request is still being answered (its error, if any, goes out as JSON).
    if (!this.started) return;
    this.res.end(`: closing: ${reason}\n\n`);
    // A client that reads nothing would keep the socket (and what is buffered for it) forever.
    setTimeout(() => this.res.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Resolves once the client has taken what was buffered for it (or the stream closed): catching up goes at its pace. */
  async drained(): Promise<void> {
    if (this.closed || !this.res.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      this.res.once("drain", resolve);
      this.res.once("close", resolve);
    });
  }

  private write(frame: string, bounded = true): void {
    if (this.closed) return;
    this.res.write(frame);
    if (!bounded) return;
    // What the socket has not taken yet: a client that stops reading is dropped instead of growing this buffer.
    const limit = this.hub.limits.maxBufferedBytes;
    if (this.res.writableLength > limit * SLOW_CLIENT_HARD_FACTOR) {
      this.close(TOO_SLOW);
    } else if (this.res.writableLength > limit && !this.slowCheck) {
      this.slowCheck = setTimeout(() => {
        this.slowCheck = undefined;
        if (this.res.writableLength > limit) this.close(TOO_SLOW);
      }, SLOW_CLIENT_GRACE_MS);
    }
  }

  private detach(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.ageLimit);
    clearTimeout(this.slowCheck);
    this.held = null;
    this.hub.unsubscribe(this);
    this.release();
  }
}

/**
 * Serves one connection. Order matters: the start point comes first (the client's Last-Event-ID, or the log's
 * position for a snapshot, read before the snapshot's database reads); then the stream subscribes to the hub,
 * holding live events; then it catches up from the log after its start point, and only then sends what it held.
 * Ids at or below the last one sent are dropped, so every event after the start point arrives exactly once.
 */
export async function openSessionStream(
  deps: LiveStreamDeps,
  res: Response,
  caller: Caller,
  sessionId: string,
  lastEventId: string | undefined,
): Promise<void> {
  const { db, log, hub } = deps;
  await findVisibleSession(db, caller, sessionId);
  // HEAD (which Express routes here with GET) gets the headers only: a body nobody reads must not hold a stream.
  if (res.req.method === "HEAD") {
    res.writeHead(200, SSE_HEADERS).end();
    return;
  }
  const release = hub.reserveStream(caller.userId);
  let stream: SessionStream | undefined;
  try {
    const replay = lastEventId !== undefined && (await log.canReplayFrom(sessionId, lastEventId));
    const point = replay ? null : await log.snapshotPoint(sessionId);
    stream = new SessionStream(sessionId, caller, point ? point.lastId : lastEventId!, res, hub, release);
    await hub.subscribe(stream);
    const snapshot = point ? await buildSessionSnapshot(db, caller, sessionId, point.streaming) : null;
    stream.start();
    if (snapshot) stream.sendSnapshot(snapshot);
    else res.write(": resuming\n\n"); // sends the headers now, so the client knows it is connected
    await stream.drained();
    for (;;) {
      const batch = await log.readAfter(sessionId, stream.position, CATCH_UP_BATCH);
      for (const event of batch) {
        stream.send(event);
        await stream.drained();
      }
      if (batch.length < CATCH_UP_BATCH || stream.isClosed) break;
    }
    stream.goLive();
  } catch (err) {
    if (!stream) release();
    if (!res.headersSent) {
      stream?.close("could not start");
      throw err; // answered as any other error: nothing was streamed yet
    }
    deps.logger.warn({ err, sessionId }, "live events: a stream failed while starting; closing it");
    stream?.close("the server could not start this stream; reconnect");
  }
}
