import { describe, expect, it } from "vitest";
import { resolveWindow, scopeKeyOf, type PackScope } from "@insights/shared/scope/scope";

const base: PackScope = { window: { preset: "LAST_30_DAYS" }, campaignIds: ["b", "a"], campaignCap: 10 };

describe("scopeKey", () => {
  it("is the same for the same scope written differently", () => {
    const key = scopeKeyOf(base);
    expect(scopeKeyOf({ ...base, campaignIds: ["a", "b"] })).toBe(key);
    expect(scopeKeyOf({ ...base, campaignIds: ["a", "b", "a"] })).toBe(key);
  });

  it("differs when the window, the campaigns or the cap differ", () => {
    const keys = new Set([
      scopeKeyOf(base),
      scopeKeyOf({ ...base, window: { preset: "LAST_7_DAYS" } }),
      scopeKeyOf({ ...base, campaignIds: ["a"] }),
      scopeKeyOf({ ...base, campaignIds: [] }),
      scopeKeyOf({ ...base, campaignCap: 11 }),
      scopeKeyOf({ ...base, window: { preset: "CUSTOM", from: new Date("2026-01-01"), to: new Date("2026-02-01") } }),
    ]);
    expect(keys.size).toBe(6);
  });

  it("cannot be confused by a campaign id containing the separator", () => {
    expect(scopeKeyOf({ ...base, campaignIds: ["a,b"] })).not.toBe(scopeKeyOf({ ...base, campaignIds: ["a", "b"] }));
  });

  it("spells a custom window as absolute instants", () => {
    const key = scopeKeyOf({
      ...base,
      window: { preset: "CUSTOM", from: new Date("2026-01-01T00:00:00Z"), to: new Date("2026-02-01T00:00:00Z") },
    });
    expect(key).toContain("CUSTOM:2026-01-01T00:00:00.000Z/2026-02-01T00:00:00.000Z");
  });
});

describe("resolveWindow", () => {
  it("resolves a relative preset against the clock, and a custom window as given", () => {
    const now = new Date("2026-11-25T12:00:00Z");
    expect(resolveWindow({ preset: "LAST_7_DAYS" }, now)).toEqual({ from: new Date("2026-11-18T12:00:00Z"), to: now });
    expect(resolveWindow({ preset: "LAST_90_DAYS" }, now).from).toEqual(new Date("2026-08-27T12:00:00Z"));
    const custom = { preset: "CUSTOM" as const, from: new Date("2026-01-01"), to: new Date("2026-01-31") };
    expect(resolveWindow(custom, now)).toEqual({ from: custom.from, to: custom.to });
  });
});
