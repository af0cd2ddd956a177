// A pack's scope: a time window, a campaign set and a campaign cap, normalised so that the same scope written
// differently (campaign order, duplicates, defaults spelled out or left out) gives the same scopeKey.
//
// Window presets are relative: LAST_N_DAYS resolves to [now - N days, now] when a pack run starts (and again on
// every recompute). CUSTOM windows are absolute; a date-only `to` means the end of that day (UTC).
import { createHash } from "node:crypto";
import type { InsightsWindowPreset } from "../db/client.ts";

export const PRESET_DAYS = { LAST_7_DAYS: 7, LAST_30_DAYS: 30, LAST_90_DAYS: 90 } as const;
export type RelativePreset = keyof typeof PRESET_DAYS;

export type ScopeWindow = { preset: RelativePreset } | { preset: "CUSTOM"; from: Date; to: Date };

export interface PackScope {
  window: ScopeWindow;
  /** Sorted and unique; empty means every campaign of the workspace. */
  campaignIds: string[];
  campaignCap: number;
}

const DAY_MS = 24 * 3600_000;

/** Bumped when the key's format changes, so old keys never collide with new ones. */
const SCOPE_KEY_VERSION = "v1";

export function normaliseScope(scope: PackScope): PackScope {
  return { ...scope, campaignIds: [...new Set(scope.campaignIds)].sort() };
}

export function scopeKeyOf(scope: PackScope): string {
  const { window, campaignIds, campaignCap } = normaliseScope(scope);
  const windowPart = window.preset === "CUSTOM" ? `CUSTOM:${window.from.toISOString()}/${window.to.toISOString()}` : window.preset;
  const campaignsPart = campaignIds.length === 0 ? "*" : campaignIds.map(encodeURIComponent).join(",");
  return `${SCOPE_KEY_VERSION};window=${windowPart};campaigns=${campaignsPart};cap=${campaignCap}`;
}

/**
 * The key's fixed-size stand-in in the (sessionId, scopeHash) unique index: a scope naming 50 campaigns of 128
 * characters has a key of some 6,500 bytes, past what a PostgreSQL B-tree entry may hold.
 */
export function scopeHashOf(scopeKey: string): string {
  return createHash("sha256").update(scopeKey).digest("hex");
}

/** The absolute time range a window covers for a run starting at `now`. */
export function resolveWindow(window: ScopeWindow, now: Date): { from: Date; to: Date } {
  if (window.preset === "CUSTOM") return { from: window.from, to: window.to };
  return { from: new Date(now.getTime() - PRESET_DAYS[window.preset] * DAY_MS), to: now };
}

/** Rebuilds the scope stored on a pack row. */
export function scopeOfPack(pack: {
  windowPreset: InsightsWindowPreset;
  windowFrom: Date;
  windowTo: Date;
  campaignIds: string[];
  campaignCap: number;
}): PackScope {
  const window: ScopeWindow =
    pack.windowPreset === "CUSTOM" ? { preset: "CUSTOM", from: pack.windowFrom, to: pack.windowTo } : { preset: pack.windowPreset };
  return { window, campaignIds: pack.campaignIds, campaignCap: pack.campaignCap };
}

/**
 * A relative window moves with the clock: a COMPLETE pack over one is stale once this much time has passed, even
 * if no thread changed. (A pack is also stale as soon as a thread in its scope changes.)
 */
export const RELATIVE_WINDOW_STALE_AFTER_MS = DAY_MS;
