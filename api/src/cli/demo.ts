// `npm run cli -- demo`: the product end to end, as a client sees it. Only the demo workspace and its token come
// from the database directly (the host application's job); everything else goes over HTTP to the running API, so
// the demo shows exactly what `npm start` serves.
import type { Db } from "@insights/shared/db/client";
import { signToken } from "../auth/jwt.ts";
import { seedWorkspace } from "./seed.ts";

const DEMO_LEADS = 200;
const POLL_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;
const PACK_TIMEOUT_MS = 15 * 60_000; // generous: with a real LLM, 200 extractions take minutes
const REPLY_TIMEOUT_MS = 60_000;
const QUEUED_HINT_MS = 20_000;
const WINDOW_MS = 90 * 24 * 3600_000;
const QUESTION = "What are the most common objections, and which campaign is doing best?";
const FINISHED = ["COMPLETE", "FAILED", "CANCELLED"];

/** A failure the demo explains in one line; the CLI prints it as is and exits 1. */
export class DemoFailure extends Error {}

interface Pack {
  id: string;
  status: string;
  progress: { stage: string; totalLeads: number; processedLeads: number; cachedLeads: number; failedLeads: number; percent: number };
  synthesis: string | null;
  error: string | null;
  usage: { llmCalls: number };
}
interface Message {
  id: string;
  status: string;
  content: string;
  error: string | null;
}
type Api = ReturnType<typeof apiClient>;

export async function runDemo(db: Db, options: { apiUrl: string; secret: string }): Promise<void> {
  const base = options.apiUrl.replace(/\/+$/, "");
  await ensureApiAnswers(base);
  const { workspaceId, ownerId, seeded } = await findOrSeedWorkspace(db);
  note(seeded ? `seeded workspace ${workspaceId} with ${DEMO_LEADS} leads` : `reusing workspace ${workspaceId}`);

  const api = apiClient(base, await signToken(options.secret, ownerId, 3600));
  const insights = `/v1/workspaces/${workspaceId}/insights`;
  const session = await api.send<{ id: string }>("POST", `${insights}/sessions`, { title: "CLI demo" });
  const requested = await api.send<Pack>("POST", `${insights}/sessions/${session.id}/packs`, {
    window: { preset: "LAST_90_DAYS" },
  });
  const started = Date.now();
  const pack = await waitForPack(api, `${insights}/packs/${requested.id}`, requested);
  if (pack.status === "FAILED") throw new DemoFailure(`the pack failed: ${pack.error ?? "no error recorded"}`);
  if (pack.status === "CANCELLED") throw new DemoFailure("the pack was cancelled (deleted by an admin?)");
  const p = pack.progress;
  note(`pack ${pack.id} complete in ${((Date.now() - started) / 1000).toFixed(1)} s: ${p.totalLeads} leads ` +
    `(${p.cachedLeads} cached, ${p.failedLeads} failed), ${pack.usage.llmCalls} LLM calls`);
  process.stdout.write(`${pack.synthesis ?? "(the pack has no synthesis)"}\n\nQ: ${QUESTION}\n`);

  const { reply } = await api.send<{ reply: Message | null }>("POST", `${insights}/sessions/${session.id}/messages`, {
    content: QUESTION,
  });
  if (!reply) {
    process.stdout.write("(answers from packs arrive in a later release)\n");
    return;
  }
  const answer = await waitForReply(api, `${insights}/sessions/${session.id}/messages?limit=200`, reply.id);
  if (answer.status === "FAILED") throw new DemoFailure(`the answer failed: ${answer.error ?? "no error recorded"}`);
  process.stdout.write(`A: ${answer.content}\n`);
}

async function ensureApiAnswers(base: string): Promise<void> {
  const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) }).catch(() => null);
  if (!res) throw new DemoFailure(`the API is not running at ${base}; start it with \`npm start\` in another terminal`);
  if (!res.ok) throw new DemoFailure(`something answers at ${base}, but not this API (GET /healthz → ${res.status}); set API_URL`);
}

