import type { Db, InsightContextPack } from "@insights/shared/db/client";
import {
  normaliseScope,
  resolveWindow,
  scopeHashOf,
  scopeKeyOf,
  scopeOfPack,
  type PackScope,
  type ScopeWindow,
} from "@insights/shared/scope/scope";
import { THREADS_CHANGED_SINCE_COMPLETED, stalenessOf, toPackView, toPackViews } from "@insights/shared/views/pack-view";
import { recordAuditEvent } from "../audit/audit.service.ts";
import type { DeletedPackResponse, PackPage, PackResponse } from "./packs.schema.ts";
import { AppError, notFound, validationFailed } from "../http/app-error.ts";
import { batchPerTurn } from "../http/batch-per-turn.ts";
import { afterCursor, toPage, type Cursor } from "../http/pagination.ts";
import type { Caller } from "../http/request-context.ts";
import type { JobClient } from "../jobs/job-client.ts";
import type { LiveEvents } from "../live/live-events.ts";
import type { PackBodyCache } from "./pack-body-cache.ts";
import { getPreferences } from "../preferences/preferences.service.ts";
import { lockCallerMembership } from "../auth/membership-lock.ts";
import { toMessageDto } from "../messages/messages.service.ts";
import { findVisibleSession, findWritableSession, lockWritableSession } from "../sessions/sessions.service.ts";

export interface PacksDeps {
  db: Db;
  jobs: JobClient;
  live: LiveEvents;
}

export interface PackRequest {
  window?: ScopeWindow | undefined;
  campaignIds?: string[] | undefined;
  campaignCap?: number | undefined;
}

/** The state a pack (re)starts from: counters at zero, window re-resolved against the clock. */
function freshRun(scope: PackScope, now: Date) {
  const { from, to } = resolveWindow(scope.window, now);
  return {
    status: "PENDING" as const,
    stage: "QUEUED" as const,
    windowFrom: from,
    windowTo: to,
    totalLeads: 0,
    processedLeads: 0,
    cachedLeads: 0,
    failedLeads: 0,
    percent: 0,
    llmCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    synthesis: null,
    error: null,
    // The new run takes the workspace's model and effort as they are when it is selected.
    runModel: null,
    runReasoningEffort: null,
    startedAt: null,
    completedAt: null,
  };
}

/**
 * One pack per (session, scopeKey), also under concurrent identical requests: the insert is ON CONFLICT DO NOTHING,
 * so exactly one request creates the row and enqueues; the others read it back. A FAILED or CANCELLED pack is
 * restarted by the same request (a member's right); a conditional update lets exactly one concurrent request win.
 * All of it runs under the session's share lock, so it happens wholly before a concurrent session delete (which then
 * cancels it) or is refused after it.
 */
export async function requestPack(deps: PacksDeps, caller: Caller, sessionId: string, input: PackRequest) {
  const { db, jobs } = deps;
  await findWritableSession(db, caller, sessionId);
  const scope = await resolveScope(db, caller, input);
  const scopeKey = scopeKeyOf(scope);
  const scopeHash = scopeHashOf(scopeKey);
  jobs.assertAvailable();

  const run = freshRun(scope, new Date());
  const { pack, started } = await db.$transaction(async (tx) => {
    await lockWritableSession(tx, caller, sessionId);
    const { count } = await tx.insightContextPack.createMany({
      data: [
        {
          clientId: caller.workspaceId,
          sessionId,
          scopeKey,
          scopeHash,
          windowPreset: scope.window.preset,
          campaignIds: scope.campaignIds,
          campaignCap: scope.campaignCap,
          requestedById: caller.userId,
          windowFrom: run.windowFrom,
          windowTo: run.windowTo,
        },
      ],
      skipDuplicates: true,
    });
    const existing = await tx.insightContextPack.findUniqueOrThrow({ where: { sessionId_scopeHash: { sessionId, scopeHash } } });
    if (count === 1 || (existing.status !== "FAILED" && existing.status !== "CANCELLED")) {
      return { pack: existing, started: count === 1 };
    }
    const restarted = await tx.insightContextPack.updateManyAndReturn({
      where: { id: existing.id, generation: existing.generation, status: { in: ["FAILED", "CANCELLED"] } },
      data: { ...run, generation: { increment: 1 }, forceRecompute: false, requestedById: caller.userId },
    });
    return restarted[0]
      ? { pack: restarted[0], started: true }
      : { pack: await tx.insightContextPack.findUniqueOrThrow({ where: { id: existing.id } }), started: false };
  });
  if (started) {
    await deps.live.packUpdated(pack.id);
    await jobs.enqueuePack(pack);
  } else if (pack.status === "COMPLETE") await recordPackReuse(db, pack);
  return { created: started, pack: await toPackDto(db, pack) };
}

