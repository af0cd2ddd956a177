// Memberships change rarely and are read on every workspace request (a chat client polls a pack every second or
// so). Positive lookups are kept for a few seconds per process; a revoked membership or a changed role therefore
// takes effect within MEMBERSHIP_CACHE_MS in every API process (the contract allows 6 s), and at once in the process
// that made the change, which forgets its entry. Misses are never cached, so a new member gets in at once.
import type { Db, WorkspaceRole } from "@insights/shared/db/client";

export const MEMBERSHIP_CACHE_MS = 5_000;
const MAX_ENTRIES = 10_000;

export interface MembershipCache {
  /** The role while a fresh entry is held, without waiting: undefined when `roleOf` must look it up. */
  cachedRoleOf(workspaceId: string, userId: string): WorkspaceRole | undefined;
  roleOf(workspaceId: string, userId: string): Promise<WorkspaceRole | null>;
  /** After a membership changed in this process. */
  forget(workspaceId: string, userId: string): void;
}

export function createMembershipCache(db: Db, ttlMs = MEMBERSHIP_CACHE_MS): MembershipCache {
  const cache = new Map<string, { role: WorkspaceRole; expires: number }>();
  const keyOf = (workspaceId: string, userId: string) => `${workspaceId}\u0000${userId}`;
  return {
    cachedRoleOf(workspaceId, userId) {
      const hit = cache.get(keyOf(workspaceId, userId));
      return hit && hit.expires > Date.now() ? hit.role : undefined;
    },
    async roleOf(workspaceId, userId) {
      const key = keyOf(workspaceId, userId);
      // Taken before the read: an entry never outlives a change committed after its read began by more than ttlMs.
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
    },
    forget(workspaceId, userId) {
      cache.delete(keyOf(workspaceId, userId));
    },
  };
}
