// A pack job run again after its first attempt died continues the same run: when it died at the selection (a database
// outage while it marked the leads whose cached summaries it reuses), the next attempt pays the model only for the
// leads without a valid summary, as an attempt that never failed would (selection and cache marking commit together,
// or not at all); when it died mid-extraction after an admin chose another model, every call stays on the model the
// run was selected with.
import { afterAll, describe, expect, it } from "vitest";
import type { Db } from "@insights/shared/db/client";
import { createLogger } from "@insights/shared/logger";
import type { LlmProvider } from "@insights/worker/llm/provider";
import { buildPack } from "@insights/worker/packs/build-pack.handler";
import { bearer, createHarness, insertPendingPack, TEST_MODELS, type TestWorkspace } from "./support/harness.ts";
import { instantModel } from "./support/instant-model.ts";

const h = createHarness();
afterAll(() => h.close());

let extractions = 0;
const countingModel = instantModel(() => extractions++);

type RawSql = (strings: TemplateStringsArray, ...values: unknown[]) => Promise<number>;

/** The database, failing the statement that marks cached leads (in a transaction or not) as an outage would. */
function failingCacheMarks<T extends object>(db: T): T {
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "$executeRaw") {
        return (strings: TemplateStringsArray, ...values: unknown[]) => {
          if (strings.join("?").includes("'CACHE_REUSE'")) return Promise.reject(new Error("the database went away"));
          return (value as RawSql).apply(target, [strings, ...values]);
        };
      }
      if (prop === "$transaction") {
        return (fn: (tx: object) => Promise<unknown>, options?: object) =>
          (target as unknown as Db).$transaction((tx) => fn(failingCacheMarks(tx)), options);
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const depsWith = (db: Db) => ({
  db,
  llm: countingModel,
  logger: createLogger("selection-retry-test", "silent"),
  live: h.liveLog,
  models: TEST_MODELS,
  tuning: { maxLeadsPerPack: 1000, llmConcurrency: 4, progressIntervalMs: 50, pageSize: 200, chunkSize: 1000 },
});

async function newPack(ws: TestWorkspace) {
  const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  return insertPendingPack(h, ws, session.body.id);
}

describe("a pack job retried after an outage at its selection", () => {
  it("reuses every valid cached summary, as a run that never failed would", async () => {
    const ws = await h.seed({ leads: 20 });
    const first = await newPack(ws);
    expect(await buildPack(depsWith(h.db), { packId: first.id, generation: 1 }, new AbortController().signal)).toMatchObject({
      outcome: "complete",
    });
    expect(extractions).toBe(20);

    // Another session's pack over the same leads: its first attempt fails while it marks the cached ones.
    const second = await newPack(ws);
    const payload = { packId: second.id, generation: 1 };
    await expect(buildPack(depsWith(failingCacheMarks(h.db)), payload, new AbortController().signal)).rejects.toThrow(
      "the database went away",
    );
    extractions = 0;
    expect(await buildPack(depsWith(h.db), payload, new AbortController().signal)).toMatchObject({ outcome: "complete", totalLeads: 20 });
    expect(extractions).toBe(0);
    const done = await h.db.insightContextPack.findUniqueOrThrow({ where: { id: second.id } });
    expect(done).toMatchObject({ status: "COMPLETE", cachedLeads: 20, llmCalls: 1 });
  });
});

describe("a pack job retried after its workspace chose another model", () => {
  it("continues on the model its run was selected with, for every call; the next pack takes the new one", async () => {
    const ws = await h.seed({ leads: 12 });
    const base = instantModel();
    const models: string[] = [];
    let callsBeforeCrash = 5;
    const recording: LlmProvider = {
      ...base,
      extractLeadInsight: async (thread, call) => {
        models.push(call.model);
        if (--callsBeforeCrash === 0) throw new Error("the worker died");
        return base.extractLeadInsight(thread, call);
      },
      synthesizePack: async (digest, call) => {
        models.push(call.model);
        return base.synthesizePack(digest, call);
      },
    };
    const deps = { ...depsWith(h.db), llm: recording };
    const pack = await newPack(ws);
    const payload = { packId: pack.id, generation: 1 };
    await expect(buildPack(deps, payload, new AbortController().signal)).rejects.toThrow("the worker died");
    const changed = await h.http
      .patch(`${ws.base}/insights/settings`)
      .set(bearer(ws.tokens.admin))
      .send({ insightsChatModel: "gpt-test-large" });
    expect(changed.status).toBe(200);

    expect(await buildPack(deps, payload, new AbortController().signal)).toMatchObject({ outcome: "complete", totalLeads: 12 });
    expect(new Set(models)).toEqual(new Set([TEST_MODELS.defaultModel]));
    expect((await h.db.insightContextPack.findUniqueOrThrow({ where: { id: pack.id } })).model).toBe(TEST_MODELS.defaultModel);

    models.length = 0;
    const next = await newPack(ws);
    expect(await buildPack(deps, { packId: next.id, generation: 1 }, new AbortController().signal)).toMatchObject({ outcome: "complete" });
    expect(new Set(models)).toEqual(new Set(["gpt-test-large"]));
  });
});
