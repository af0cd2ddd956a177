import type { Db, InsightsWindowPreset } from "@insights/shared/db/client";
import type { Caller } from "../http/request-context.ts";
import type { PreferencesResponse } from "./preferences.schema.ts";

export interface Preferences {
  windowPreset: InsightsWindowPreset;
  customFrom: Date | null;
  customTo: Date | null;
  campaignCap: number;
}

/** What a member who never saved preferences gets. */
export const DEFAULT_PREFERENCES: Preferences = {
  windowPreset: "LAST_30_DAYS",
  customFrom: null,
  customTo: null,
  campaignCap: 10,
};

export async function getPreferences(db: Db, caller: Caller) {
  const row = await db.insightChatUserPreference.findUnique({
    where: { clientId_userId: { clientId: caller.workspaceId, userId: caller.userId } },
  });
  return row ? toPreferencesDto(row, row.updatedAt) : toPreferencesDto(DEFAULT_PREFERENCES, null);
}

export async function putPreferences(
  db: Db,
  caller: Caller,
  input: { windowPreset: InsightsWindowPreset; customFrom?: Date | null; customTo?: Date | null; campaignCap: number },
) {
  // PUT replaces: a field left out is cleared, not kept.
  const data = {
    windowPreset: input.windowPreset,
    customFrom: input.customFrom ?? null,
    customTo: input.customTo ?? null,
    campaignCap: input.campaignCap,
  };
  const row = await db.insightChatUserPreference.upsert({
    where: { clientId_userId: { clientId: caller.workspaceId, userId: caller.userId } },
    create: { clientId: caller.workspaceId, userId: caller.userId, ...data },
    update: data,
  });
  return toPreferencesDto(row, row.updatedAt);
}

function toPreferencesDto(p: Preferences, updatedAt: Date | null): PreferencesResponse {
  return {
    windowPreset: p.windowPreset,
    customFrom: p.customFrom,
    customTo: p.customTo,
    campaignCap: p.campaignCap,
    updatedAt,
  };
}