/** Books what reusing a COMPLETE pack saved: what computing it cost. */
async function recordPackReuse(db: Db, pack: InsightContextPack): Promise<void> {
  if (pack.llmCalls === 0) return;
  await db.insightLlmUsage.create({
    data: {
      clientId: pack.clientId,
      kind: "PACK_REUSE",
      packId: pack.id,
      savedInputTokens: pack.inputTokens,
      savedOutputTokens: pack.outputTokens,
    },
  });
}

/** Fills what the request left out from the caller's preferences, then checks the campaigns against the cap. */
async function resolveScope(db: Db, caller: Caller, input: PackRequest): Promise<PackScope> {
  const prefs = await getPreferences(db, caller);
  let window = input.window;
  if (!window) {
    if (prefs.windowPreset !== "CUSTOM") window = { preset: prefs.windowPreset };
    else if (prefs.customFrom && prefs.customTo) window = { preset: "CUSTOM", from: prefs.customFrom, to: prefs.customTo };
    else throw validationFailed([{ path: "body.window", message: "is required: your saved CUSTOM window has no dates" }]);
  }
  const scope = normaliseScope({
    window,
    campaignIds: input.campaignIds ?? [],
    campaignCap: input.campaignCap ?? prefs.campaignCap,
  });
  if (scope.campaignIds.length > scope.campaignCap) {
    throw validationFailed([
      { path: "body.campaignIds", message: `names ${scope.campaignIds.length} campaigns; the cap is ${scope.campaignCap}` },
    ]);
  }
  if (scope.campaignIds.length > 0) {
    const found = await db.campaign.findMany({
      where: { clientId: caller.workspaceId, id: { in: scope.campaignIds } },
      select: { id: true },
    });
    const known = new Set(found.map((c) => c.id));
    const unknown = scope.campaignIds.filter((c) => !known.has(c));
    if (unknown.length > 0) {
      throw validationFailed([{ path: "body.campaignIds", message: `unknown campaigns: ${unknown.join(", ")}` }]);
    }
  }
  return scope;
}

/** Newest first, a page at a time: four queries whatever the page holds (session, packs, staleness, failures). */
export async function listPacks(
  db: Db,
  caller: Caller,
  sessionId: string,
  query: { cursor?: Cursor | undefined; limit: number },
): Promise<PackPage> {
  await findVisibleSession(db, caller, sessionId);
  const rows = await db.insightContextPack.findMany({
    where: { sessionId, clientId: caller.workspaceId, ...afterCursor(query.cursor, "desc") },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: query.limit + 1,
  });
  const page = toPage(rows, query.limit);
  return { packs: await toPackDtos(db, page.items), nextCursor: page.nextCursor };
}

/** A pack is visible exactly when its session is. */
export async function findVisiblePack(db: Db, caller: Caller, packId: string): Promise<InsightContextPack> {
  const pack = await db.insightContextPack.findFirst({
    where: { id: packId, clientId: caller.workspaceId },
    include: { session: { select: { deletedAt: true } } },
  });
  if (!pack || (pack.session.deletedAt && !caller.isAdmin)) throw notFound("pack");
  const { session: _session, ...row } = pack;
  return row;
}

