// One reader of the session event logs per API process. Every open stream of a session shares it: one blocking
// XREAD on a connection of its own covers every session with a subscriber here, so a thousand streams cost one
// Redis connection, not a thousand. A session's first subscriber starts its read at the log's current end; each
// stream catches up on what came before from the log itself (session-stream.ts), so nothing falls between.
//
// The hub also owns what applies to every stream at once: the keep-alive comment, the per-user cap, the periodic
// re-check that each stream's user is still a member and its session still visible, and closing all at shutdown.
import type { Redis } from "ioredis";
import type { Db } from "@insights/shared/db/client";
import {
  compareIds,
  createSessionEventLog,
  toSessionEvent,
  type SessionEvent,
  type SessionEventLog,
} from "@insights/shared/live/session-events";
import { createRedis } from "@insights/shared/redis";
import type { Logger } from "@insights/shared/logger";
import { AppError } from "../http/app-error.ts";
import type { Caller } from "../http/request-context.ts";

export interface LiveSubscriber {
  readonly sessionId: string;
  readonly caller: Caller;
  /** The next event of the session, in log order. */
  deliver(event: SessionEvent): void;
  keepAlive(): void;
  /** Ends the stream with a reason the client can read; the subscriber unsubscribes itself. */
  close(reason: string): void;
}

export interface LiveLimits {
  keepAliveMs: number;
  /**
   * A stream is closed after this long (its client resumes by Last-Event-ID, on whichever process it reaches):
   * long connections then spread over new API processes, and each reconnect checks the token again.
   */
  maxStreamMs: number;
  maxStreamsPerUser: number;
  maxBufferedBytes: number;
  accessCheckMs: number;
}

interface SessionReader {
  /** The newest id read for this session; null until its start is known. */
  lastId: string | null;
  subscribers: Set<LiveSubscriber>;
  ready: Promise<void>;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = {
  keepAliveMs: 15_000,
  maxStreamMs: 30 * 60_000,
  maxStreamsPerUser: 10,
  maxBufferedBytes: 64 * 1024,
  accessCheckMs: 3_000,
};

/** The event log and this process's hub, with the hub's own blocking connection. */
export function startLive(deps: { db: Db; redis: Redis; redisUrl: string; prefix: string; logger: Logger; limits?: Partial<LiveLimits> }) {
  const log = createSessionEventLog(deps.redis, deps.prefix);
  const reader = createRedis(deps.redisUrl, { role: "api-live-reader" });
  reader.on("error", (err) => deps.logger.warn({ err: err.message }, "live events: redis connection error"));
  const hub = new LiveHub({
    db: deps.db,
    log,
    reader,
    control: deps.redis,
    logger: deps.logger,
    limits: { ...DEFAULT_LIVE_LIMITS, ...deps.limits },
  });
  return { liveLog: log, liveHub: hub };
}

const BLOCK_MS = 5_000;
const READ_BATCH = 1_000;
const RETRY_AFTER_ERROR_MS = 500;

export class LiveHub {
  private readonly sessions = new Map<string, SessionReader>();
  private readonly streamsPerUser = new Map<string, number>();
  private readerId: number | null = null;
  private blocked = false;
  private changed = false;
  private waking = false;
  private wakeIdle: (() => void) | null = null;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[];
  private readonly loop: Promise<void>;

  constructor(
    private readonly deps: {
      db: Db;
      log: SessionEventLog;
      /** A connection of the hub's own: it spends its life blocked in XREAD. */
      reader: Redis;
      /** Any other connection: used to wake the reader when the set of sessions changes. */
      control: Redis;
      logger: Logger;
      limits: LiveLimits;
    },
  ) {
    deps.reader.on("ready", () => {
      deps.reader.client("ID").then(
        (id) => (this.readerId = Number(id)),
        () => undefined,
      );
    });
    this.timers = [
      setInterval(() => this.forEachSubscriber((s) => s.keepAlive()), deps.limits.keepAliveMs),
      setInterval(() => void this.recheckAccess(), deps.limits.accessCheckMs),
    ];
    this.loop = this.readLoop();
  }

  get limits(): LiveLimits {
    return this.deps.limits;
  }

  get openStreams(): number {
    let n = 0;
    for (const reader of this.sessions.values()) n += reader.subscribers.size;
    return n;
  }

  /** Takes one of the user's stream slots (synchronously, so concurrent opens cannot both take the last one). */
  reserveStream(userId: string): () => void {
    const open = this.streamsPerUser.get(userId) ?? 0;
    if (open >= this.deps.limits.maxStreamsPerUser) {
      throw new AppError("RATE_LIMITED", `at most ${this.deps.limits.maxStreamsPerUser} open event streams per user; close one first`);
    }
    this.streamsPerUser.set(userId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.streamsPerUser.get(userId) ?? 1) - 1;
      if (left > 0) this.streamsPerUser.set(userId, left);
      else this.streamsPerUser.delete(userId);
    };
  }

