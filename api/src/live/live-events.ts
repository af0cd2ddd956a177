// What the API publishes to a session's live log, always after the change has committed (a client never sees a
// state the database does not hold) and before the job that continues the work is enqueued (so a worker's events
// for that work always follow the API's in the log). A publish that fails is logged and the request still
// succeeds: the change is durable, and a client that missed the event gets the state in its next snapshot.
import type { Db } from "@insights/shared/db/client";
import { publishMessages, publishPackUpdated } from "@insights/shared/live/publish";
import type { SessionEventLog, SessionEventType } from "@insights/shared/live/session-events";
import type { Logger } from "@insights/shared/logger";

export interface LiveEvents {
  sessionUpdated(session: { id: string }): Promise<void>;
  sessionDeleted(session: { id: string }): Promise<void>;
  packUpdated(packId: string): Promise<void>;
  packDeleted(pack: { id: string; sessionId: string }): Promise<void>;
  messageCreated(message: { id: string; sessionId: string }): Promise<void>;
  /** Messages the API itself finished or changed (cancelled replies, redacted answers), as listed now. */
  messagesUpdated(messageIds: string[]): Promise<void>;
  /**
   * Drops the sessions' logged events, whose text may quote what an erasure removed. Unlike a lost event, a failure
   * here must fail the request (the caller retries it): erased text may not stay readable.
   */
  forgetSessions(sessionIds: string[]): Promise<void>;
}

export function createLiveEvents(deps: { db: Db; log: SessionEventLog; logger: Logger }): LiveEvents {
  const { db, log, logger } = deps;
  const safely = async (what: string, publish: () => Promise<unknown>) => {
    try {
      await publish();
    } catch (err) {
      logger.warn({ err: (err as Error).message, event: what }, "live event not published; clients get it with their next snapshot");
    }
  };
  const append = (sessionId: string, type: SessionEventType, data: object) => safely(type, () => log.append(sessionId, type, data));
  return {
    sessionUpdated: (session) => append(session.id, "session.updated", session),
    sessionDeleted: (session) => append(session.id, "session.deleted", session),
    packUpdated: (packId) => safely("pack.updated", () => publishPackUpdated(db, log, packId)),
    packDeleted: (pack) => append(pack.sessionId, "pack.deleted", { id: pack.id }),
    messageCreated: (message) => append(message.sessionId, "message.created", message),
    messagesUpdated: (messageIds) =>
      messageIds.length === 0
        ? Promise.resolve()
        : safely("message.updated", () => publishMessages(db, log, "message.updated", messageIds)),
    forgetSessions: async (sessionIds) => {
      await Promise.all([...new Set(sessionIds)].map((id) => log.forget(id)));
    },
  };
}
