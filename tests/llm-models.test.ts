// Deployment LLM defaults: LLM_MODEL runs every workspace that chose no model, LLM_ALLOWED_MODELS bounds what admins
// may choose, and settings show the model a workspace's work actually runs on.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ModelPolicy } from "@insights/shared/llm-models";
import type { WorkerRuntime } from "@insights/worker/runtime/start-workers";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";
import { startFakeLlm, type FakeLlm } from "./support/fake-llm.ts";
import { completePackInNewSession, fakeLlmProvider, startTestWorker, waitFor } from "./support/worker-harness.ts";

const models: ModelPolicy = { defaultModel: "deploy-default-model", allowedModels: ["deploy-default-model", "gpt-alt"] };
const h = createHarness({ models });
let fake: FakeLlm;
let worker: WorkerRuntime;

beforeAll(async () => {
  fake = await startFakeLlm();
  // Chunks of 2 leads, one chunk job at a time: a pack's chunks run one after another (see the last test).
  worker = await startTestWorker(h, fakeLlmProvider(fake), { chunkSize: 2, chunkConcurrency: 1 }, { models });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await worker.close();
  await fake.close();
  await h.close();
});

const settingsOf = (ws: TestWorkspace) => h.http.get(`${ws.base}/insights/settings`).set(bearer(ws.tokens.member));
const patch = (ws: TestWorkspace, body: object) => h.http.patch(`${ws.base}/insights/settings`).set(bearer(ws.tokens.admin)).send(body);

async function packModels(ws: TestWorkspace): Promise<string[]> {
  await completePackInNewSession(h, ws);
  return [...new Set(fake.requests.map((r) => r.body.model as string))];
}

describe("deployment LLM defaults", () => {
  it("shows LLM_MODEL as the model of a workspace that chose none, with what admins may choose", async () => {
    const ws = await h.seed();
    const res = await settingsOf(ws);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      insightsChatModel: "deploy-default-model",
      insightsChatModelIsDefault: true,
      allowedModels: ["deploy-default-model", "gpt-alt"],
    });
  });

  it("runs a workspace that chose no model on LLM_MODEL", async () => {
    const ws = await h.seed({ leads: 2 });
    expect(await packModels(ws)).toEqual(["deploy-default-model"]);
  });

  it("refuses a model outside LLM_ALLOWED_MODELS with 400 naming the field, and changes nothing", async () => {
    const ws = await h.seed();
    const res = await patch(ws, { insightsChatModel: "gpt-5-mini", insightsChatEnableFollowupPauses: true });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual([expect.objectContaining({ path: "body.insightsChatModel" })]);
    expect(res.body.error.message).toContain("deploy-default-model, gpt-alt");
    expect((await settingsOf(ws)).body).toMatchObject({
      insightsChatModel: "deploy-default-model",
      insightsChatEnableFollowupPauses: false,
    });
    const audit = await h.http.get(`${ws.base}/insights/audit-events?action=SETTINGS_UPDATED`).set(bearer(ws.tokens.admin));
    expect(audit.body.events).toEqual([]);
  });

  it("runs on an allowed model an admin chose, and back on the default after choosing null", async () => {
    const ws = await h.seed({ leads: 2 });
    const chosen = await patch(ws, { insightsChatModel: "gpt-alt" });
    expect(chosen.status).toBe(200);
    expect(chosen.body).toMatchObject({ insightsChatModel: "gpt-alt", insightsChatModelIsDefault: false });
    expect(await packModels(ws)).toEqual(["gpt-alt"]);

    const reset = await patch(ws, { insightsChatModel: null });
    expect(reset.body).toMatchObject({ insightsChatModel: "deploy-default-model", insightsChatModelIsDefault: true });
  });

  it("runs a workspace whose stored model the operator has since withdrawn on LLM_MODEL, and says so", async () => {
    const ws = await h.seed({ leads: 2 });
    // As left by an earlier deployment whose list allowed it.
    await h.db.workspaceSettings.upsert({
      where: { clientId: ws.workspaceId },
      create: { clientId: ws.workspaceId, insightsChatModel: "withdrawn-model" },
      update: { insightsChatModel: "withdrawn-model" },
    });
    expect((await settingsOf(ws)).body).toMatchObject({ insightsChatModel: "deploy-default-model", insightsChatModelIsDefault: true });
    expect(await packModels(ws)).toEqual(["deploy-default-model"]);
  });

  it("keeps a running pack on the model it started with when an admin changes it: every chunk, then synthesis", async () => {
    const ws = await h.seed({ leads: 8 });
    fake.latencyMs = 50;
    const done = completePackInNewSession(h, ws);
    await waitFor(async () => (fake.callsFor("lead_insight") > 0 ? true : undefined), { what: "extraction to start" });
    expect((await patch(ws, { insightsChatModel: "gpt-alt" })).status).toBe(200);
    const { packId } = await done;
    const models = new Set(fake.requests.map((r) => r.body.model));
    expect(fake.callsFor("lead_insight")).toBe(8);
    expect([...models]).toEqual(["deploy-default-model"]);
    expect((await h.db.insightContextPack.findUniqueOrThrow({ where: { id: packId } })).model).toBe("deploy-default-model");
    // The next pack runs on the new choice.
    fake.reset();
    expect(await packModels(ws)).toEqual(["gpt-alt"]);
  });
});
