import { z } from "zod";
import { INSIGHTS_PATH, sessionPath } from "../http/common.schema.ts";
import { defineRoute } from "../http/route.ts";
import { sessionEventsQuery } from "./live.schema.ts";
import { openSessionStream } from "./session-stream.ts";

export const liveRoutes = [
  defineRoute({
    operationId: "sessionEvents",
    method: "get",
    path: `${INSIGHTS_PATH}/sessions/{sessionId}/events`,
    summary: "A session's live events (Server-Sent Events); closing the connection never cancels any work",
    description:
      "First a `session.snapshot` `{session, packs, messages, streaming}` (or, with a Last-Event-ID the log still " +
      "holds, the events after it), then `pack.updated`, `pack.deleted`, `message.created`, `message.delta`, " +
      "`message.updated`, `session.updated` and `session.deleted` as they happen, each with an `id:` to resume " +
      "from on any API process. A `: keep-alive` comment at least every 15 s. Browsers' EventSource may send the " +
      "token as `?access_token=` and the last id as `?lastEventId=`.",
    tag: "insights",
    access: "member",
    params: sessionPath,
    query: sessionEventsQuery,
    headers: z.object({ "Last-Event-ID": z.string().max(64).optional() }),
    responses: { 200: { description: "The session's events", contentType: "text/event-stream" } },
    handle: async ({ params, query, headers, caller, res }, deps) => {
      const live = { db: deps.db, log: deps.liveLog, hub: deps.liveHub, logger: deps.logger };
      await openSessionStream(live, res, caller, params.sessionId, headers["Last-Event-ID"] ?? query.lastEventId);
    },
  }),
];
