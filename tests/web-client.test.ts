// The reference chat client at /app, in Debian's headless Chromium, against the real API and worker processes (the
// LLM is the fake OpenAI-compatible server, slowed so that a pack visibly fills). A member signs in by link, builds a
// pack and watches it fill, reads its chart, asks a question and watches the answer arrive, opens a cited lead, sees
// another member's question appear, loses the connection and gets it back, works on a phone's screen and by keyboard
// alone; an admin deletes and restores the session, recomputes and deletes a pack and filters the audit log. The
// tests run in order on one workspace and session, as one person's day would. Screenshots go to tests/.results/web/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import express from "express";
import request from "supertest";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from "vitest";
import { webClient } from "@insights/api/web/web-client";
import { hasChromium, launchChromium, type Browser } from "./support/chromium.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { bearer, createHarness, TEST_JWT_SECRET, type Harness, type TestWorkspace } from "./support/harness.ts";
import { freePort, startService, waitForOutput, type ServiceProcess } from "./support/processes.ts";
import { SHARED_DATABASE_SAFE } from "./support/worker-harness.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SHOTS = path.join(ROOT, "tests/.results/web");
const LEADS = 24;
const OUTCOMES = ["MEETING_BOOKED", "INTERESTED", "FOLLOW_UP_LATER", "NOT_INTERESTED", "NO_REPLY"];
const SESSION_TITLE = "Objections this quarter";
const ANSWER = "Most objections are about timing.\n\n- Budget comes up twice\n- One lead asked for pricing";

describe("serving /app", () => {
  const h = createHarness();
  afterAll(() => h.close());

  it("serves the page with a strict Content-Security-Policy, revalidated on every load", async () => {
    ensureBuilt();
    const res = await h.http.get("/app");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.headers["content-security-policy"]).toContain("connect-src 'self'");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    // No cross-origin access: the client is served by the API it talks to.
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(res.text)?.[1];
    expect(script).toBeDefined();
    const asset = await h.http.get(script!);
    expect(asset.status).toBe(200);
    expect(asset.headers["cache-control"]).toMatch(/immutable/);
    expect((await h.http.get("/app/")).status).toBe(200);
    expect((await h.http.get("/app/assets/nothing-here.js")).status).toBe(404);
  });

  it("says in words how to build the client when the build is missing", async () => {
    const app = express().use("/app", webClient(path.join(ROOT, "web/no-such-dist")));
    const res = await request(app).get("/app");
    expect(res.status).toBe(503);
    expect(res.text).toContain("npm install");
  });
});

