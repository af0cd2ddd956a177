import { z } from "zod";

/** Ids: our own are UUIDs; the host's (campaigns, leads, messages) are opaque strings of this shape. */
export const id = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 letters, digits or . _ : -");

/** PostgreSQL text cannot hold NUL, and jsonb refuses unpaired surrogates: refuse both here, with the field named. */
export const text = z
  .string()
  .refine((s) => !s.includes("\u0000") && s.isWellFormed(), "must be text without NUL characters or unpaired surrogates");

/** Years 1 to 9999 in UTC: what every layer (JavaScript, Prisma, PostgreSQL timestamps) round-trips. */
export const isStorableDate = (d: Date) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999;
export const STORABLE_DATE = "must be between the years 1 and 9999 (UTC)";

/** An ISO 8601 date-time with an offset, as an instant. */
export const isoDateTime = z.iso.datetime({ offset: true }).pipe(z.coerce.date()).refine(isStorableDate, STORABLE_DATE);

/** An ISO date (midnight UTC that day) or date-time with an offset, as an instant. */
export const isoDateOrDateTime = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .pipe(z.coerce.date())
  .refine(isStorableDate, STORABLE_DATE);

const DAY_MS = 24 * 3600_000;

/**
 * The end of a range: a date-time with an offset as that instant, or an ISO date as the end of that day (UTC), i.e.
 * the next midnight, since ranges end before their `to`. The one meaning of a date-only `to` in every route.
 */
export const isoRangeEnd = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((text) => new Date(new Date(text).getTime() + (text.length === 10 ? DAY_MS : 0)))
  .refine(isStorableDate, STORABLE_DATE);

/** Where every workspace route lives, and the insights routes under it. */
export const WORKSPACE_PATH = "/v1/workspaces/{workspaceId}";
export const INSIGHTS_PATH = `${WORKSPACE_PATH}/insights`;

/** Path parameters of workspace routes, each the whole set its path names. */
export const workspaceParams = z.object({ workspaceId: id });
export const sessionPath = workspaceParams.extend({ sessionId: id });
export const packPath = workspaceParams.extend({ packId: id });
