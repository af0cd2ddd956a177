// The access guard reads memberships through a short cache, so a write can start just after the caller lost their
// membership (or their admin role). Writes that must not outlive a revocation re-read the membership inside their
// own transaction, under a share lock: a revocation that committed first is seen here, and one that comes later waits
// until this write has committed, so the write happened before it.
import type { Tx, WorkspaceRole } from "@insights/shared/db/client";
import { AppError } from "../http/app-error.ts";
import type { Caller } from "../http/request-context.ts";

/** Returns whether the caller is an admin now; throws 404 for a non-member, 403 when `admin` is needed and missing. */
export async function lockCallerMembership(tx: Tx, caller: Caller, need: { admin: boolean }): Promise<{ isAdmin: boolean }> {
  const [row] = await tx.$queryRaw<Array<{ role: WorkspaceRole }>>`
    SELECT "role"::text AS "role" FROM "WorkspaceMembership"
    WHERE "clientId" = ${caller.workspaceId} AND "userId" = ${caller.userId} FOR SHARE`;
  if (!row) throw new AppError("NOT_FOUND", "workspace not found");
  const isAdmin = row.role === "OWNER" || row.role === "ADMIN";
  if (need.admin && !isAdmin) throw new AppError("FORBIDDEN", "this action needs a workspace admin");
  return { isAdmin };
}
