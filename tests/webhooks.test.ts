// Webhooks, from the receiver's side: a local HTTP server that checks every delivery's signature with the
// `standardwebhooks` package, and fails on purpose. Deliveries arrive at least once, with one webhook-id across
// retries; the SSRF guard refuses private addresses when WEBHOOK_ALLOW_PRIVATE is off, on the way in and on the way out.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { inject } from "vitest";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { createSecretBox } from "@insights/shared/webhooks/secret-box";
import { isForbiddenAddress } from "@insights/shared/webhooks/address-guard";
import { signWebhook } from "@insights/shared/webhooks/signature";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { bearer, createHarness, TEST_WEBHOOKS, type TestWorkspace } from "./support/harness.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { completePackInNewSession, fakeLlmProvider, startTestWorker, waitFor } from "./support/worker-harness.ts";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  verified: unknown;
  answered: number;
  at: number;
}

/** A receiver that verifies with the secret it is given, answers `plan` statuses in order, then 204. */
class Receiver {
  received: Received[] = [];
  paths: string[] = [];
  plan: number[] = [];
  secret = "";
  private server: Server;
  url = "";

  constructor() {
    this.server = createServer((req, res) => {
      this.paths.push(req.url ?? "");
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        let verified: unknown;
        try {
          verified = new Webhook(this.secret).verify(body, req.headers as Record<string, string>);
        } catch (err) {
          verified = `refused: ${(err as Error).message}`;
        }
        const status = this.plan.shift() ?? 204;
        this.received.push({ headers: req.headers, body, verified, answered: status, at: Date.now() });
        res.writeHead(status, status === 302 ? { location: `${this.url}/elsewhere` } : {}).end();
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close = () => new Promise<void>((resolve) => this.server.close(() => resolve()));
}

const ROOT = path.resolve(import.meta.dirname, "..");
const h = createHarness();
let fake: FakeLlm;
let worker: WorkerRuntime;
const receiver = new Receiver();

beforeAll(async () => {
  await receiver.start();
  fake = await startFakeLlm();
  worker = await startTestWorker(h, fakeLlmProvider(fake), { webhookRetryBaseMs: 100, webhookTimeoutMs: 2000 });
});
afterEach(() => {
  receiver.received = [];
  receiver.paths = [];
  receiver.plan = [];
});
afterAll(async () => {
  await worker.close();
  await fake.close();
  await receiver.close();
  await h.close();
});

const hooks = (ws: TestWorkspace) => `${ws.base}/insights/webhooks`;

async function subscribe(ws: TestWorkspace, events = ["pack.completed", "pack.failed", "message.completed"], path = "/hook") {
  const res = await h.http
    .put(hooks(ws))
    .set(bearer(ws.tokens.admin))
    .send({ url: `${receiver.url}${path}`, events });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  receiver.secret = res.body.secret;
  return res.body as { url: string; events: string[]; secret: string };
}

const completePack = (ws: TestWorkspace) => completePackInNewSession(h, ws);

describe("the secret", () => {
  it("is shown once, as whsec_<base64>, and stored only sealed", async () => {
    const ws = await h.seed();
    const set = await subscribe(ws, ["pack.completed"]);
    expect(set.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const shown = await h.http.get(hooks(ws)).set(bearer(ws.tokens.admin));
    expect(shown.body).toEqual({ url: set.url, events: ["pack.completed"], createdAt: expect.any(String), updatedAt: expect.any(String) });
    const row = await h.db.insightWebhook.findUniqueOrThrow({ where: { clientId: ws.workspaceId } });
    expect(JSON.stringify(row)).not.toContain(set.secret.slice(6));
    expect(TEST_WEBHOOKS.secrets!.decrypt(row.secretCiphertext)).toBe(set.secret);
    // Another key (a database dump without the environment) cannot open it.
    expect(() => createSecretBox(Buffer.alloc(32, 9)).decrypt(row.secretCiphertext)).toThrow();
  });

  it("is re-sealed under a new WEBHOOK_SECRET_KEY by `npm run cli -- rotate-webhook-key`", async () => {
    const ws = await h.seed();
    const { secret } = await subscribe(ws, ["pack.completed"]);
    const oldKey = Buffer.alloc(32, 7); // TEST_WEBHOOKS's key
    const newKey = Buffer.alloc(32, 11);
    const cwd = await mkdtemp(path.join(tmpdir(), "insights-rotate-"));
    try {
      const { stdout } = await promisify(execFile)(
        path.join(ROOT, "node_modules/.bin/tsx"),
        [path.join(ROOT, "api/src/cli/main.ts"), "rotate-webhook-key"],
        {
          cwd,
          env: {
            PATH: process.env.PATH ?? "",
            DATABASE_URL: inject("databaseUrl"),
            AUTH_JWT_SECRET: "rotation-test-secret-0123456789abcdef",
            WEBHOOK_SECRET_KEY: newKey.toString("base64"),
            WEBHOOK_SECRET_KEY_PREVIOUS: oldKey.toString("base64"),
          },
        },
      );
      expect(stdout).toMatch(/^re-sealed [1-9]\d* webhook secret\(s\)/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
    const row = await h.db.insightWebhook.findUniqueOrThrow({ where: { clientId: ws.workspaceId } });
    expect(createSecretBox(newKey).decrypt(row.secretCiphertext)).toBe(secret);
    expect(() => createSecretBox(oldKey).decrypt(row.secretCiphertext)).toThrow();
  });

  it("signs exactly as the standardwebhooks package does", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const body = JSON.stringify({ type: "pack.completed", data: { packId: "p1" } });
    const at = new Date("2026-11-29T12:00:00Z");
    expect(signWebhook(secret, "msg_1", at.getTime() / 1000, body)).toBe(new Webhook(secret).sign("msg_1", at, body));
  });
});

describe("deliveries", () => {
  it("POST pack.completed and message.completed, signed, with ids and statuses only", async () => {
    const ws = await h.seed({ leads: 3 });
    await subscribe(ws);
    const { sessionId, packId } = await completePack(ws);
    const asked = await h.http
      .post(`${ws.base}/insights/sessions/${sessionId}/messages`)
      .set(bearer(ws.tokens.member))
      .send({ content: "Who asked for pricing?" });
    const received = await waitFor(async () => (receiver.received.length >= 2 ? receiver.received : undefined), { what: "two deliveries" });
    const byType = Object.fromEntries(received.map((r) => [(r.verified as { type: string }).type, r]));
    expect(byType["pack.completed"]!.verified).toEqual({
      type: "pack.completed",
      workspaceId: ws.workspaceId,
      data: { packId, sessionId, generation: 1, status: "COMPLETE" },
    });
    expect(byType["message.completed"]!.verified).toMatchObject({
      type: "message.completed",
      data: { messageId: asked.body.reply.id, sessionId, packId, status: "COMPLETE" },
    });
    for (const r of received) {
      expect(r.headers["webhook-id"]).toMatch(/^msg_/);
      expect(r.headers["content-type"]).toBe("application/json");
    }
  });

  it("survive a failing receiver: retried with backoff, one webhook-id, every attempt verified and logged", async () => {
    const ws = await h.seed({ leads: 2 });
    await subscribe(ws, ["pack.completed"]);
    receiver.plan = [500, 503, 302];
    await completePack(ws);
    const received = await waitFor(async () => (receiver.received.length >= 4 ? receiver.received : undefined), {
      what: "four attempts",
      timeoutMs: 20_000,
    });
    expect(received.map((r) => r.answered)).toEqual([500, 503, 302, 204]);
    expect(new Set(received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    for (const r of received) expect(r.verified).toMatchObject({ type: "pack.completed" });
    // Backoff doubles from WEBHOOK_RETRY_BASE_MS (100 ms here): each wait is at least its delay.
    const waits = received.slice(1).map((r, i) => r.at - received[i]!.at);
    expect(waits[0]).toBeGreaterThanOrEqual(100);
    expect(waits[2]).toBeGreaterThanOrEqual(400);
    // The redirect was not followed: the only requests were the four deliveries to /hook, none to /elsewhere.
    expect(receiver.paths).toEqual(["/hook", "/hook", "/hook", "/hook"]);

    const log = await waitFor(
      async () => {
        const res = await h.http.get(`${hooks(ws)}/deliveries`).set(bearer(ws.tokens.admin));
        return res.body.attempts.length === 4 && res.body.attempts[0].deliveryStatus === "DELIVERED" ? res.body.attempts : undefined;
      },
      { what: "the attempt log" },
    );
    expect(log.map((a: { attempt: number }) => a.attempt)).toEqual([4, 3, 2, 1]);
    expect(log.map((a: { statusCode: number }) => a.statusCode)).toEqual([204, 302, 503, 500]);
    expect(log[1].error).toMatch(/redirects are not followed/);
    expect(new Set(log.map((a: { deliveryId: string }) => a.deliveryId))).toEqual(new Set([received[0]!.headers["webhook-id"]]));
  });

  it("are sent only for subscribed events, and not at all once the webhook is removed", async () => {
    const ws = await h.seed({ leads: 2 });
    await subscribe(ws, ["pack.failed"]);
    await completePack(ws);
    expect(await h.db.insightWebhookDelivery.count({ where: { clientId: ws.workspaceId } })).toBe(0);
    await h.http.delete(hooks(ws)).set(bearer(ws.tokens.admin)).expect(200);
    expect((await h.http.get(hooks(ws)).set(bearer(ws.tokens.admin))).status).toBe(404);
  });
});

describe("SSRF protection", () => {
  const strict = createHarness({ webhooks: { secrets: TEST_WEBHOOKS.secrets, allowPrivate: false } });
  afterAll(() => strict.close());

  it.each([
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.20.0.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
  ])("refuses %s with 400 naming body.url", async (url) => {
    const ws = await strict.seed();
    const res = await strict.http
      .put(hooks(ws))
      .set(bearer(ws.tokens.admin))
      .send({ url, events: ["pack.completed"] });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ path: "body.url" })]);
    expect(await strict.db.insightWebhook.count({ where: { clientId: ws.workspaceId } })).toBe(0);
  });

  it("knows public addresses from private ones", () => {
    for (const ip of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]) expect(isForbiddenAddress(ip), ip).toBe(false);
    for (const ip of ["127.0.0.2", "fe80::1", "fd00::1", "100.64.0.1", "::ffff:10.0.0.1"]) expect(isForbiddenAddress(ip), ip).toBe(true);
  });

  it("refuses at delivery time too: a worker without WEBHOOK_ALLOW_PRIVATE never connects to a private address", async () => {
    const strictWorker = await startTestWorker(
      strict,
      fakeLlmProvider(fake),
      { webhookRetryBaseMs: 50 },
      {
        webhooks: { secrets: TEST_WEBHOOKS.secrets, allowPrivate: false },
      },
    );
    try {
      const ws = await strict.seed({ leads: 2 });
      // Set while private addresses were allowed (the same database, another deployment's rules).
      await h.http
        .put(hooks(ws))
        .set(bearer(ws.tokens.admin))
        .send({ url: `${receiver.url}/hook`, events: ["pack.completed"] })
        .expect(200);
      const session = await strict.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
      await strict.http.post(`${ws.base}/insights/sessions/${session.body.id}/packs`).set(bearer(ws.tokens.member)).send({});
      const attempts = await waitFor(
        async () => {
          const rows = await strict.db.insightWebhookAttempt.findMany({ where: { clientId: ws.workspaceId } });
          return rows.length >= 2 ? rows : undefined;
        },
        { what: "refused attempts" },
      );
      for (const a of attempts) {
        expect(a.statusCode).toBeNull();
        expect(a.error).toMatch(/private or reserved address/);
      }
      expect(receiver.received).toEqual([]);
    } finally {
      await strictWorker.close();
    }
  });
});
