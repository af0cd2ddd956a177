import { z } from "zod";

/** Query of the event stream: both parameters exist for browsers' EventSource, which cannot set headers. */
export const sessionEventsQuery = z.object({
  /** As the `Last-Event-ID` header (which wins when both are sent). */
  lastEventId: z.string().max(64).optional(),
  /** The bearer token, read by `authenticate` on this route only; never logged. */
  access_token: z.string().optional(),
});