/** A pack's ETag: its row's version (bumped by a trigger on every update) and `stale`, the one field not in the row. */
const packTag = (version: number, stale: boolean) => `W/"pack-${version}-${stale ? 1 : 0}"`;

interface PackVersionRow {
  id: string;
  clientId: string;
  version: number;
  status: InsightContextPack["status"];
  completedAt: Date | null;
  windowPreset: InsightContextPack["windowPreset"];
  sessionDeletedAt: Date | null;
  threadsChanged: boolean | null;
}

/**
 * The version rows of the packs polled in one event-loop turn, by one query on the primary key (batch-per-turn.ts):
 * under load, concurrent polls share a round trip instead of queueing for the pool one by one.
 */
const versionLookups = new WeakMap<Db, (packId: string) => Promise<PackVersionRow | undefined>>();
function versionLookupOf(db: Db) {
  let lookup = versionLookups.get(db);
  if (!lookup) {
    lookup = batchPerTurn<string, PackVersionRow | undefined>(async (packIds) => {
      const rows = await db.$queryRaw<PackVersionRow[]>`
        SELECT p."id", p."clientId", p."version", p."status"::text AS "status", p."completedAt",
               p."windowPreset"::text AS "windowPreset", s."deletedAt" AS "sessionDeletedAt",
               CASE WHEN p."status" = 'COMPLETE' AND p."completedAt" IS NOT NULL THEN ${THREADS_CHANGED_SINCE_COMPLETED} END
                 AS "threadsChanged"
        FROM "InsightContextPack" p JOIN "InsightChatSession" s ON s."id" = p."sessionId"
        WHERE p."id" = ANY(${[...new Set(packIds)]}::text[])`;
      const byId = new Map(rows.map((row) => [row.id, row]));
      return packIds.map((id) => byId.get(id));
    });
    versionLookups.set(db, lookup);
  }
  return lookup;
}

/**
 * The pack's ETag from one indexed lookup, without building it: polling an unchanged pack costs this query, not a
 * DTO. It changes exactly when the pack would read differently: any update of the row bumps `version`, and `stale`
 * is computed here by the view's own predicate (an index range over the workspace's threads changed since the pack
 * completed, usually empty). Same 404 rules as `findVisiblePack`: another workspace's pack is not found.
 */
export async function packVersionTag(db: Db, caller: Caller, packId: string): Promise<string> {
  const row = await versionLookupOf(db)(packId);
  if (!row || row.clientId !== caller.workspaceId || (row.sessionDeletedAt && !caller.isAdmin)) throw notFound("pack");
  const staleness = stalenessOf(row);
  return packTag(row.version, staleness === "aged" || (staleness === "ask-threads" && row.threadsChanged === true));
}

/**
 * The pack's JSON text and ETag, from `bodies` when it holds the text built at `currentTag` (what `packVersionTag`
 * just read). Otherwise built, and its tag taken from the row and view it was built from, never from `currentTag`:
 * had the pack changed in between, the text is kept (and sent) under its own, newer tag.
 */
export async function packBody(
  db: Db,
  bodies: PackBodyCache,
  caller: Caller,
  packId: string,
  currentTag: string,
): Promise<{ tag: string; json: Buffer }> {
  const cached = bodies.get(packId, currentTag);
  if (cached !== undefined) return { tag: currentTag, json: cached };
  const row = await findVisiblePack(db, caller, packId);
  const view = await toPackDto(db, row);
  const built = { tag: packTag(row.version, view.stale), json: Buffer.from(JSON.stringify(view)) };
  bodies.set(packId, built.tag, built.json);
  return built;
}

/**
 * Admin: rerun a finished pack. Unchanged threads keep their cached summaries unless `force`. Under the session's
 * share lock (a deleted session's pack is never restarted) and the pack's row lock (a concurrent delete or recompute
 * of the pack goes first or second, never half-way).
 */
