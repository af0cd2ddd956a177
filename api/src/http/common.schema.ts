import { z } from "zod";

/** Ids: our own are UUIDs; the host's (campaigns, leads, messages) are opaque strings of this shape. */
export const id = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 letters, digits or . _ : -");

/** Path parameters of every workspace route, parsed once by name. */
export const workspaceParams = z.object({ workspaceId: id });
export const sessionParams = z.object({ sessionId: id });
export const packParams = z.object({ packId: id });
