// `npm run cli -- demo`: the product end to end, as a client sees it. Only the demo workspace and its token come
// from the database directly (the host application's job); everything else goes over HTTP to the running API, so
// the demo shows exactly what `npm start` serves. It follows the session's live events: the bar moves with each
// `pack.updated`, and the answer prints as the model writes it (`message.delta`).
import type { Db } from "@insights/shared/db/client";
import { signToken } from "../auth/jwt.ts";
import { readServerSentEvents } from "./sse-reader.ts";
import { seedWorkspace } from "./seed.ts";

const DEMO_LEADS = 200;
const RECONNECT_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;
const PACK_TIMEOUT_MS = 15 * 60_000; // generous: with a real LLM, 200 extractions take minutes
const REPLY_TIMEOUT_MS = 60_000;
const QUEUED_HINT_MS = 20_000;
const WINDOW_MS = 90 * 24 * 3600_000;
const QUESTION = "What are the most common objections, and which campaign is doing best?";
const FINISHED = ["COMPLETE", "FAILED", "CANCELLED"];
const LINK_TTL_HOURS = 12;

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
/** The demo workspace's users by role (an older demo workspace may lack some). */
interface DemoUsers {
  OWNER: string;
  ADMIN: string | undefined;
  MEMBER: string | undefined;
}
interface LiveEvent {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: narrowed by event type where read
  data: any;
}

export async function runDemo(db: Db, options: { apiUrl: string; secret: string }): Promise<void> {
  const base = options.apiUrl.replace(/\/+$/, "");
  await ensureApiAnswers(base);
  const { workspaceId, users, seeded } = await findOrSeedWorkspace(db);
  note(seeded ? `seeded workspace ${workspaceId} with ${DEMO_LEADS} leads` : `reusing workspace ${workspaceId}`);

  const token = await signToken(options.secret, users.OWNER, 3600);
  const api = apiClient(base, token);
  const insights = `/v1/workspaces/${workspaceId}/insights`;
  const session = await api.send<{ id: string }>("POST", `${insights}/sessions`, { title: "CLI demo" });
  const events = followSession(base, token, `${insights}/sessions/${session.id}/events`);
  try {
    await events.next(); // the snapshot: from here on, nothing that happens to the session is missed
    const requested = await api.send<Pack>("POST", `${insights}/sessions/${session.id}/packs`, {
      window: { preset: "LAST_90_DAYS" },
    });
    const started = Date.now();
    const pack = await followPack(events, requested);
    if (pack.status === "FAILED") throw new DemoFailure(`the pack failed: ${pack.error ?? "no error recorded"}`);
    if (pack.status === "CANCELLED") throw new DemoFailure("the pack was cancelled (deleted by an admin?)");
    const p = pack.progress;
    note(
      `pack ${pack.id} complete in ${((Date.now() - started) / 1000).toFixed(1)} s: ${p.totalLeads} leads ` +
        `(${p.cachedLeads} cached, ${p.failedLeads} failed), ${pack.usage.llmCalls} LLM calls`,
    );
    process.stdout.write(`${pack.synthesis ?? "(the pack has no synthesis)"}\n\nQ: ${QUESTION}\n`);

    const { reply } = await api.send<{ reply: Message | null }>("POST", `${insights}/sessions/${session.id}/messages`, {
      content: QUESTION,
    });
    if (reply) {
      const answer = await followAnswer(events, reply.id);
      if (answer.status === "FAILED") throw new DemoFailure(`the answer failed: ${answer.error ?? "no error recorded"}`);
    } else {
      process.stdout.write("(answers from packs arrive in a later release)\n");
    }
  } finally {
    await events.return(undefined);
  }
  await printClientLinks(base, users, options.secret);
}

/** Sign-in links to the web client for the demo's member and admin: the session above is waiting there. */
async function printClientLinks(base: string, users: DemoUsers, secret: string): Promise<void> {
  process.stdout.write(`\nOpen this session in the web client (links valid ${LINK_TTL_HOURS} h, for this browser tab):\n`);
  for (const role of ["MEMBER", "ADMIN"] as const) {
    const userId = users[role];
    if (!userId) continue;
    const token = await signToken(secret, userId, LINK_TTL_HOURS * 3600);
    process.stdout.write(`  as the ${role.toLowerCase()}: ${base}/app#token=${token}\n`);
  }
}

/**
 * The session's events, resuming after the last one seen whenever the connection drops (an API restart, say). The
 * whole demo shares one deadline: an answer that never comes ends it with a message, not a hang.
 */
