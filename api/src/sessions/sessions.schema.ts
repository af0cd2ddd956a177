import { z } from "zod";
import { text } from "../http/common.schema.ts";
import { pageQuery } from "../http/pagination.ts";

const title = text.trim().min(1, "must not be empty").max(200);

export const createSessionBody = z.strictObject({ title: title.optional() });
export const renameSessionBody = z.strictObject({ title });
export const listSessionsQuery = z.object({
  /** Admins only: include soft-deleted sessions (to restore them). */
  includeDeleted: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .default(false),
  ...pageQuery,
});

/** A session as the API returns it (and as /openapi.json describes it). */
export const sessionResponse = z.object({
  id: z.string(),
  workspaceId: z.string(),
  title: z.string(),
  createdById: z.string(),
  createdAt: z.date(),
  updatedAt: z.date(),
  deletedAt: z.date().nullable(),
  deletedById: z.string().nullable(),
});
export type SessionResponse = z.output<typeof sessionResponse>;

export const sessionPage = z.object({ sessions: z.array(sessionResponse), nextCursor: z.string().nullable() });
