// Requesting packs through the real API and timing them: from just before the request to the pack row's own
// completedAt (written by the worker in its final transaction, on the same clock), so polling adds no error.
import type { Db } from "@insights/shared/db/client";
import type { BenchApi, BenchWorkspace } from "./bench-env.ts";

// biome-ignore lint/suspicious/noExplicitAny: the benchmark reads a field or two of JSON it just received; callers that rely on more name a type
export async function callApi<T = any>(
  api: BenchApi,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function newSession(api: BenchApi, ws: BenchWorkspace): Promise<string> {
  const res = await callApi(api, "POST", `${ws.base}/insights/sessions`, ws.tokens.member, {});
  if (res.status !== 201) throw new Error(`session: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export interface TimedPack {
  packId: string;
  wallMs: number;
  status: string;
  totalLeads: number;
  cachedLeads: number;
  failedLeads: number;
  llmCalls: number;
}

/** Polls the row until it is final; the end time is the row's completedAt, not the poll's. */
export async function waitForPack(db: Db, packId: string, startedAt: number, timeoutMs = 30 * 60_000): Promise<TimedPack> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await db.insightContextPack.findUnique({ where: { id: packId } });
    if (p && ["COMPLETE", "FAILED", "CANCELLED"].includes(p.status)) {
      if (p.status !== "COMPLETE") throw new Error(`pack ${packId} ended ${p.status}: ${p.error}`);
      return {
        packId,
        wallMs: (p.completedAt ?? new Date()).getTime() - startedAt,
        status: p.status,
        totalLeads: p.totalLeads,
        cachedLeads: p.cachedLeads,
        failedLeads: p.failedLeads,
        llmCalls: p.llmCalls,
      };
    }
    if (Date.now() > deadline) throw new Error(`pack ${packId} did not finish in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A new session's pack over the last 90 days (every seeded lead), timed from the request. */
export async function computePack(api: BenchApi, db: Db, ws: BenchWorkspace): Promise<TimedPack> {
  const sessionId = await newSession(api, ws);
  const startedAt = Date.now();
  const res = await callApi(api, "POST", `${ws.base}/insights/sessions/${sessionId}/packs`, ws.tokens.member, {
    window: { preset: "LAST_90_DAYS" },
  });
  if (res.status !== 202) throw new Error(`pack request: ${res.status} ${JSON.stringify(res.body)}`);
  return waitForPack(db, res.body.id, startedAt);
}

export async function recomputePack(api: BenchApi, db: Db, ws: BenchWorkspace, packId: string): Promise<TimedPack> {
  const startedAt = Date.now();
  const res = await callApi(api, "POST", `${ws.base}/insights/packs/${packId}/recompute`, ws.tokens.owner, {});
  if (res.status !== 202) throw new Error(`recompute: ${res.status} ${JSON.stringify(res.body)}`);
  return waitForPack(db, packId, startedAt);
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