/** The newest demo workspace with leads in the demo's window, or a new one: reruns then show cached extractions. */
async function findOrSeedWorkspace(db: Db) {
  const existing = await db.client.findFirst({
    where: {
      name: { startsWith: "Demo workspace" },
      leads: { some: { lastActivityAt: { gte: new Date(Date.now() - WINDOW_MS) } } },
      memberships: { some: { role: "OWNER" } },
    },
    orderBy: { createdAt: "desc" },
    select: { id: true, memberships: { where: { role: "OWNER" }, select: { userId: true }, take: 1 } },
  });
  if (existing) return { workspaceId: existing.id, ownerId: existing.memberships[0]!.userId, seeded: false };
  const seeded = await seedWorkspace(db, { leads: DEMO_LEADS });
  return { workspaceId: seeded.workspaceId, ownerId: seeded.users.owner.id, seeded: true };
}

/** Polls with the last ETag, so an unchanged pack costs a 304 and no body. */
async function waitForPack(api: Api, path: string, initial: Pack): Promise<Pack> {
  const started = Date.now();
  let pack = initial;
  let etag: string | null = null;
  let shown = "";
  let hinted = false;
  for (;;) {
    const res = await api.request("GET", path, undefined, etag ? { "if-none-match": etag } : {});
    if (res.status !== 304) {
      if (!res.ok) throw await failureOf(res, "GET", path);
      pack = (await res.json()) as Pack;
      etag = res.headers.get("etag");
    }
    const line = progressLine(pack);
    if (line !== shown) progress((shown = line));
    if (FINISHED.includes(pack.status)) {
      if (process.stderr.isTTY) process.stderr.write("\n");
      return pack;
    }
    if (!hinted && pack.progress.stage === "QUEUED" && Date.now() - started > QUEUED_HINT_MS) {
      hinted = true;
      note("still queued: is a worker running? (`npm start` runs one)");
      progress(shown);
    }
    if (Date.now() - started > PACK_TIMEOUT_MS) {
      throw new DemoFailure(`the pack was not done after ${PACK_TIMEOUT_MS / 60_000} min (${pack.status} ${pack.progress.stage})`);
    }
    await sleep(POLL_MS);
  }
}

async function waitForReply(api: Api, path: string, replyId: string): Promise<Message> {
  const deadline = Date.now() + REPLY_TIMEOUT_MS;
  for (;;) {
    const { messages } = await api.send<{ messages: Message[] }>("GET", path);
    const reply = messages.find((m) => m.id === replyId);
    if (reply && (reply.status === "COMPLETE" || reply.status === "FAILED")) return reply;
    if (Date.now() > deadline) throw new DemoFailure(`no answer after ${REPLY_TIMEOUT_MS / 1000} s; is a worker running?`);
    await sleep(POLL_MS);
  }
}

function progressLine({ status, progress: p }: Pack): string {
  const filled = Math.min(10, Math.max(0, Math.round(p.percent / 10)));
  const stage = status === "FAILED" || status === "CANCELLED" ? status : p.stage;
  return `[${"#".repeat(filled)}${".".repeat(10 - filled)}] ${String(p.percent).padStart(3)}% ${stage} ` +
    `${p.processedLeads}/${p.totalLeads} leads (${p.cachedLeads} cached, ${p.failedLeads} failed)`;
}

// On a terminal the bar redraws one line in place; in a log (not a TTY) each change is its own line.
const progress = (line: string) => process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
const note = (line: string) => process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}\n` : `${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function apiClient(base: string, token: string) {
  async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    try {
      return await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}), ...headers },
        body: body ? JSON.stringify(body) : null,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const timedOut = (error as Error).name === "TimeoutError";
      throw new DemoFailure(
        timedOut ? `${method} ${path} got no answer in ${REQUEST_TIMEOUT_MS / 1000} s` : `the API at ${base} stopped answering`,
      );
    }
  }
  async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await request(method, path, body);
    if (!res.ok) throw await failureOf(res, method, path);
    return (await res.json()) as T;
  }
  return { request, send };
}

/** The contract's error body as one line; 401/404 here usually mean the CLI and the API disagree on their config. */
async function failureOf(res: Response, method: string, path: string): Promise<DemoFailure> {
  const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  const what = body?.error ? `${body.error.code}: ${body.error.message}` : res.statusText;
  const hint = res.status === 401 || res.status === 404 ? " (does the API use this CLI's DATABASE_URL and AUTH_JWT_SECRET?)" : "";
  return new DemoFailure(`${method} ${path} answered ${res.status} ${what}${hint}`);
}
