// Memberships change rarely and are read on every workspace request (a chat client polls a pack every second or
// so). Positive lookups are kept for a few seconds per process; a revoked membership or a changed role therefore
// takes effect within MEMBERSHIP_CACHE_MS. Misses are never cached, so a new member gets in at once.
import type { Db, WorkspaceRole } from "@insights/shared/db/client";

export const MEMBERSHIP_CACHE_MS = 5_000;
const MAX_ENTRIES = 10_000;

export type MembershipLookup = (workspaceId: string, userId: string) => Promise<WorkspaceRole | null>;

export function cachedMembershipLookup(db: Db, ttlMs = MEMBERSHIP_CACHE_MS): MembershipLookup {
  const cache = new Map<string, { role: WorkspaceRole; expires: number }>();
  return async (workspaceId, userId) => {
    const key = `${workspaceId}\u0000${userId}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) return hit.role;
    const row = await db.workspaceMembership.findUnique({
      where: { clientId_userId: { clientId: workspaceId, userId } },
      select: { role: true },
    });
    cache.delete(key);
    if (!row) return null;
    // Map order is insertion order: dropping the first key evicts the oldest entry.
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(key, { role: row.role, expires: now + ttlMs });
    return row.role;
  };
}
