// The live event log of each chat session: a Redis Stream that the API and the workers append to after the change
// an event describes has committed, and that every API process reads from an id onward. The stream's own ids
// (`<ms>-<seq>`, strictly increasing per stream) are the SSE `id:`s, so any API process can resume any client.
//
// Kept: every event younger than LIVE_RETENTION_MS, and the newest LIVE_MIN_EVENTS whatever their age; only what
// is both older and beyond that count is trimmed. A session with no event for LIVE_IDLE_TTL_MS loses its log
// altogether (its clients' next reconnect gets a fresh snapshot, which is exact).
//
// Whether an id can still be replayed: beside the stream, the script keeps its `floor`, the newest id no longer in
// the log (the last one trimmed; for a log created anew, by its first event or after it expired, the id just below
// that event). An id below the floor, above the newest id, or malformed cannot be replayed exactly.
import type { Redis } from "ioredis";
import { redisScript } from "../redis-script.ts";

export const SESSION_EVENT_TYPES = [
  "session.snapshot",
  "session.updated",
  "session.deleted",
  "pack.updated",
  "pack.deleted",
  "message.created",
  "message.delta",
  "message.updated",
] as const;
export type SessionEventType = (typeof SESSION_EVENT_TYPES)[number];

/** One event as stored and as sent: `data` is the JSON text of one object. */
export interface SessionEvent {
  id: string;
  type: SessionEventType;
  data: string;
}

export const LIVE_RETENTION_MS = 15 * 60_000;
export const LIVE_MIN_EVENTS = 10_000;
export const LIVE_IDLE_TTL_MS = 24 * 3600_000;

/** The id before any event: where a connection to a session that has no log yet starts. */
export const LOG_START = "0-0";

// Both keys of a session share its hash tag, so the one script below touches a single Redis Cluster slot (when the
// prefix carries a tag of its own, `{prefix}`, that tag wins and all keys share one slot, as BullMQ's do).
const streamKeyOf = (prefix: string, sessionId: string) => `${prefix}:live:{${sessionId}}:events`;
const metaKeyOf = (prefix: string, sessionId: string) => `${prefix}:live:{${sessionId}}:meta`;

// KEYS: stream, meta. ARGV: type, data, version field ('' for none), version, retention ms, min events, ttl ms.
// Returns the new id, or false when the entity already has an event at this version or a newer one (a slower
// publisher of an older state never overtakes a newer one).
const APPEND = redisScript(`
if ARGV[3] ~= '' then
  local seen = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '-1')
  if tonumber(ARGV[4]) <= seen then return false end
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
end
-- The text so far of each reply being streamed, for snapshots: a client that connects mid-answer gets the
-- pieces it missed, and the deltas after the snapshot continue them.
if ARGV[1] == 'message.delta' then
  local d = cjson.decode(ARGV[2])
  local attempt = string.format('%d', d.attempt)
  if redis.call('HGET', KEYS[2], 'streaming-attempt:' .. d.messageId) == attempt then
    local text = redis.call('HGET', KEYS[2], 'streaming-text:' .. d.messageId) or ''
    redis.call('HSET', KEYS[2], 'streaming-text:' .. d.messageId, text .. d.text)
  else
    redis.call('HSET', KEYS[2], 'streaming-attempt:' .. d.messageId, attempt, 'streaming-text:' .. d.messageId, d.text)
  end
elseif ARGV[1] == 'message.updated' then
  -- Finished: no more pieces, and no more attempts (the worker skips a reply that is not PENDING).
  local d = cjson.decode(ARGV[2])
  redis.call('HDEL', KEYS[2], 'streaming-attempt:' .. d.id, 'streaming-text:' .. d.id, 'attempt:' .. d.id)
end
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local id = redis.call('XADD', KEYS[1], '*', 'type', ARGV[1], 'data', ARGV[2])
local ms, seq = string.match(id, '^(%d+)-(%d+)$')
if fresh then
  local before
  if seq == '0' then before = string.format('%d-18446744073709551615', tonumber(ms) - 1)
  else before = ms .. '-' .. string.format('%d', tonumber(seq) - 1) end
  redis.call('HSET', KEYS[2], 'floor', before)
end
-- Trim in batches of 64: entries both older than the retention and beyond the newest min-events.
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[6])
if excess >= 64 then
  local cutoff = tonumber(ms) - tonumber(ARGV[5])
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', math.min(excess, 1000) + 1)
  -- The first entry to keep; when all fetched are trimmable (over 1000 in excess), the last one fetched, and the
  -- rest goes next time.
  local kept = #oldest
  for i, entry in ipairs(oldest) do
    if i > excess or tonumber(string.match(entry[1], '^(%d+)')) >= cutoff then kept = i; break end
  end
  if kept > 1 then
    redis.call('XTRIM', KEYS[1], 'MINID', oldest[kept][1])
    redis.call('HSET', KEYS[2], 'floor', oldest[kept - 1][1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return id`);

// KEYS: stream, meta. Drops every event the log holds and the text so far of answers being streamed (after a lead's
// erasure, they may quote it). The replay floor moves up to the newest id: a client resuming from before it gets a
// fresh snapshot, which the database already holds without the erased text.
const FORGET = redisScript(`
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(field, 1, 15) == 'streaming-text:' then redis.call('HDEL', KEYS[2], field) end
end
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #newest == 0 then return 0 end
redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
redis.call('HSET', KEYS[2], 'floor', newest[1][1])
return 1`);

