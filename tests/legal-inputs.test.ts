// Legal input never gets a 500: the longest campaign ids the ingestion accepts, dates at the edges of what
// PostgreSQL stores, and one meaning of a date-only `to` everywhere (the end of that day, UTC).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Response } from "supertest";
import { bearer, createHarness, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;
beforeAll(async () => {
  ws = await h.seed({ leads: 0 });
});
afterAll(() => h.close());

const newSession = async (): Promise<string> =>
  (await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({})).body.id;
const requestPack = (sessionId: string, body: object) =>
  h.http.post(`${ws.base}/insights/sessions/${sessionId}/packs`).set(bearer(ws.tokens.member)).send(body);

function expectFieldRefused(res: Response, field: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error).toMatchObject({ code: "VALIDATION_FAILED", requestId: expect.any(String) });
  expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toContain(field);
}

describe("scope keys", () => {
  it("accepts a pack over 50 campaigns with 128-character ids, and finds it again written in another order", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `campaign-${String(i).padStart(2, "0")}-`.padEnd(128, "x"));
    for (const id of ids) {
      await h.http
        .put(`${ws.base}/campaigns/${id}`)
        .set(bearer(ws.tokens.admin))
        .send({ name: `Long ${id.slice(0, 11)}` })
        .expect(200);
    }
    const sessionId = await newSession();
    const body = { window: { preset: "LAST_30_DAYS" }, campaignIds: ids, campaignCap: 50 };
    const first = await requestPack(sessionId, body);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    // The key stays readable: every campaign id is in it.
    for (const id of ids) expect(first.body.scopeKey).toContain(id);

    const again = await requestPack(sessionId, { ...body, campaignIds: [...ids].reverse() });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, scopeKey: first.body.scopeKey });
  });
});

describe("dates PostgreSQL cannot store", () => {
  it("answers a usage query whose default from would land before the year 1 with 400 naming to", async () => {
    expectFieldRefused(await h.http.get(`${ws.base}/insights/usage?to=0001-01-01`).set(bearer(ws.tokens.admin)), "query.to");
  });

  it("answers a usage query ending after the year 9999 with 400 naming to", async () => {
    expectFieldRefused(
      await h.http.get(`${ws.base}/insights/usage?from=9999-12-01&to=9999-12-31`).set(bearer(ws.tokens.admin)),
      "query.to",
    );
  });

  it("answers a pack window ending after the year 9999 with 400 naming window.to", async () => {
    const res = await requestPack(await newSession(), { window: { preset: "CUSTOM", from: "9999-12-01", to: "9999-12-31" } });
    expectFieldRefused(res, "body.window.to");
  });

  it("answers a pack window starting in the year 0 with 400 naming window.from", async () => {
    const res = await requestPack(await newSession(), { window: { preset: "CUSTOM", from: "0000-06-01", to: "0001-01-31" } });
    expectFieldRefused(res, "body.window.from");
  });

  it("answers saved preferences ending after the year 9999 with 400 naming customTo", async () => {
    const res = await h.http
      .put(`${ws.base}/insights/preferences`)
      .set(bearer(ws.tokens.member))
      .send({ windowPreset: "CUSTOM", customFrom: "9999-12-01", customTo: "9999-12-31", campaignCap: 5 });
    expectFieldRefused(res, "body.customTo");
  });
});

describe("a date-only to", () => {
  it("means the end of that day in saved preferences and in a request: the same scope either way is one pack", async () => {
    const member = ws.tokens.member;
    await h.http
      .put(`${ws.base}/insights/preferences`)
      .set(bearer(member))
      .send({ windowPreset: "CUSTOM", customFrom: "2026-01-01", customTo: "2026-01-31", campaignCap: 10 })
      .expect(200);
    const sessionId = await newSession();

    const fromPreferences = await requestPack(sessionId, {});
    expect(fromPreferences.status, JSON.stringify(fromPreferences.body)).toBe(202);
    expect(fromPreferences.body.scope.window).toEqual({
      preset: "CUSTOM",
      from: "2026-01-01T00:00:00.000Z",
      to: "2026-02-01T00:00:00.000Z",
    });

    for (const window of [
      { preset: "CUSTOM", from: "2026-01-01", to: "2026-01-31" },
      { preset: "CUSTOM", from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z" },
      { preset: "CUSTOM", from: "2026-01-01T01:00:00+01:00", to: "2026-01-31T19:00:00-05:00" },
    ]) {
      const spelledOut = await requestPack(sessionId, { window, campaignCap: 10 });
      expect(spelledOut.status, JSON.stringify(window)).toBe(200);
      expect(spelledOut.body).toMatchObject({ id: fromPreferences.body.id, scopeKey: fromPreferences.body.scopeKey });
    }
  });

  it("includes that day in a usage query", async () => {
    await h.db.insightLlmUsage.create({
      data: {
        clientId: ws.workspaceId,
        kind: "ANSWER",
        llmCalls: 1,
        inputTokens: 7,
        outputTokens: 3,
        createdAt: new Date("2026-01-31T18:00:00Z"),
      },
    });
    const res = await h.http.get(`${ws.base}/insights/usage?from=2026-01-01&to=2026-01-31`).set(bearer(ws.tokens.admin));
    expect(res.status).toBe(200);
    expect(res.body.totals).toEqual({ llmCalls: 1, inputTokens: 7, outputTokens: 3 });
    expect(res.body.to).toBe("2026-02-01T00:00:00.000Z");
  });
});
