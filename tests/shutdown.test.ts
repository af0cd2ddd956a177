// SIGTERM on a real API process: requests in flight finish, then the process exits cleanly.
import { request as httpRequest } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { makeLead } from "@insights/api/cli/seed";
import { createHarness } from "./support/harness.ts";
import { startApiProcess } from "./support/pack-processes.ts";

const h = createHarness();
afterAll(() => h.close());

describe("the API on SIGTERM", () => {
  it("finishes the requests in flight, refuses new connections, and exits 0", { timeout: 60_000 }, async () => {
    const ws = await h.seed();
    const { proc: api, port } = await startApiProcess(h.prefix);

    // A large ingestion batch takes the API a while: long enough to be in flight when the signal arrives.
    const leads = Array.from({ length: 500 }, (_, i) => {
      const lead = makeLead(i, "drain", ws.campaignIds, new Date());
      const filler = Array.from({ length: 30 }, (_, j) => ({
        id: `f${j}`,
        direction: j % 2 ? ("INBOUND" as const) : ("OUTBOUND" as const),
        body: `Message ${j} ${"lorem ipsum ".repeat(15)}`,
        sentAt: new Date(Date.now() - (j + 10) * 3600_000).toISOString(),
      }));
      return { ...lead, messages: [...lead.messages.map((m) => ({ ...m, sentAt: m.sentAt.toISOString() })), ...filler] };
    });
    const body = JSON.stringify({ leads });
    let signalledAt = 0;
    const response = new Promise<{ status: number; at: number }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: `${ws.base}/leads/batch`,
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${ws.tokens.owner}`,
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, at: Date.now() }));
        },
      );
      req.on("error", reject);
      // The whole body is on the wire: the request is in the API's hands. Now stop the API.
      req.on("finish", () => {
        signalledAt = Date.now();
        api.child.kill("SIGTERM");
      });
      req.end(body);
    });

    const { status, at } = await response;
    expect(status).toBe(200);
    expect(at).toBeGreaterThan(signalledAt);
    expect(await api.exited).toBe(0);
    expect(api.output()).toMatch(/draining requests/);
    expect(await h.db.lead.count({ where: { clientId: ws.workspaceId } })).toBe(500);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
