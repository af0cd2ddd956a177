// Provisioning: the host's backend creates the workspaces, users and memberships this service knows, with the
// host's own ids. Every PUT is an upsert that says whether it created (201) or updated (200); each is one
// conditional statement or runs under a lock, so two identical requests at once give one row and one audit event.
import type { z } from "zod";
import type { Db, Tx, WorkspaceRole } from "@insights/shared/db/client";
import { recordAuditEvent } from "../audit/audit.service.ts";
import type { MembershipCache } from "../auth/membership-cache.ts";
import type { JobClient } from "../jobs/job-client.ts";
import type { LiveEvents } from "../live/live-events.ts";
import { AppError, notFound } from "../http/app-error.ts";
import type {
  memberResponse,
  offboardedWorkspaceResponse,
  removedMemberResponse,
  userResponse,
  workspaceResponse,
} from "./provisioning.schema.ts";

export interface Upserted<T> {
  created: boolean;
  body: T;
}

/** `xmax = 0` holds exactly for a row this INSERT … ON CONFLICT inserted (an updated row carries our xid). */
export async function putWorkspace(
  db: Db,
  workspaceId: string,
  input: { name: string; schedulingWeight?: number | undefined },
): Promise<Upserted<z.output<typeof workspaceResponse>>> {
  const [row] = await db.$queryRaw<Array<z.output<typeof workspaceResponse> & { created: boolean }>>`
    INSERT INTO "Client" ("id", "name", "schedulingWeight") VALUES (${workspaceId}, ${input.name}, ${input.schedulingWeight ?? 1})
    ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name",
      "schedulingWeight" = COALESCE(${input.schedulingWeight ?? null}::int, "Client"."schedulingWeight")
    RETURNING "id", "name", "schedulingWeight", "createdAt", (xmax = 0) AS "created"`;
  const { created, ...body } = row!;
  return { created, body };
}

export async function putUser(
  db: Db,
  userId: string,
  input: { email: string; name?: string | null | undefined },
): Promise<Upserted<z.output<typeof userResponse>>> {
  try {
    const [row] = await db.$queryRaw<Array<{ id: string; email: string; name: string | null; createdAt: Date; created: boolean }>>`
      INSERT INTO "User" ("id", "email", "name") VALUES (${userId}, ${input.email}, ${input.name ?? null})
      ON CONFLICT ("id") DO UPDATE SET "email" = EXCLUDED."email", "name" = EXCLUDED."name"
      RETURNING "id", "email", "name", "createdAt", (xmax = 0) AS "created"`;
    const { created, ...body } = row!;
    return { created, body };
  } catch (err) {
    // The only other unique key: another user already has this email.
    if (/User_email_key|unique constraint/i.test(String((err as Error).message))) {
      throw new AppError("CONFLICT", "another user has this email", { fields: [{ path: "body.email", message: "is taken" }] });
    }
    throw err;
  }
}