describe.skipIf(!hasChromium)("the reference chat client in headless Chromium", () => {
  let h: Harness;
  let ws: TestWorkspace;
  let fake: FakeLlm;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let apiEnv: Record<string, string>;
  let origin: string;
  let chromium: Browser;

  beforeAll(async () => {
    ensureBuilt();
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    h = createHarness();
    ws = await h.seed({ leads: LEADS });
    fake = await startFakeLlm();
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    const shared = { DATABASE_URL: inject("databaseUrl"), REDIS_URL: inject("redisUrl"), QUEUE_PREFIX: h.prefix };
    apiEnv = { ...shared, PORT: String(port), AUTH_JWT_SECRET: TEST_JWT_SECRET };
    worker = startService("worker", {
      ...shared,
      OPENAI_API_KEY: "test-key",
      OPENAI_BASE_URL: fake.baseURL,
      LLM_CONCURRENCY: "2",
      PROGRESS_INTERVAL_MS: "100",
      // The run's database is shared with other test files: leave their unfinished rows alone (worker-harness.ts).
      RECONCILE_GRACE_MS: String(SHARED_DATABASE_SAFE.reconcileGraceMs),
      SESSION_RETENTION_DAYS: "3650",
    });
    api = await startApi();
    await waitForOutput(worker, /worker started/);
    chromium = await launchChromium({ viewport: { width: 1360, height: 1000 } });
  });

  afterAll(async () => {
    await chromium?.close();
    await Promise.all([api?.kill(), worker?.kill()]);
    await fake?.close();
    await h?.close();
  });

  async function startApi(): Promise<ServiceProcess> {
    const proc = startService("api", apiEnv);
    await waitForOutput(proc, /API listening/);
    return proc;
  }

  async function sessionByTitle(title: string) {
    return h.db.insightChatSession.findFirstOrThrow({ where: { clientId: ws.workspaceId, title } });
  }

  /** Signs in and opens the test's session from the sidebar. */
  async function openSession(token: string): Promise<Page> {
    const page = await openAs(token);
    await page.getByRole("navigation", { name: "Sessions" }).getByRole("button", { name: SESSION_TITLE }).first().click();
    await page.getByRole("heading", { name: SESSION_TITLE }).waitFor();
    return page;
  }

  async function openAs(token: string): Promise<Page> {
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    // A failing test leaves a picture of the page and what its console said.
    onTestFailed(async ({ task }) => {
      if (page.isClosed()) return;
      await page.screenshot({ path: path.join(SHOTS, `failed-${task.name.slice(0, 40).replace(/\W+/g, "-")}.png`), fullPage: true });
      console.error(`page errors: ${errors.join("\n") || "none"}\npage text:\n${await page.locator("body").innerText()}`);
    });
    await page.goto(`${origin}/app#token=${token}`);
    await expectSignedIn(page);
    return page;
  }

  it("lets a member build a pack and watch it fill, then ask a question and get an answer citing a lead", async () => {
    // Slow enough that the pack is seen filling, in more than one step.
    fake.latencyMs = 150;
    // Outcomes spread over the chart's rows (the default fake answers depend on the seeded texts' keywords).
    fake.respond("lead_insight", (req) => {
      const outcome = OUTCOMES[[...req.text].reduce((sum, c) => sum + c.charCodeAt(0), 0) % OUTCOMES.length]!;
      return {
        outcome,
        sentiment: "neutral",
        summary: `Fake summary: ${outcome.toLowerCase()}.`,
        keyFacts: ["fake fact"],
        objections: [],
        nextStep: null,
      };
    });
    const citedLead = (await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId }, orderBy: { id: "asc" } })).id;
    // The answer comes in pieces of 8 characters, 250 ms apart: slow enough to be seen being written.
    fake.streamChunkDelayMs = 250;
    fake.respond("chat_answer", () => ({
      answer: ANSWER,
      citedLeadIds: [citedLead],
      suggestedActions: [],
    }));

    const page = await openAs(ws.tokens.member);
    // Signed in: the token left the address bar for this tab's storage.
    expect(page.url()).toBe(`${origin}/app`);
    expect(await page.evaluate('sessionStorage.getItem("insights.token")')).toBe(ws.tokens.member);

    await page.getByLabel("New session").fill(SESSION_TITLE);
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByRole("heading", { name: SESSION_TITLE }).waitFor();
    // Followed through the live event stream, not polling.
    await page.locator(".connection.live").waitFor();

    await recordProgress(page);
    await page.getByLabel("Last 90 days").check();
    await page.getByRole("button", { name: "Build pack" }).click();
    await page.locator(".badge.status-complete").waitFor({ timeout: 60_000 });
    const seen = (await page.evaluate("window.progressSeen")) as number[];
    expect(seen.at(-1)).toBe(100);
    expect(seen.filter((v) => v > 0 && v < 100).length).toBeGreaterThanOrEqual(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));

    // The figures, as a chart whose text names each outcome with its count.
    const outcomes = await page.getByRole("img", { name: /Leads by outcome/ }).getAttribute("aria-label");
    const packs = await h.db.insightContextPack.findMany({ where: { clientId: ws.workspaceId } });
    const metrics = packs[0]!.metrics as { byOutcome: Record<string, number> };
    for (const n of Object.values(metrics.byOutcome)) expect(outcomes).toContain(`: ${n}`);
    await expect.poll(() => page.locator(".synthesis").innerText()).toContain("Fake synthesis");
    await page.getByRole("region", { name: "Pack", exact: true }).screenshot({ path: path.join(SHOTS, "pack-with-chart.png") });

    // Enter sends. The answer is seen as it is written, piece by piece.
    await recordStreaming(page);
    const box = page.getByLabel("Ask a question");
    await box.fill("What are the most common objections?");
    await box.press("Enter");
    await page.getByText("What are the most common objections?").waitFor();
    // Half written, still being written.
    await page.locator(".streaming .rich").getByText("timing").waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(SHOTS, "answer-streaming.png") });
    await page.locator(".message.assistant.status-complete").waitFor({ timeout: 30_000 });
    await page.getByText("Most objections are about timing.").waitFor();
    await expect.poll(() => box.inputValue()).toBe("");
    // Each text shown was a growing beginning of the answer (compared as letters: bullets render as list items).
    const letters = (text: string) => text.replace(/[^a-z0-9]/gi, "");
    const pieces = ((await page.evaluate("window.streamSeen")) as string[]).map(letters).filter(Boolean);
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    for (const [i, text] of pieces.entries()) {
      expect(letters(ANSWER).startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThan(pieces[i - 1]!.length);
    }
    await page.screenshot({ path: path.join(SHOTS, "answer.png") });

    // The lead the answer drew on, in a dialog that Escape closes.
    await page.getByRole("button", { name: `Lead ${citedLead}` }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Fake summary").waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await page.close();
  }, 120_000);

  it("shows another member's question as it is asked, keeps typed text when sending fails, and says errors in words", async () => {
    const page = await openSession(ws.tokens.member);
    const session = await sessionByTitle(SESSION_TITLE);

    const asked = await h.http
      .post(`${ws.base}/insights/sessions/${session.id}/messages`)
      .set(bearer(ws.tokens.owner))
      .send({ content: "Which campaign should we pause?" });
    expect(asked.status).toBe(201);
    const question = page.locator(`[data-message-id="${asked.body.message.id}"]`);
    await question.getByText("Which campaign should we pause?").waitFor();
    expect(await question.innerText()).toContain("Owner ");

    // The network fails under the send: the text stays, in the box and across a reload, until it is posted.
    const box = page.getByLabel("Ask a question");
    await page.route("**/messages", (route) =>
      route.request().method() === "POST" ? route.abort("internetdisconnected") : route.fallback(),
    );
    await box.fill("Will this question survive?");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByRole("alert").filter({ hasText: "could not be reached" }).waitFor();
    expect(await box.inputValue()).toBe("Will this question survive?");
    await page.reload();
    await expectSignedIn(page);
    await page.getByRole("heading", { name: SESSION_TITLE }).waitFor();
    expect(await page.getByLabel("Ask a question").inputValue()).toBe("Will this question survive?");
    await page.unroute("**/messages");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".message.user").getByText("Will this question survive?").waitFor();
    await expect.poll(() => page.getByLabel("Ask a question").inputValue()).toBe("");

    // The API refuses an empty title: its reason, as a sentence, never the JSON body.
    await page.getByRole("button", { name: "Rename", exact: true }).click();
    await page.getByLabel("Session title").fill("   ");
    await page.getByLabel("Session title").press("Enter");
    const refusal = page.getByRole("alert").filter({ hasText: "must not be empty" });
    await refusal.waitFor();
    expect(await refusal.innerText()).not.toMatch(/[{}"]/);
    await page.getByLabel("Session title").fill(`${SESSION_TITLE} (renamed)`);
    await page.getByLabel("Session title").press("Enter");
    await page.getByRole("heading", { name: `${SESSION_TITLE} (renamed)` }).waitFor();
    await page.getByRole("button", { name: "Rename", exact: true }).click();
    await page.getByLabel("Session title").fill(SESSION_TITLE);
    await page.getByLabel("Session title").press("Enter");
    await page.getByRole("heading", { name: SESSION_TITLE }).waitFor();
    await page.close();
  }, 120_000);

  it("shows a lost connection and resumes by itself when the API comes back", async () => {
    const page = await openSession(ws.tokens.member);
    const status = page.locator(".connection");
    await expect.poll(() => status.getAttribute("class")).toMatch(/live/);
    await api.kill();
    await page.getByText("Connection lost. Reconnecting…").waitFor({ timeout: 20_000 });
    api = await startApi();
    await expect.poll(() => status.getAttribute("class"), { timeout: 30_000 }).toMatch(/live/);
    // And it is following the session again: a question asked elsewhere shows up.
    const session = await sessionByTitle(SESSION_TITLE);
    await h.http.post(`${ws.base}/insights/sessions/${session.id}/messages`).set(bearer(ws.tokens.admin)).send({ content: "Back again?" });
    await page.getByText("Back again?").waitFor();
    await page.close();
  }, 120_000);

  it("fits a phone's screen and says when a pack is out of date", async () => {
    const page = await openSession(ws.tokens.member);
    await page.setViewportSize({ width: 390, height: 844 });
    // A thread in the pack's scope changes: the pack is stale, and says so.
    const lead = await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId }, orderBy: { id: "asc" } });
    const changed = await h.http
      .post(`${ws.base}/leads/batch`)
      .set(bearer(ws.tokens.admin))
      .send({
        leads: [
          {
            id: lead.id,
            campaignId: lead.campaignId,
            messages: [{ id: `m-${Date.now()}`, direction: "INBOUND", body: "Call me next week.", sentAt: new Date().toISOString() }],
          },
        ],
      });
    expect(changed.status).toBe(200);
    await page.reload();
    await expectSignedIn(page);
    await page.getByText("Out of date").waitFor();
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await page.getByLabel("Ask a question").scrollIntoViewIfNeeded();
    expect(await page.getByLabel("Ask a question").isVisible()).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, "phone.png"), fullPage: true });
    await page.close();
  }, 120_000);

  it("lets an admin recompute with force, delete and restore the session, delete the pack, and filter the audit log", async () => {
    const page = await openSession(ws.tokens.admin);
    const session = await sessionByTitle(SESSION_TITLE);
    const before = fake.callsFor("lead_insight");

    await page.getByLabel("Force: re-read every conversation, not only changed ones").check();
    await page.getByRole("button", { name: "Recompute pack" }).click();
    await page.locator(".badge.status-running, .badge.status-pending").first().waitFor();
    await page.locator(".badge.status-complete").waitFor({ timeout: 60_000 });
    expect(fake.callsFor("lead_insight") - before).toBe(LEADS);
    expect(await page.getByText("Out of date").count()).toBe(0);

    // Delete: the session moves to "Deleted sessions", and a member who had it open is told.
    const member = await openSession(ws.tokens.member);
    await page.getByRole("button", { name: "Delete session" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByText("This session was deleted; restore it").waitFor();
    const sidebar = page.getByRole("navigation", { name: "Sessions" });
    await sidebar.getByRole("heading", { name: "Deleted sessions" }).waitFor();
    await member.getByText(/no longer available|deleted by an admin/).waitFor({ timeout: 20_000 });
    await member.close();

    await page.getByRole("button", { name: "Restore session" }).click();
    await page.getByRole("button", { name: "Delete session" }).waitFor();
    await expect.poll(() => sidebar.getByRole("heading", { name: "Deleted sessions" }).count()).toBe(0);

    const packId = await page.locator("[data-pack-id]").getAttribute("data-pack-id");
    await page.getByRole("button", { name: "Delete pack" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByText("No pack yet").waitFor();

    await page.getByRole("button", { name: "Audit log" }).click();
    const table = page.getByRole("table");
    for (const action of ["Session deleted", "Session restored", "Pack recomputed", "Pack deleted"]) {
      await table.getByRole("cell", { name: action, exact: true }).first().waitFor();
    }
    await page.getByLabel("Action").selectOption("PACK_RECOMPUTED");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => table.locator("tbody tr").count()).toBe(1);
    expect(await table.locator("tbody tr").innerText()).toContain("Pack recomputed");
    await page.getByLabel("Action").selectOption("");
    await page.getByLabel("Pack id").fill(packId!);
    await page.getByRole("button", { name: "Filter" }).click();
    // Every event naming the pack (its recompute, its deletion, the messages answered from it), and only those.
    const named = await h.http.get(`${ws.base}/insights/audit-events?packId=${packId}&limit=200`).set(bearer(ws.tokens.admin));
    await expect.poll(() => table.locator("tbody tr").count()).toBe(named.body.events.length);
    for (const cell of await table.locator("tbody tr td.id:nth-child(5)").allInnerTexts()) expect(cell).toBe(packId);
    await table.getByRole("cell", { name: "Pack deleted", exact: true }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, "audit-log.png"), fullPage: true });
    expect((await h.db.insightChatSession.findUniqueOrThrow({ where: { id: session.id } })).deletedAt).toBeNull();
    await page.close();
  }, 120_000);

  it("builds a pack for campaigns chosen within the cap, and keeps the scope as the member's defaults", async () => {
    const page = await openSession(ws.tokens.member);
    const campaigns = await h.db.campaign.findMany({ where: { clientId: ws.workspaceId }, orderBy: { createdAt: "asc" } });
    const scope = page.getByRole("form", { name: "Scope of a new pack" });

    // Dates the wrong way round: said in words, and nothing is asked of the API.
    await scope.getByLabel("Custom dates").check();
    await scope.getByLabel("From", { exact: true }).fill("2026-03-10");
    await scope.getByLabel("To", { exact: true }).fill("2026-03-01");
    await scope.getByRole("button", { name: "Build pack" }).click();
    await scope.getByRole("alert").filter({ hasText: "The start date must not be after the end date." }).waitFor();

    // A cap of one: once a campaign is chosen, the others cannot be.
    await scope.getByLabel("Last 90 days").check();
    await scope.getByLabel("At most").fill("1");
    await scope.getByLabel(campaigns[0]!.name).check();
    expect(await scope.getByLabel(campaigns[1]!.name).isDisabled()).toBe(true);
    await scope.getByRole("button", { name: "Save as my defaults" }).click();
    await scope.getByText("Saved as your defaults in this workspace.").waitFor();
    const saved = await h.http.get(`${ws.base}/insights/preferences`).set(bearer(ws.tokens.member));
    expect(saved.body).toMatchObject({ windowPreset: "LAST_90_DAYS", campaignCap: 1 });

    await scope.getByRole("button", { name: "Build pack" }).click();
    const pack = page.getByRole("region", { name: "Pack", exact: true });
    await pack.getByRole("heading", { name: `Last 90 days · ${campaigns[0]!.name}` }).waitFor();
    await pack.locator(".badge.status-complete").waitFor({ timeout: 60_000 });
    const inCampaign = await h.db.lead.count({ where: { clientId: ws.workspaceId, campaignId: campaigns[0]!.id } });
    await pack.getByText(`${inCampaign} of ${inCampaign} leads`).waitFor();

    // The defaults come back on the next visit.
    await page.reload();
    await expectSignedIn(page);
    await expect.poll(() => page.getByLabel("At most").inputValue()).toBe("1");
    expect(await page.getByLabel("Last 90 days").isChecked()).toBe(true);
    await page.close();
  }, 120_000);

  it("shows the last 50 messages of a long chat at once, and the earlier ones on request", async () => {
    const created = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.owner)).send({ title: "A long chat" });
    for (let i = 1; i <= 55; i++) {
      const res = await h.http
        .post(`${ws.base}/insights/sessions/${created.body.id}/messages`)
        .set(bearer(ws.tokens.owner))
        .send({ content: `Question number ${i}` });
      expect(res.status).toBe(201);
    }
    const page = await openAs(ws.tokens.member);
    await page.getByRole("navigation", { name: "Sessions" }).getByRole("button", { name: "A long chat" }).click();
    const messages = page.locator(".message.user");
    await expect.poll(() => messages.count()).toBe(50);
    expect(await messages.first().innerText()).toContain("Question number 6");
    await page.getByRole("button", { name: "Show earlier messages" }).click();
    await expect.poll(() => messages.count()).toBe(55);
    expect(await messages.first().innerText()).toContain("Question number 1");
    await page.getByRole("button", { name: "Show earlier messages" }).waitFor({ state: "detached" });
    await page.close();
  }, 120_000);

  it("can be used with the keyboard alone: start a session, ask, rename", async () => {
    const page = await openAs(ws.tokens.member);
    await tabTo(page, page.getByLabel("New session"));
    await page.keyboard.type("Keyboard only");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Keyboard only" }).waitFor();

    await tabTo(page, page.getByLabel("Ask a question"));
    await page.keyboard.type("Is anyone there?");
    await page.keyboard.press("Enter");
    await page.locator(".message.user").getByText("Is anyone there?").waitFor();

    await tabTo(page, page.getByRole("button", { name: "Rename", exact: true }));
    await page.keyboard.press("Enter");
    // The title field takes the focus itself once it appears; a person types when they see it there.
    await focusOf(page.getByLabel("Session title"));
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("Keyboard only, renamed");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Keyboard only, renamed" }).waitFor();
    await page.close();
  }, 120_000);
});

