// Insights preferences: a member's own defaults per workspace, stored server-side so they follow the member across
// devices (any valid token of the same user), and replaced wholesale by PUT.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { signToken } from "@insights/api/auth/jwt";
import { bearer, createHarness, TEST_JWT_SECRET, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;
let other: TestWorkspace;

beforeAll(async () => {
  [ws, other] = await Promise.all([h.seed({ leads: 0 }), h.seed({ leads: 0 })]);
});
afterAll(() => h.close());

const DEFAULTS = { windowPreset: "LAST_30_DAYS", customFrom: null, customTo: null, campaignCap: 10 };

const prefsPath = (w: TestWorkspace) => `${w.base}/insights/preferences`;

/** A new MEMBER of `w` with a token, so each test starts from a user who never saved anything. */
async function newMember(w: TestWorkspace): Promise<{ id: string; token: string }> {
  const user = await h.db.user.create({ data: { email: `prefs+${randomUUID()}@example.test` } });
  await h.db.workspaceMembership.create({ data: { clientId: w.workspaceId, userId: user.id, role: "MEMBER" } });
  return { id: user.id, token: await signToken(TEST_JWT_SECRET, user.id) };
}

async function get(w: TestWorkspace, token: string) {
  const res = await h.http.get(prefsPath(w)).set(bearer(token));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function put(w: TestWorkspace, token: string, body: object) {
  const res = await h.http.put(prefsPath(w)).set(bearer(token)).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const instant = (value: string | null) => (value === null ? null : new Date(value).getTime());

describe("preferences", () => {
  it("gives a new member the defaults", async () => {
    const me = await newMember(ws);
    expect(await get(ws, me.token)).toMatchObject(DEFAULTS);
  });

  it("stores nothing for a member who only reads their preferences", async () => {
    const me = await newMember(ws);
    await get(ws, me.token);
    expect(await h.db.insightChatUserPreference.count({ where: { clientId: ws.workspaceId, userId: me.id } })).toBe(0);
  });

  it("answers a PUT with the saved values", async () => {
    const me = await newMember(ws);
    const saved = await put(ws, me.token, { windowPreset: "LAST_90_DAYS", campaignCap: 25 });
    expect(saved).toMatchObject({ windowPreset: "LAST_90_DAYS", campaignCap: 25, customFrom: null, customTo: null });
  });

  it("returns the saved values on another device, i.e. with a second token of the same user", async () => {
    const me = await newMember(ws);
    const otherDevice = await signToken(TEST_JWT_SECRET, me.id, 3600);
    expect(otherDevice).not.toBe(me.token);

    await put(ws, me.token, { windowPreset: "LAST_7_DAYS", campaignCap: 3 });

    expect(await get(ws, otherDevice)).toMatchObject({ windowPreset: "LAST_7_DAYS", campaignCap: 3 });
  });

  it("stores the preferences in the database, for that user and workspace", async () => {
    const me = await newMember(ws);
    await put(ws, me.token, { windowPreset: "LAST_90_DAYS", campaignCap: 7 });
    const row = await h.db.insightChatUserPreference.findUnique({
      where: { clientId_userId: { clientId: ws.workspaceId, userId: me.id } },
    });
    expect(row).toMatchObject({ windowPreset: "LAST_90_DAYS", campaignCap: 7 });
  });

  it("keeps preferences per user: another member still gets the defaults", async () => {
    const [me, colleague] = await Promise.all([newMember(ws), newMember(ws)]);
    await put(ws, me.token, { windowPreset: "LAST_90_DAYS", campaignCap: 40 });
    expect(await get(ws, colleague.token)).toMatchObject(DEFAULTS);
  });

  it("keeps preferences per workspace: the same user in another workspace gets the defaults", async () => {
    const me = await newMember(ws);
    await h.db.workspaceMembership.create({ data: { clientId: other.workspaceId, userId: me.id, role: "MEMBER" } });
    await put(ws, me.token, { windowPreset: "LAST_7_DAYS", campaignCap: 2 });

    expect(await get(other, me.token)).toMatchObject(DEFAULTS);
    expect(await get(ws, me.token)).toMatchObject({ windowPreset: "LAST_7_DAYS", campaignCap: 2 });
  });

  it("keeps a change in one workspace out of the same user's preferences in another", async () => {
    const me = await newMember(ws);
    await h.db.workspaceMembership.create({ data: { clientId: other.workspaceId, userId: me.id, role: "MEMBER" } });
    await put(ws, me.token, { windowPreset: "LAST_7_DAYS", campaignCap: 2 });
    await put(other, me.token, { windowPreset: "LAST_90_DAYS", campaignCap: 30 });

    expect(await get(ws, me.token)).toMatchObject({ windowPreset: "LAST_7_DAYS", campaignCap: 2 });
    expect(await get(other, me.token)).toMatchObject({ windowPreset: "LAST_90_DAYS", campaignCap: 30 });
  });

  it("round-trips a CUSTOM window's from and to", async () => {
    const me = await newMember(ws);
    const window = { customFrom: "2026-03-01T00:00:00.000Z", customTo: "2026-04-15T12:30:00.000Z" };
    await put(ws, me.token, { windowPreset: "CUSTOM", ...window, campaignCap: 5 });

    const read = await get(ws, me.token);
    expect(read.windowPreset).toBe("CUSTOM");
    expect(read.campaignCap).toBe(5);
    expect(instant(read.customFrom)).toBe(instant(window.customFrom));
    expect(instant(read.customTo)).toBe(instant(window.customTo));
  });

  it("round-trips a CUSTOM window given as dates or with a UTC offset as the same instants", async () => {
    const me = await newMember(ws);
    await put(ws, me.token, { windowPreset: "CUSTOM", customFrom: "2026-05-01", customTo: "2026-05-31T18:00:00+02:00", campaignCap: 5 });

    const read = await get(ws, me.token);
    expect(instant(read.customFrom)).toBe(Date.UTC(2026, 4, 1));
    expect(instant(read.customTo)).toBe(Date.UTC(2026, 4, 31, 16));
  });

  it("replaces on PUT: a later PUT without customFrom/customTo clears them", async () => {
    const me = await newMember(ws);
    await put(ws, me.token, {
      windowPreset: "CUSTOM",
      customFrom: "2026-01-01T00:00:00Z",
      customTo: "2026-02-01T00:00:00Z",
      campaignCap: 12,
    });
    await put(ws, me.token, { windowPreset: "LAST_7_DAYS", campaignCap: 4 });

    expect(await get(ws, me.token)).toMatchObject({ windowPreset: "LAST_7_DAYS", customFrom: null, customTo: null, campaignCap: 4 });
  });

  it("keeps the saved values when a PUT is refused", async () => {
    const me = await newMember(ws);
    await put(ws, me.token, { windowPreset: "LAST_90_DAYS", campaignCap: 9 });
    const res = await h.http.put(prefsPath(ws)).set(bearer(me.token)).send({ windowPreset: "LAST_7_DAYS", campaignCap: 0 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_FAILED");
    expect(await get(ws, me.token)).toMatchObject({ windowPreset: "LAST_90_DAYS", campaignCap: 9 });
  });
});
