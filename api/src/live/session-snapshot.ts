// The first event of a connection without a usable Last-Event-ID: the session as the routes return it, its packs
// as `GET /packs/:id` returns each, and its last 50 messages as `GET /messages` lists them (oldest first). Beside
// them, `streaming`: the text so far of each reply still being written, which the deltas after the snapshot continue
// (so a member who arrives mid-answer sees all of it).
import type { Db } from "@insights/shared/db/client";
import type { StreamingReply } from "@insights/shared/live/session-events";
import { lastMessages } from "../messages/messages.service.ts";
import { listPacks } from "../packs/packs.service.ts";
import type { Caller } from "../http/request-context.ts";
import { getSession } from "../sessions/sessions.service.ts";

const SNAPSHOT_MESSAGES = 50;
/** The newest packs, as one page of `GET /sessions/:id/packs` at its largest. */
const SNAPSHOT_PACKS = 200;

export async function buildSessionSnapshot(db: Db, caller: Caller, sessionId: string, streaming: StreamingReply[]) {
  const [session, { packs }, messages] = await Promise.all([
    getSession(db, caller, sessionId),
    listPacks(db, caller, sessionId, { limit: SNAPSHOT_PACKS }),
    lastMessages(db, sessionId, SNAPSHOT_MESSAGES),
  ]);
  // A reply that finished meanwhile is in `messages` whole (and its message.updated follows).
  const pending = new Set(messages.filter((m) => m.status === "PENDING").map((m) => m.id));
  return { session, packs, messages, streaming: streaming.filter((s) => pending.has(s.messageId)) };
}