export async function recomputePack(deps: PacksDeps, caller: Caller, packId: string, input: { force: boolean }) {
  const { db, jobs } = deps;
  const visible = await findVisiblePack(db, caller, packId);
  await findWritableSession(db, caller, visible.sessionId);
  jobs.assertAvailable();
  const updated = await db.$transaction(async (tx) => {
    await lockWritableSession(tx, caller, visible.sessionId, { admin: true });
    const [pack] = await tx.$queryRaw<Array<{ sessionId: string; status: string; generation: number }>>`
      SELECT "sessionId", "status"::text AS "status", "generation" FROM "InsightContextPack"
      WHERE "id" = ${packId} AND "clientId" = ${caller.workspaceId} FOR UPDATE`;
    if (!pack) throw notFound("pack");
    if (pack.status === "PENDING" || pack.status === "RUNNING") {
      throw new AppError("CONFLICT", "the pack is still being computed; cancel it or wait for it to finish");
    }
    const row = await tx.insightContextPack.update({
      where: { id: packId },
      data: {
        ...freshRun(scopeOfPack(visible), new Date()),
        generation: { increment: 1 },
        forceRecompute: input.force,
        requestedById: caller.userId,
      },
    });
    await recordAuditEvent(tx, caller, {
      action: "PACK_RECOMPUTED",
      sessionId: pack.sessionId,
      packId,
      details: { force: input.force, generation: row.generation, previousStatus: pack.status },
    });
    // Everyone in the session sees why the pack's answers may change.
    const note = await tx.insightChatMessage.create({
      data: {
        clientId: caller.workspaceId,
        sessionId: pack.sessionId,
        role: "SYSTEM",
        content: `An admin recomputed the context pack${input.force ? ", re-reading every conversation" : " for conversations that changed"}. Answers use the new pack once it is complete.`,
        packId,
        completedAt: new Date(),
      },
    });
    await recordAuditEvent(tx, caller, {
      action: "MESSAGE_CREATED",
      sessionId: pack.sessionId,
      packId,
      details: { messageId: note.id, role: "SYSTEM" },
    });
    return { pack: row, note };
  });
  await deps.live.messageCreated(toMessageDto({ ...updated.note, author: null }));
  await deps.live.packUpdated(packId);
  await jobs.enqueuePack(updated.pack);
  return toPackDto(db, updated.pack);
}

/**
 * Admin: cancel the pack's work and remove it; its audit events keep its id. One DELETE … RETURNING decides and
 * reports: the audit event names the state the pack was in when it went, whatever raced it.
 */
export async function deletePack(deps: PacksDeps, caller: Caller, packId: string): Promise<DeletedPackResponse> {
  const { db, jobs } = deps;
  await findVisiblePack(db, caller, packId);
  const deletedAt = new Date();
  const deleted = await db.$transaction(async (tx) => {
    await lockCallerMembership(tx, caller, { admin: true });
    const [row] = await tx.$queryRaw<Array<{ sessionId: string; scopeKey: string; status: string; generation: number }>>`
      DELETE FROM "InsightContextPack" WHERE "id" = ${packId} AND "clientId" = ${caller.workspaceId}
      RETURNING "sessionId", "scopeKey", "status"::text AS "status", "generation"`;
    if (!row) throw notFound("pack");
    await recordAuditEvent(tx, caller, {
      action: "PACK_DELETED",
      sessionId: row.sessionId,
      packId,
      details: { scopeKey: row.scopeKey, status: row.status, generation: row.generation },
    });
    return row;
  });
  await deps.live.packDeleted({ id: packId, sessionId: deleted.sessionId });
  await jobs.cancelPack(packId, deleted.generation);
  return { id: packId, sessionId: deleted.sessionId, deletedAt };
}

/** The shared builders, checked against the response schema here. */
export const toPackDto: (db: Db, pack: InsightContextPack) => Promise<PackResponse> = toPackView;
const toPackDtos: (db: Db, packs: InsightContextPack[]) => Promise<PackResponse[]> = toPackViews;
