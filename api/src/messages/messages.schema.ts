import { z } from "zod";
import { id, text } from "../http/common.schema.ts";
import { pageQuery } from "../http/pagination.ts";

export const createMessageBody = z.strictObject({
  content: text.trim().min(1, "must not be empty").max(8000),
  /** Answer from this pack instead of the session's newest COMPLETE one. */
  packId: id.optional(),
});

export const listMessagesQuery = z.object(pageQuery);
