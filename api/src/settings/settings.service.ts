import type { Db, WorkspaceSettings } from "@insights/shared/db/client";
import { effectiveModel, type ModelPolicy } from "@insights/shared/llm-models";
import { recordAuditEvent } from "../audit/audit.service.ts";
import { validationFailed } from "../http/app-error.ts";
import type { Caller } from "../http/request-context.ts";
import type { SettingsResponse } from "./settings.schema.ts";
import { lockCallerMembership } from "../auth/membership-lock.ts";

type SettingsPatch = Partial<Omit<WorkspaceSettings, "clientId" | "updatedAt">>;
type SettingsDeps = { db: Db; models: ModelPolicy };

function toSettingsDto(row: WorkspaceSettings, models: ModelPolicy): SettingsResponse {
  const model = effectiveModel(row.insightsChatModel, models);
  return {
    insightsChatModel: model,
    insightsChatModelIsDefault: row.insightsChatModel !== model,
    allowedModels: models.allowedModels,
    insightsChatReasoningEffort: row.insightsChatReasoningEffort,
    insightsChatEnableCampaignChanges: row.insightsChatEnableCampaignChanges,
    insightsChatEnableExperimentWrites: row.insightsChatEnableExperimentWrites,
    insightsChatEnableFollowupPauses: row.insightsChatEnableFollowupPauses,
    updatedAt: row.updatedAt,
  };
}

/** A workspace without a settings row gets the schema's defaults; the row is created on first read. */
export async function getSettings({ db, models }: SettingsDeps, caller: Caller) {
  const row = await db.workspaceSettings.upsert({
    where: { clientId: caller.workspaceId },
    create: { clientId: caller.workspaceId },
    update: {},
  });
  return toSettingsDto(row, models);
}

export async function updateSettings({ db, models }: SettingsDeps, caller: Caller, patch: SettingsPatch) {
  const model = patch.insightsChatModel;
  if (model && !models.allowedModels.includes(model)) {
    throw validationFailed([
      { path: "body.insightsChatModel", message: `must be one of this deployment's models: ${models.allowedModels.join(", ")}` },
    ]);
  }
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
  return toSettingsDto(row, models);
}
