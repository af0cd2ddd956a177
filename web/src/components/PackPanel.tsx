// The session's packs: pick one, watch it fill, read its synthesis and figures; admins recompute or delete it.
import { useState } from "preact/hooks";
import type { Api } from "../api.ts";
import { STAGE_LABELS, formatDateTime, percent, scopeLabel } from "../format.ts";
import type { Pack } from "../types.ts";
import { useAction } from "../use-action.ts";
import { CampaignChart, OutcomeChart } from "./Charts.tsx";
import { ConfirmButton } from "./ConfirmButton.tsx";
import { ErrorNote, InfoNote } from "./Notice.tsx";
import { RichText } from "./RichText.tsx";

interface Props {
  api: Api;
  base: string;
  admin: boolean;
  packs: Pack[];
  pack: Pack | null;
  campaignName: (id: string) => string;
  onSelect: (id: string) => void;
  onPackChanged: (pack: Pack) => void;
  onPackDeleted: (id: string) => void;
}

const STATUS_LABELS: Record<Pack["status"], string> = {
  PENDING: "Queued",
  RUNNING: "Building",
  COMPLETE: "Complete",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

export function PackPanel({ api, base, admin, packs, pack, campaignName, onSelect, onPackChanged, onPackDeleted }: Props) {
  if (!pack) return <p class="muted">No pack yet: choose a scope and build one. Questions are answered from it.</p>;
  return (
    <div class="pack-panel">
      {packs.length > 1 && (
        <label class="pack-pick">
          Pack{" "}
          <select value={pack.id} onChange={(e) => onSelect(e.currentTarget.value)}>
            {packs.map((p) => (
              <option key={p.id} value={p.id}>
                {scopeLabel(p, campaignName)} ({STATUS_LABELS[p.status].toLowerCase()})
              </option>
            ))}
          </select>
        </label>
      )}
      <PackDetails
        key={pack.id}
        api={api}
        base={base}
        admin={admin}
        pack={pack}
        campaignName={campaignName}
        onPackChanged={onPackChanged}
        onPackDeleted={onPackDeleted}
      />
    </div>
  );
}

function PackDetails(props: Omit<Props, "packs" | "pack" | "onSelect"> & { pack: Pack }) {
  const { api, base, admin, pack, campaignName } = props;
  const p = pack.progress;
  const working = pack.status === "PENDING" || pack.status === "RUNNING";
  const metrics = pack.metrics;
  return (
    <section class={`pack status-${pack.status.toLowerCase()}`} aria-label="Pack" data-pack-id={pack.id}>
      <header>
        <h3>{scopeLabel(pack, campaignName)}</h3>
        <span class={`badge status-${pack.status.toLowerCase()}`}>{STATUS_LABELS[pack.status]}</span>
        {pack.stale && <span class="badge stale">Out of date</span>}
      </header>
      {pack.stale && (
        <InfoNote tone="warn">
          Conversations in this scope changed after this pack was built
          {pack.scope.window.preset !== "CUSTOM" ? ", or its window has moved on" : ""}.
          {admin ? " Recompute it to bring it up to date." : " An admin can recompute it."}
        </InfoNote>
      )}
      {(working || p.totalLeads > 0) && (
        <div class="progress">
          <div
            class="bar"
            role="progressbar"
            aria-label="Pack progress"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={p.percent}
            aria-valuetext={`${p.percent}% · ${STAGE_LABELS[p.stage]}`}
          >
            <span style={{ width: `${p.percent}%` }} />
          </div>
          <p class="progress-text">
            {working ? `${STAGE_LABELS[p.stage]} · ` : ""}
            {p.percent}% · {p.processedLeads} of {p.totalLeads} leads
            {p.cachedLeads > 0 ? ` (${p.cachedLeads} from cache)` : ""}
            {p.failedLeads > 0 ? ` · ${p.failedLeads} could not be read` : ""}
          </p>
        </div>
      )}
      {pack.error && <ErrorNote message={pack.error} />}
      {pack.status === "COMPLETE" && (
        <>
          {metrics?.counts && (
            <p class="figures">
              {metrics.counts.summarized} leads · {percent(metrics.replyRate ?? 0)} replied · {percent(metrics.positiveRate ?? 0)} positive
              {pack.completedAt ? ` · built ${formatDateTime(pack.completedAt)}` : ""}
            </p>
          )}
          <div class="charts">
            {metrics?.byOutcome && <OutcomeChart byOutcome={metrics.byOutcome} />}
            {metrics?.byCampaign && <CampaignChart byCampaign={metrics.byCampaign} />}
          </div>
          {pack.synthesis && (
            <div class="synthesis">
              <h4>Synthesis</h4>
              <RichText text={pack.synthesis} />
            </div>
          )}
        </>
      )}
      {admin && <PackAdmin api={api} base={base} pack={pack} onPackChanged={props.onPackChanged} onPackDeleted={props.onPackDeleted} />}
    </section>
  );
}

function PackAdmin(props: { api: Api; base: string; pack: Pack; onPackChanged: (p: Pack) => void; onPackDeleted: (id: string) => void }) {
  const { api, base, pack } = props;
  const [force, setForce] = useState(false);
  const action = useAction();
  const path = `${base}/packs/${pack.id}`;
  return (
    // biome-ignore lint/a11y/useSemanticElements: a labelled row of controls, not a form section; a fieldset would add a form block
    <div class="pack-admin" role="group" aria-label="Admin actions on this pack">
      <label class="choice">
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />
        Force: re-read every conversation, not only changed ones
      </label>
      <button
        type="button"
        disabled={action.busy}
        onClick={() => action.run(async () => props.onPackChanged(await api.send<Pack>("POST", `${path}/recompute`, { force })))}
      >
        Recompute pack
      </button>
      <ConfirmButton
        label="Delete pack"
        question="Delete this pack? Its work stops."
        disabled={action.busy}
        onConfirm={() =>
          action.run(async () => {
            await api.send("DELETE", path);
            props.onPackDeleted(pack.id);
          })
        }
      />
      <ErrorNote message={action.error} onDismiss={action.clearError} />
    </div>
  );
}