/** A reply's answer as streamed so far: its attempt and the text of that attempt's pieces. */
export interface StreamingReply {
  messageId: string;
  attempt: number;
  text: string;
}

export interface SessionEventLogOptions {
  retentionMs?: number;
  minEvents?: number;
  idleTtlMs?: number;
}

export interface SessionEventLog {
  /**
   * Appends one event; call only after the change it describes has committed. With `version`, the event is
   * skipped (null) when the entity already has an event at that version or a newer one.
   */
  append(sessionId: string, type: SessionEventType, data: object, version?: { entity: string; version: number }): Promise<string | null>;
  /** The next attempt number (1, 2, ...) of a reply's streamed answer; a new attempt voids the earlier pieces. */
  nextAttempt(sessionId: string, messageId: string): Promise<number>;
  /** Events after `afterId`, oldest first. */
  readAfter(sessionId: string, afterId: string, count: number): Promise<SessionEvent[]>;
  /** The newest id in the log (LOG_START when there is none). */
  lastId(sessionId: string): Promise<string>;
  /**
   * Where a snapshot taken now stands, read in one step with the text so far of each reply being streamed at
   * that point (the deltas after it continue that text).
   */
  snapshotPoint(sessionId: string): Promise<{ lastId: string; streaming: StreamingReply[] }>;
  /** True when every event after `id` is still in the log, so a replay from it misses nothing. */
  canReplayFrom(sessionId: string, id: string): Promise<boolean>;
  /** Drops every event of the session's log (their text may hold erased data); resuming clients get a snapshot. */
  forget(sessionId: string): Promise<void>;
  /** For the shared reader: the stream key of a session. */
  keyOf(sessionId: string): string;
}

export function createSessionEventLog(redis: Redis, prefix: string, options: SessionEventLogOptions = {}): SessionEventLog {
  const retentionMs = options.retentionMs ?? LIVE_RETENTION_MS;
  const minEvents = options.minEvents ?? LIVE_MIN_EVENTS;
  const ttlMs = options.idleTtlMs ?? LIVE_IDLE_TTL_MS;
  return {
    keyOf: (sessionId) => streamKeyOf(prefix, sessionId),
    async forget(sessionId) {
      await FORGET.run(redis, [streamKeyOf(prefix, sessionId), metaKeyOf(prefix, sessionId)], []);
    },
    async append(sessionId, type, data, version) {
      const id = await APPEND.run(
        redis,
        [streamKeyOf(prefix, sessionId), metaKeyOf(prefix, sessionId)],
        [type, JSON.stringify(data), version?.entity ?? "", version?.version ?? 0, retentionMs, minEvents, ttlMs],
      );
      return typeof id === "string" ? id : null;
    },
    async nextAttempt(sessionId, messageId) {
      const meta = metaKeyOf(prefix, sessionId);
      const [[, attempt]] = (await redis.multi().hincrby(meta, `attempt:${messageId}`, 1).pexpire(meta, ttlMs).exec()) as [
        [unknown, number],
      ];
      return attempt;
    },
    async readAfter(sessionId, afterId, count) {
      const entries = await redis.xrange(streamKeyOf(prefix, sessionId), `(${afterId}`, "+", "COUNT", count);
      return entries.map(([id, fields]) => toSessionEvent(id, fields));
    },
    async lastId(sessionId) {
      const [newest] = await redis.xrevrange(streamKeyOf(prefix, sessionId), "+", "-", "COUNT", 1);
      return newest?.[0] ?? LOG_START;
    },
    async snapshotPoint(sessionId) {
      const [[, newest], [, meta]] = (await redis
        .multi()
        .xrevrange(streamKeyOf(prefix, sessionId), "+", "-", "COUNT", 1)
        .hgetall(metaKeyOf(prefix, sessionId))
        .exec()) as [[unknown, Array<[string, string[]]>], [unknown, Record<string, string>]];
      const streaming: StreamingReply[] = [];
      for (const [field, attempt] of Object.entries(meta)) {
        const messageId = /^streaming-attempt:(.+)$/.exec(field)?.[1];
        if (messageId) streaming.push({ messageId, attempt: Number(attempt), text: meta[`streaming-text:${messageId}`] ?? "" });
      }
      return { lastId: newest[0]?.[0] ?? LOG_START, streaming };
    },
    async canReplayFrom(sessionId, id) {
      if (!parseId(id)) return false;
      const [floor, newest] = await Promise.all([
        redis.hget(metaKeyOf(prefix, sessionId), "floor"),
        redis.xrevrange(streamKeyOf(prefix, sessionId), "+", "-", "COUNT", 1),
      ]);
      const last = newest[0]?.[0];
      return floor !== null && last !== undefined && compareIds(id, floor) >= 0 && compareIds(id, last) <= 0;
    },
  };
}

export function toSessionEvent(id: string, fields: string[]): SessionEvent {
  const value = (name: string) => fields[fields.indexOf(name) + 1] ?? "";
  return { id, type: value("type") as SessionEventType, data: value("data") };
}

function parseId(id: string): [bigint, bigint] | null {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  return match ? [BigInt(match[1]!), BigInt(match[2]!)] : null;
}

/** Orders two stream ids; a malformed id sorts below every real one. */
export function compareIds(a: string, b: string): number {
  const x = parseId(a) ?? [-1n, -1n];
  const y = parseId(b) ?? [-1n, -1n];
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}
