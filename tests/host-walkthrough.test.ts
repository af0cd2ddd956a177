// The README's "Integrate as a host", step by step: from a workspace nobody has heard of to a member's answered
// question, with HTTP only (a service token for the host's backend, a user token the host signs for its member).
import { expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { signServiceToken, signToken } from "@insights/api/auth/jwt";
import { bearer, TEST_JWT_SECRET } from "./support/harness.ts";
import { useFakeModelWorker, waitFor } from "./support/worker-harness.ts";

const { h } = await useFakeModelWorker();

it("takes a host from nothing to a member's answered question over HTTP", async () => {
  const workspace = `acme-${randomUUID().slice(0, 8)}`;
  const userId = `u-ada-${randomUUID().slice(0, 8)}`;
  const service = await signServiceToken(TEST_JWT_SECRET);
  const as = (token: string) => ({
    get: (path: string) => h.http.get(path).set(bearer(token)),
    put: (path: string, body: object) => h.http.put(path).set(bearer(token)).send(body),
    post: (path: string, body: object) => h.http.post(path).set(bearer(token)).send(body),
  });
  const host = as(service);

  // 1. Provision.
  expect((await host.put(`/v1/workspaces/${workspace}`, { name: "Acme" })).status).toBe(201);
  expect((await host.put(`/v1/users/${userId}`, { email: `${userId}@acme.test`, name: "Ada" })).status).toBe(201);
  expect((await host.put(`/v1/workspaces/${workspace}/members/${userId}`, { role: "MEMBER" })).status).toBe(201);

  // 2. Push a campaign and leads with their threads.
  const base = `/v1/workspaces/${workspace}`;
  expect((await host.put(`${base}/campaigns/spring`, { name: "Spring outreach" })).status).toBe(200);
  const day = (n: number) => new Date(Date.now() - n * 24 * 3600_000).toISOString();
  const ingested = await host.post(`${base}/leads/batch`, {
    leads: [
      {
        id: "lead-1",
        name: "Bo",
        campaignId: "spring",
        messages: [
          { id: "m1", direction: "OUTBOUND", body: "Want a demo?", sentAt: day(3) },
          { id: "m2", direction: "INBOUND", body: "Yes, Tuesday works.", sentAt: day(2) },
        ],
      },
    ],
  });
  expect(ingested.status, JSON.stringify(ingested.body)).toBe(200);

  // 3. The member: who am I, a session, a pack, a question, its answer.
  const ada = as(await signToken(TEST_JWT_SECRET, userId));
  const me = await ada.get("/v1/me");
  expect(me.body).toEqual({
    user: { id: userId, email: `${userId}@acme.test`, name: "Ada" },
    workspaces: [{ id: workspace, name: "Acme", role: "MEMBER" }],
  });
  const session = await ada.post(`${base}/insights/sessions`, { title: "Pipeline" });
  expect(session.status).toBe(201);
  const pack = await ada.post(`${base}/insights/sessions/${session.body.id}/packs`, { window: { preset: "LAST_30_DAYS" } });
  expect(pack.status).toBe(202);
  const done = await waitFor(
    async () => {
      const res = await ada.get(`${base}/insights/packs/${pack.body.id}`);
      return res.body.status === "COMPLETE" ? res.body : undefined;
    },
    { what: "the pack to complete" },
  );
  expect(done.progress).toMatchObject({ totalLeads: 1, processedLeads: 1 });

  const asked = await ada.post(`${base}/insights/sessions/${session.body.id}/messages`, { content: "Who wants a demo?" });
  expect(asked.status).toBe(201);
  expect(asked.body.reply).toMatchObject({ role: "ASSISTANT", status: "PENDING" });
  const reply = await waitFor(
    async () => {
      const res = await ada.get(`${base}/insights/sessions/${session.body.id}/messages`);
      const found = (res.body.messages as Array<{ id: string; status: string; content: string }>).find((m) => m.id === asked.body.reply.id);
      return found?.status === "COMPLETE" ? found : undefined;
    },
    { what: "the reply" },
  );
  expect(reply.content.length).toBeGreaterThan(0);
});
