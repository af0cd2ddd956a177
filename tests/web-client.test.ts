// The reference chat client at /app, in Debian's headless Chromium, against the real API and worker processes (the
// LLM is the fake OpenAI-compatible server, slowed so that a pack visibly fills). A member signs in by link, builds a
// pack and watches it fill, reads its chart, asks a question and watches the answer arrive, opens a cited lead, sees
// another member's question appear, loses the connection and gets it back; an admin deletes and restores the
// session, recomputes and deletes a pack and filters the audit log. Screenshots go to tests/.results/web/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import express from "express";
import request from "supertest";
import type { Page } from "playwright-core";
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
    // Until the service has GET /v1/me, the client asks for the workspace id.
    const typed = page.getByLabel("Workspace id");
    const sessions = page.getByRole("heading", { name: "Sessions" });
    await typed.or(sessions).first().waitFor();
    if (await typed.isVisible()) {
      await typed.fill(ws.workspaceId);
      await typed.press("Enter");
      await sessions.waitFor();
    }
    return page;
  }

  it("lets a member build a pack and watch it fill, then ask a question and get an answer citing a lead", async () => {
    // Slow enough that the pack is seen filling, in more than one step.
    fake.latencyMs = 150;
    const citedLead = (await h.db.lead.findFirstOrThrow({ where: { clientId: ws.workspaceId }, orderBy: { id: "asc" } })).id;
    fake.respond("chat_answer", () => ({
      answer: "Most objections are about timing.\n\n- Budget comes up twice\n- One lead asked for pricing",
      citedLeadIds: [citedLead],
      suggestedActions: [],
    }));

    const page = await openAs(ws.tokens.member);
    // Signed in: the token left the address bar for this tab's storage.
    expect(page.url()).toBe(`${origin}/app`);
    expect(await page.evaluate('sessionStorage.getItem("insights.token")')).toBe(ws.tokens.member);

    await page.getByLabel("New session").fill("Objections this quarter");
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByRole("heading", { name: "Objections this quarter" }).waitFor();

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
    const pack = (await h.http.get(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member))).body;
    expect(pack.sessions.length).toBeGreaterThan(0);
    const packs = await h.db.insightContextPack.findMany({ where: { clientId: ws.workspaceId } });
    const metrics = packs[0]!.metrics as { byOutcome: Record<string, number> };
    for (const n of Object.values(metrics.byOutcome)) expect(outcomes).toContain(`: ${n}`);
    await expect.poll(() => page.locator(".synthesis").innerText()).toContain("Fake synthesis");
    await page.screenshot({ path: path.join(SHOTS, "pack-with-chart.png"), fullPage: true });

    // Ask with the keyboard only: Enter sends.
    const box = page.getByLabel("Ask a question");
    await box.fill("What are the most common objections?");
    await box.press("Enter");
    await page.getByText("What are the most common objections?").waitFor();
    await page.getByText("Most objections are about timing.").waitFor({ timeout: 30_000 });
    await expect.poll(() => box.inputValue()).toBe("");
    await page.screenshot({ path: path.join(SHOTS, "answer.png"), fullPage: true });

    // The lead the answer drew on, in a dialog that Escape closes.
    await page.getByRole("button", { name: `Lead ${citedLead}` }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("Fake summary").waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await page.close();
  }, 120_000);
});

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

function ensureBuilt() {
  if (!existsSync(path.join(ROOT, "web/dist/index.html"))) {
    execFileSync("npm", ["run", "-s", "build:web"], { cwd: ROOT, stdio: "ignore" });
  }
}
