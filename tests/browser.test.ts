// Bull Board as an operator's browser sees it: Debian's Chromium, headless, driven by playwright-core, against the
// app on a real port. Anonymous visitors get the sign-in page (401); an operator who signs in with the form gets the
// rendered dashboard with every queue, and signing out closes it again. Skipped only when /usr/bin/chromium is missing (CI installs it: see .ci/run).
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUES } from "@insights/shared/jobs/queues";
import { CHROMIUM, hasChromium, launchChromium, type Browser } from "./support/chromium.ts";
import { createHarness, signOpsToken, type Harness } from "./support/harness.ts";

describe.skipIf(!hasChromium)(`Bull Board in headless Chromium${hasChromium ? "" : ` (skipped: ${CHROMIUM} is not installed)`}`, () => {
  // Built in beforeAll, not here: a skipped describe still runs its body to collect the tests.
  let h: Harness;
  let server: Server;
  let base: string;
  let opsToken: string;
  let memberToken: string;
  let chromium: Browser;
  let browser: Browser["context"];

  beforeAll(async () => {
    h = createHarness();
    memberToken = (await h.seed()).tokens.member;
    opsToken = await signOpsToken(h);
    server = h.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    chromium = await launchChromium();
    browser = chromium.context;
  });

  afterAll(async () => {
    await chromium?.close();
    await new Promise((resolve) => server?.close(resolve));
    await h?.close();
  });

  async function signIn(token: string) {
    const page = await browser.newPage();
    await page.goto(`${base}/admin/queues/login`);
    await page.getByLabel("Bearer token").fill(token);
    const [response] = await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign in" }).click()]);
    return { page, response };
  }

  it("shows an anonymous visitor the sign-in page (401), not the dashboard or a JSON error", async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${base}/admin/queues`);
    expect(response?.status()).toBe(401);
    expect(await page.title()).toMatch(/sign in/i);
    await page.getByLabel("Bearer token").waitFor({ state: "visible" });
    expect(await page.locator("body").innerText()).not.toContain("UNAUTHENTICATED");
    await page.close();
  });

  it("signs an operator in with the form, without the token ever in a URL, and shows the dashboard with every queue", async () => {
    const urls: string[] = [];
    browser.on("request", (request) => urls.push(request.url()));
    const { page, response } = await signIn(opsToken);
    // The form's POST answers with a redirect to the dashboard, which the cookie it set now opens.
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/admin/queues");
    // The page is a client-side app: the names appear only once its script has run and fetched the queues.
    for (const name of Object.values(QUEUES)) {
      await page.getByText(name, { exact: true }).first().waitFor({ state: "visible", timeout: 15_000 });
    }
    expect(await page.title()).toMatch(/queues/i);
    // Bull Board's own menu is told where signing out is (it renders the link inside a menu of its own).
    const ui = JSON.parse((await page.locator("#__UI_CONFIG__").textContent()) ?? "{}") as { miscLinks?: unknown[] };
    expect(ui.miscLinks).toEqual([{ text: "Sign out", url: "/admin/queues/logout" }]);
    expect(urls.filter((url) => url.includes(opsToken))).toEqual([]);
    const cookie = (await browser.cookies(`${base}/admin/queues`)).find((c) => c.name === "insights_ops_token");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/admin/queues" });
    await page.close();
  });

  it("signs out: back to the sign-in page, and the dashboard refuses again", async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${base}/admin/queues/logout`);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/admin/queues/login");
    expect((await browser.cookies(`${base}/admin/queues`)).find((c) => c.name === "insights_ops_token")).toBeUndefined();
    expect((await page.goto(`${base}/admin/queues`))?.status()).toBe(401);
    await page.close();
  });

  it("tells a signed-in non-operator, on a page, why not", async () => {
    const { page, response } = await signIn(memberToken);
    expect(response?.status()).toBe(403);
    expect(await page.getByRole("alert").innerText()).toContain("OPS_ADMINS");
    expect((await browser.cookies(`${base}/admin/queues`)).find((c) => c.name === "insights_ops_token")).toBeUndefined();
    await page.close();
  });
});
