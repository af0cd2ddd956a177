import { z } from "zod";
import { WorkspaceRole } from "@insights/shared/db/client";
import { id, text } from "../http/common.schema.ts";

export const userParams = z.object({ userId: id });
export const memberParams = z.object({ workspaceId: id, userId: id });

export const putWorkspaceBody = z.strictObject({
  name: text.trim().min(1, "must not be empty").max(200),
  /** Its share of the workers relative to other workspaces (1 when created without one; kept when left out). */
  schedulingWeight: z.int().min(1).max(100).optional(),
});
export const putUserBody = z.strictObject({
  email: z.email().max(320),
  name: text.trim().min(1, "must not be empty").max(200).nullish(),
});
export const putMemberBody = z.strictObject({ role: z.enum(WorkspaceRole) });

export const workspaceResponse = z.object({ id: z.string(), name: z.string(), schedulingWeight: z.number().int(), createdAt: z.date() });
export const userResponse = z.object({ id: z.string(), email: z.string(), name: z.string().nullable(), createdAt: z.date() });
export const memberResponse = z.object({
  workspaceId: z.string(),
  userId: z.string(),
  role: z.enum(WorkspaceRole),
  createdAt: z.date(),
});
export const offboardedWorkspaceResponse = z.object({
  id: z.string(),
  offboardedAt: z.date(),
  removedMembers: z.number().int(),
  removedAuditEvents: z.number().int(),
});
export const removedMemberResponse = z.object({
  workspaceId: z.string(),
  userId: z.string(),
  /** The role the user held until now. */
  role: z.enum(WorkspaceRole),
  removedAt: z.date(),
});