async function* followSession(base: string, token: string, path: string): AsyncGenerator<LiveEvent, void, undefined> {
  const deadline = AbortSignal.timeout(PACK_TIMEOUT_MS + REPLY_TIMEOUT_MS);
  let lastEventId: string | undefined;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: "text/event-stream",
          ...(lastEventId ? { "last-event-id": lastEventId } : {}),
        },
        signal: deadline,
      });
    } catch {
      if (deadline.aborted) throw new DemoFailure("no result in time; is a worker running?");
      throw new DemoFailure(`the API at ${base} stopped answering`);
    }
    if (!res.ok || !res.body) throw await failureOf(res, "GET", path);
    try {
      for await (const event of readServerSentEvents(res.body)) {
        lastEventId = event.id;
        yield { event: event.event, data: JSON.parse(event.data) };
      }
    } catch {
      if (deadline.aborted) throw new DemoFailure("no result in time; is a worker running?");
      // the connection dropped: resume below
    }
    await sleep(RECONNECT_MS);
  }
}

type SessionEvents = ReturnType<typeof followSession>;

/** Draws the bar from each `pack.updated` until the pack is finished. */
async function followPack(events: SessionEvents, initial: Pack): Promise<Pack> {
  let pack = initial;
  progress(progressLine(pack));
  // Nothing moves for a while: say why that usually is.
  const hint = setTimeout(() => {
    if (pack.progress.stage !== "QUEUED") return;
    note("still queued: is a worker running? (`npm start` runs one)");
    progress(progressLine(pack));
  }, QUEUED_HINT_MS);
  try {
    for (;;) {
      const { event, data } = await nextEvent(events);
      if (event === "pack.deleted" && data.id === pack.id) throw new DemoFailure("the pack was deleted by an admin");
      if (event !== "pack.updated" || data.id !== pack.id) continue;
      pack = data as Pack;
      progress(progressLine(pack));
      if (FINISHED.includes(pack.status)) break;
    }
  } finally {
    clearTimeout(hint);
    if (process.stderr.isTTY) process.stderr.write("\n");
  }
  return pack;
}

/** Prints the answer as it is written; a new attempt (a retry after an error) starts the line over. */
async function followAnswer(events: SessionEvents, replyId: string): Promise<Message> {
  let attempt = 0;
  let printed = "";
  process.stdout.write("A: ");
  for (;;) {
    const { event, data } = await nextEvent(events);
    if (event === "message.delta" && data.messageId === replyId) {
      if (data.attempt !== attempt) {
        if (attempt !== 0) process.stdout.write("\n(the answer started over)\nA: ");
        attempt = data.attempt;
        printed = "";
      }
      process.stdout.write(data.text);
      printed += data.text;
    }
    if (event === "message.updated" && data.id === replyId) {
      const reply = data as Message;
      // A reply that streamed nothing here (or something else) prints as stored.
      if (reply.status === "COMPLETE" && printed !== reply.content) process.stdout.write(`${printed ? "\n" : ""}${reply.content}`);
      process.stdout.write("\n");
      return reply;
    }
  }
}

// Not `for await`: leaving such a loop early would close the stream that the next step goes on reading.
async function nextEvent(events: SessionEvents): Promise<LiveEvent> {
  const next = await events.next();
  if (next.done) throw new DemoFailure("the session's event stream ended");
  return next.value;
}

async function ensureApiAnswers(base: string): Promise<void> {
  const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) }).catch(() => null);
  if (!res) throw new DemoFailure(`the API is not running at ${base}; start it with \`npm start\` in another terminal`);
  if (!res.ok) throw new DemoFailure(`something answers at ${base}, but not this API (GET /healthz → ${res.status}); set API_URL`);
}

/** The newest demo workspace with leads in the demo's window, or a new one: reruns then show cached extractions. */
async function findOrSeedWorkspace(db: Db): Promise<{ workspaceId: string; users: DemoUsers; seeded: boolean }> {
  const existing = await db.client.findFirst({
    where: {
      name: { startsWith: "Demo workspace" },
      leads: { some: { lastActivityAt: { gte: new Date(Date.now() - WINDOW_MS) } } },
      memberships: { some: { role: "OWNER" } },
    },
    orderBy: { createdAt: "desc" },
    select: { id: true, memberships: { select: { userId: true, role: true }, orderBy: { createdAt: "asc" } } },
  });
  if (existing) {
    const first = (role: string) => existing.memberships.find((m) => m.role === role)?.userId;
    return { workspaceId: existing.id, users: { OWNER: first("OWNER")!, ADMIN: first("ADMIN"), MEMBER: first("MEMBER") }, seeded: false };
  }
  const seeded = await seedWorkspace(db, { leads: DEMO_LEADS });
  const { owner, admin, member } = seeded.users;
  return { workspaceId: seeded.workspaceId, users: { OWNER: owner.id, ADMIN: admin.id, MEMBER: member.id }, seeded: true };
}

function progressLine({ status, progress: p }: Pack): string {
  const filled = Math.min(10, Math.max(0, Math.round(p.percent / 10)));
  const stage = status === "FAILED" || status === "CANCELLED" ? status : p.stage;
  return (
    `[${"#".repeat(filled)}${".".repeat(10 - filled)}] ${String(p.percent).padStart(3)}% ${stage} ` +
    `${p.processedLeads}/${p.totalLeads} leads (${p.cachedLeads} cached, ${p.failedLeads} failed)`
  );
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
