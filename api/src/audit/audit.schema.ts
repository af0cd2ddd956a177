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

export const auditEventResponse = z.object({
  id: z.string(),
  workspaceId: z.string(),
  action: z.enum(InsightChatAuditAction),
  /**
   * USER actors carry who they are; the SYSTEM actor (e.g. the retention purge) and the SERVICE actor (the host's
   * backend, with its service token) only their type.
   */
  actor: z.object({
    type: z.enum(["USER", "SYSTEM", "SERVICE"]),
    id: z.string().optional(),
    email: z.string().optional(),
    name: z.string().nullable().optional(),
  }),
  sessionId: z.string().nullable(),
  packId: z.string().nullable(),
  details: z.unknown(),
  createdAt: z.date(),
});
export type AuditEventResponse = z.output<typeof auditEventResponse>;
export const auditEventPage = z.object({ events: z.array(auditEventResponse), nextCursor: z.string().nullable() });
