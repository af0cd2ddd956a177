// Keyset pagination over (createdAt, id): stable under concurrent inserts, unlike offsets.
import { z } from "zod";
import { id, isoDateTime } from "./common.schema.ts";

export interface Cursor {
  createdAt: Date;
  id: string;
}

const cursorPayload = z.object({ t: isoDateTime, id });

export const pageQuery = {
  cursor: z
    .string()
    .max(256)
    .transform((value, ctx): Cursor => {
      try {
        const { t, id } = cursorPayload.parse(JSON.parse(Buffer.from(value, "base64url").toString("utf8")));
        return { createdAt: t, id };
      } catch {
        ctx.addIssue({ code: "custom", message: "is not a cursor this API returned" });
        return z.NEVER;
      }
    })
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
};

export function encodeCursor(row: Cursor): string {
  return Buffer.from(JSON.stringify({ t: row.createdAt.toISOString(), id: row.id })).toString("base64url");
}

/** Prisma `where` for rows after the cursor in the given direction. */
export function afterCursor(cursor: Cursor | undefined, direction: "asc" | "desc") {
  if (!cursor) return {};
  const op = direction === "asc" ? "gt" : "lt";
  return {
    OR: [{ createdAt: { [op]: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { [op]: cursor.id } }],
  };
}

/** Fetch `limit + 1` rows, then call this: it trims the extra row and says where the next page starts. */
export function toPage<T extends Cursor>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