/** Serializes every change to one membership, so the role read before it and the audit event agree. */
const lockMembership = (tx: Tx, workspaceId: string, userId: string) =>
  tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`membership:${workspaceId}:${userId}`}, 0))`;

export async function putMember(
  deps: { db: Db; memberships: MembershipCache },
  workspaceId: string,
  userId: string,
  role: WorkspaceRole,
): Promise<Upserted<z.output<typeof memberResponse>>> {
  const result = await deps.db.$transaction(async (tx) => {
    const [workspace, user] = await Promise.all([
      tx.client.findUnique({ where: { id: workspaceId }, select: { id: true } }),
      tx.user.findUnique({ where: { id: userId }, select: { id: true } }),
    ]);
    if (!workspace) throw notFound("workspace");
    if (!user) throw notFound("user");
    await lockMembership(tx, workspaceId, userId);
    const before = await tx.workspaceMembership.findUnique({ where: { clientId_userId: { clientId: workspaceId, userId } } });
    const actor = { workspaceId, userId: null };
    if (!before) {
      const row = await tx.workspaceMembership.create({ data: { clientId: workspaceId, userId, role } });
      await recordAuditEvent(tx, actor, { action: "MEMBER_ADDED", details: { userId, role } });
      return { created: true, row };
    }
    if (before.role === role) return { created: false, row: before };
    const row = await tx.workspaceMembership.update({
      where: { clientId_userId: { clientId: workspaceId, userId } },
      data: { role },
    });
    await recordAuditEvent(tx, actor, { action: "MEMBER_ROLE_CHANGED", details: { userId, from: before.role, to: role } });
    return { created: false, row };
  });
  deps.memberships.forget(workspaceId, userId);
  const { row } = result;
  return { created: result.created, body: { workspaceId, userId, role: row.role, createdAt: row.createdAt } };
}

/** The user loses access at once in this process and within the membership cache's lifetime in every other. */
export async function removeMember(
  deps: { db: Db; memberships: MembershipCache },
  workspaceId: string,
  userId: string,
): Promise<z.output<typeof removedMemberResponse>> {
  const removed = await deps.db.$transaction(async (tx) => {
    await lockMembership(tx, workspaceId, userId);
    const [row] = await tx.$queryRaw<Array<{ role: WorkspaceRole }>>`
      DELETE FROM "WorkspaceMembership" WHERE "clientId" = ${workspaceId} AND "userId" = ${userId}
      RETURNING "role"`;
    if (!row) throw notFound("membership");
    await recordAuditEvent(tx, { workspaceId, userId: null }, { action: "MEMBER_REMOVED", details: { userId, role: row.role } });
    return row;
  });
  deps.memberships.forget(workspaceId, userId);
  return { workspaceId, userId, role: removed.role, removedAt: new Date() };
}

/**
 * Offboarding: the workspace and every row of it, audit events included, in one transaction. Audit events refuse
 * DELETE except inside a transaction that names their workspace in `insights.offboarding_workspace` (see the
 * host_integration migration): this is the one place that does. Users stay (they may belong to other workspaces);
 * their memberships here go. Work in flight is cancelled once the rows are gone.
 */
export async function offboardWorkspace(
  deps: { db: Db; jobs: JobClient; memberships: MembershipCache; live: LiveEvents },
  workspaceId: string,
): Promise<z.output<typeof offboardedWorkspaceResponse>> {
  const { running, members, sessions, auditEvents } = await deps.db.$transaction(
    async (tx) => {
      // Locks out ingestion and provisioning of this workspace until it is gone.
      const [workspace] = await tx.$queryRaw<Array<{ id: string }>>`SELECT "id" FROM "Client" WHERE "id" = ${workspaceId} FOR UPDATE`;
      if (!workspace) throw notFound("workspace");
      const [running, members, sessions] = await Promise.all([
        tx.insightContextPack.findMany({
          where: { clientId: workspaceId, status: { in: ["PENDING", "RUNNING"] } },
          select: { id: true, generation: true },
        }),
        tx.workspaceMembership.findMany({ where: { clientId: workspaceId }, select: { userId: true } }),
        tx.insightChatSession.findMany({ where: { clientId: workspaceId }, select: { id: true } }),
      ]);
      await tx.$executeRaw`SELECT set_config('insights.offboarding_workspace', ${workspaceId}, true)`;
      const { count: auditEvents } = await tx.insightChatAuditEvent.deleteMany({ where: { clientId: workspaceId } });
      // Everything else of the workspace goes with its row (every relation to Client cascades).
      await tx.client.delete({ where: { id: workspaceId } });
      return { running, members, sessions, auditEvents };
    },
    { timeout: 120_000 },
  );
  for (const { userId } of members) deps.memberships.forget(workspaceId, userId);
  await Promise.all(running.map((p) => deps.jobs.cancelPack(p.id, p.generation)));
  // Its sessions' live logs hold its conversations' text too.
  await deps.live.forgetSessions(sessions.map((session) => session.id));
  return { id: workspaceId, offboardedAt: new Date(), removedMembers: members.length, removedAuditEvents: auditEvents };
}
