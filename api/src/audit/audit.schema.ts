import { z } from "zod";
import { InsightChatAuditAction } from "@insights/shared/db/client";
import { pageQuery } from "../http/pagination.ts";
import { id } from "../http/common.schema.ts";

export const listAuditEventsQuery = z.object({
  sessionId: id.optional(),
  packId: id.optional(),
  action: z.enum(InsightChatAuditAction).optional(),
  ...pageQuery,
});