  /** From now on the subscriber gets every event the log receives after the moment this resolves. */
  async subscribe(subscriber: LiveSubscriber): Promise<void> {
    if (this.stopped) throw new AppError("UNAVAILABLE", "the server is shutting down; reconnect");
    const { sessionId } = subscriber;
    let reader = this.sessions.get(sessionId);
    if (!reader) {
      const created: SessionReader = { lastId: null, subscribers: new Set(), ready: Promise.resolve() };
      created.ready = this.deps.log.lastId(sessionId).then(
        (lastId) => {
          created.lastId = lastId;
          this.wake();
        },
        (err: unknown) => {
          if (this.sessions.get(sessionId) === created) this.sessions.delete(sessionId);
          throw err;
        },
      );
      this.sessions.set(sessionId, created);
      reader = created;
    }
    reader.subscribers.add(subscriber);
    await reader.ready;
  }

  unsubscribe(subscriber: LiveSubscriber): void {
    const reader = this.sessions.get(subscriber.sessionId);
    if (!reader) return;
    reader.subscribers.delete(subscriber);
    if (reader.subscribers.size === 0) {
      this.sessions.delete(subscriber.sessionId);
      this.wake();
    }
  }

  /** Closes every stream (the clients reconnect to another process and resume), then stops reading. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.forEachSubscriber((s) => s.close("the server is restarting; reconnect with Last-Event-ID to resume"));
    this.wake();
    this.deps.reader.disconnect();
    await this.loop;
  }

  private forEachSubscriber(fn: (s: LiveSubscriber) => void): void {
    for (const reader of [...this.sessions.values()]) for (const s of [...reader.subscribers]) fn(s);
  }

  private async readLoop(): Promise<void> {
    while (!this.stopped) {
      this.changed = false;
      const reading = [...this.sessions].filter(([, r]) => r.lastId !== null);
      if (reading.length === 0) {
        await new Promise<void>((resolve) => (this.wakeIdle = resolve));
        this.wakeIdle = null;
        continue;
      }
      const keys = reading.map(([sessionId]) => this.deps.log.keyOf(sessionId));
      const ids = reading.map(([, r]) => r.lastId!);
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        this.blocked = true;
        reply = (await this.deps.reader.xread("COUNT", READ_BATCH, "BLOCK", BLOCK_MS, "STREAMS", ...keys, ...ids)) as typeof reply;
      } catch (err) {
        if (this.stopped) break;
        this.deps.logger.warn({ err: (err as Error).message }, "live events: reading the logs failed; retrying");
        await new Promise((r) => setTimeout(r, RETRY_AFTER_ERROR_MS));
        continue;
      } finally {
        this.blocked = false;
      }
      for (const [key, entries] of reply ?? []) {
        const index = keys.indexOf(key);
        const sessionId = reading[index]?.[0];
        const reader = sessionId === undefined ? undefined : this.sessions.get(sessionId);
        if (!reader || reader.lastId === null) continue;
        for (const [id, fields] of entries) {
          if (compareIds(id, reader.lastId) <= 0) continue;
          reader.lastId = id;
          const event = toSessionEvent(id, fields);
          for (const subscriber of [...reader.subscribers]) subscriber.deliver(event);
        }
      }
    }
  }

  /** The set of sessions changed: interrupt the blocked XREAD so the next one covers it. */
  private wake(): void {
    this.changed = true;
    this.wakeIdle?.();
    if (!this.blocked || this.readerId === null || this.waking || this.stopped) return;
    this.waking = true;
    this.deps.control.client("UNBLOCK", this.readerId).then(
      (unblocked) => {
        this.waking = false;
        // The XREAD had not reached Redis yet: try again in a moment, until it is interrupted or has returned.
        if (Number(unblocked) === 0 && this.blocked && this.changed) setTimeout(() => this.wake(), 5);
      },
      () => (this.waking = false),
    );
  }

  /** Closes streams whose user left the workspace, or whose session was deleted (for members) or purged. */
  private async recheckAccess(): Promise<void> {
    const subscribers: LiveSubscriber[] = [];
    this.forEachSubscriber((s) => subscribers.push(s));
    if (subscribers.length === 0) return;
    const usersByWorkspace = new Map<string, Set<string>>();
    for (const { caller } of subscribers) {
      const users = usersByWorkspace.get(caller.workspaceId) ?? new Set();
      users.add(caller.userId);
      usersByWorkspace.set(caller.workspaceId, users);
    }
    try {
      const [memberships, sessions] = await Promise.all([
        this.deps.db.workspaceMembership.findMany({
          where: { OR: [...usersByWorkspace].map(([clientId, users]) => ({ clientId, userId: { in: [...users] } })) },
          select: { clientId: true, userId: true, role: true },
        }),
        this.deps.db.insightChatSession.findMany({
          where: { id: { in: [...new Set(subscribers.map((s) => s.sessionId))] } },
          select: { id: true, deletedAt: true },
        }),
      ]);
      const roles = new Map(memberships.map((m) => [`${m.clientId}\u0000${m.userId}`, m.role]));
      const deleted = new Map(sessions.map((s) => [s.id, s.deletedAt !== null]));
      for (const subscriber of subscribers) {
        const role = roles.get(`${subscriber.caller.workspaceId}\u0000${subscriber.caller.userId}`);
        const isAdmin = role === "OWNER" || role === "ADMIN";
        const gone = !deleted.has(subscriber.sessionId) || (deleted.get(subscriber.sessionId) && !isAdmin);
        if (!role) subscriber.close("you are no longer a member of this workspace");
        else if (gone) subscriber.close("the session was deleted");
      }
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, "live events: access re-check failed; will retry");
    }
  }
}
