// Bull Board as an operator's browser sees it: Debian's Chromium, headless, driven by playwright-core, against the
// app on a real port. Anonymous visitors get 401; an operator who follows the login link gets the rendered dashboard
// with every queue. Skipped only when /usr/bin/chromium is missing (CI installs it: see .ci/run).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "@insights/api/auth/jwt";
import { QUEUES } from "@insights/shared/jobs/queues";
import { createHarness, OPS_ADMIN_EMAIL, TEST_JWT_SECRET, type Harness } from "./support/harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser tests skipped: ${CHROMIUM} is not installed (apt-get install -y chromium)`);

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe.skipIf(!hasChromium)(`Bull Board in headless Chromium${hasChromium ? "" : ` (skipped: ${CHROMIUM} is not installed)`}`, () => {
  // Built in beforeAll, not here: a skipped describe still runs its body to collect the tests.
  let h: Harness;
  let server: Server;
  let base: string;
  let opsToken: string;
  let profile: string;
  let browser: BrowserContext;

  beforeAll(async () => {
    h = createHarness();
    await h.seed();
    const ops = await h.db.user.upsert({ where: { email: OPS_ADMIN_EMAIL }, update: {}, create: { email: OPS_ADMIN_EMAIL } });
    opsToken = await signToken(TEST_JWT_SECRET, ops.id);
    server = h.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A fresh profile per run: no cookie or cache from an earlier one.
    profile = mkdtempSync(path.join(tmpdir(), "insights-chromium-"));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await new Promise((resolve) => server?.close(resolve));
    await h?.close();
  });

  it("answers an anonymous visitor 401 with the error body, not the dashboard", async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${base}/admin/queues`);
    expect(response?.status()).toBe(401);
    expect(await page.locator("body").innerText()).toContain("UNAUTHENTICATED");
    await page.close();
  });

  it("shows an operator who follows the login link the dashboard with every queue", async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${base}/admin/queues/login?token=${opsToken}`);
    // The link redirects to the dashboard, which the cookie it set now opens.
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/admin/queues");
    // The page is a client-side app: the names appear only once its script has run and fetched the queues.
    for (const name of Object.values(QUEUES)) {
      await page.getByText(name, { exact: true }).first().waitFor({ state: "visible", timeout: 15_000 });
    }
    expect(await page.title()).toMatch(/bull/i);
    await page.close();
  });
});
