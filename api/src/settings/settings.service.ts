import type { Db, WorkspaceSettings } from "@insights/shared/db/client";
import { recordAuditEvent } from "../audit/audit.service.ts";
import type { Caller } from "../http/request-context.ts";
import type { SettingsResponse } from "./settings.schema.ts";
import { lockCallerMembership } from "../auth/membership-lock.ts";

type SettingsPatch = Partial<Omit<WorkspaceSettings, "clientId" | "updatedAt">>;

function toSettingsDto(row: WorkspaceSettings): SettingsResponse {
  return {
    insightsChatModel: row.insightsChatModel,
    insightsChatReasoningEffort: row.insightsChatReasoningEffort,
    insightsChatEnableCampaignChanges: row.insightsChatEnableCampaignChanges,
    insightsChatEnableExperimentWrites: row.insightsChatEnableExperimentWrites,
    insightsChatEnableFollowupPauses: row.insightsChatEnableFollowupPauses,
    updatedAt: row.updatedAt,
  };
}

/** A workspace without a settings row gets the schema's defaults; the row is created on first read. */
export async function getSettings(db: Db, caller: Caller) {
  const row = await db.workspaceSettings.upsert({
    where: { clientId: caller.workspaceId },
    create: { clientId: caller.workspaceId },
    update: {},
  });
  return toSettingsDto(row);
}

export async function updateSettings(db: Db, caller: Caller, patch: SettingsPatch) {
  const row = await db.$transaction(async (tx) => {
    await lockCallerMembership(tx, caller, { admin: true });
    const before = await tx.workspaceSettings.upsert({
      where: { clientId: caller.workspaceId },
      create: { clientId: caller.workspaceId },
      update: {},
    });
    const after = await tx.workspaceSettings.update({ where: { clientId: caller.workspaceId }, data: patch });
    const changes = Object.fromEntries(
      Object.keys(patch).map((key) => {
        const field = key as keyof SettingsPatch;
        return [field, { from: before[field], to: after[field] }];
      }),
    );
    await recordAuditEvent(tx, caller, { action: "SETTINGS_UPDATED", details: { changes } });
    return after;
  });
  return toSettingsDto(row);
}