/** Signed in, the client knows the person's workspaces from GET /v1/me and opens theirs, named, with their role. */
async function expectSignedIn(page: Page) {
  await page.getByRole("heading", { name: "Sessions", exact: true }).waitFor();
  expect(await page.getByLabel("Workspace id").count()).toBe(0);
  expect(await page.getByLabel("Workspace").locator("option:checked").innerText()).toMatch(/^Demo workspace \S+ \((member|admin|owner)\)$/);
}

/** Waits until `target` has the focus (it moved there without a key press). */
async function focusOf(target: Locator, timeoutMs = 10_000) {
  await target.waitFor();
  const until = Date.now() + timeoutMs;
  while (!(await target.evaluate((el) => el === el.ownerDocument.activeElement))) {
    if (Date.now() > until) throw new Error(`${target} did not take the focus within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Presses Tab until `target` has the focus: it can be reached without a mouse. */
async function tabTo(page: Page, target: Locator, maxPresses = 60) {
  for (let i = 0; i < maxPresses; i++) {
    if (await target.evaluate((el) => el === el.ownerDocument.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`${target} was not reached in ${maxPresses} presses of Tab`);
}

/** Records, in the page, every value the progress bar shows (the test's browser code is a string: tests have no DOM types). */
async function recordProgress(page: Page) {
  await page.evaluate(`(() => {
    const seen = (window.progressSeen = []);
    new MutationObserver(() => {
      const bar = document.querySelector('[role="progressbar"]');
      const value = Number(bar?.getAttribute("aria-valuenow"));
      if (bar && seen.at(-1) !== value) seen.push(value);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"] });
  })()`);
}

/**
 * The client as its sources are now: `npm install` built it, but a build older than the sources (an edit since, or
 * another checkout) would test old code. Rebuilt only then, so that parallel test files never see it half-written.
 */
/** Records, in the page, each text a reply shows while it is being written. */
async function recordStreaming(page: Page) {
  await page.evaluate(`(() => {
    const seen = (window.streamSeen = []);
    new MutationObserver(() => {
      const body = document.querySelector(".streaming .rich");
      const text = body ? body.innerText : null;
      if (text && seen.at(-1) !== text) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  })()`);
}

function ensureBuilt() {
  const built = path.join(ROOT, "web/dist/index.html");
  const sources = [path.join(ROOT, "web/index.html"), path.join(ROOT, "web/vite.config.ts"), ...filesUnder(path.join(ROOT, "web/src"))];
  if (existsSync(built) && Math.max(...sources.map((f) => statSync(f).mtimeMs)) < statSync(built).mtimeMs) return;
  execFileSync("npm", ["run", "-s", "build:web"], { cwd: ROOT, stdio: "ignore" });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}
