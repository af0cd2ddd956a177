// The scope of a new pack: a window (preset or custom dates) and campaigns within the cap, starting from the
// caller's saved preferences; "Save as my defaults" stores them (per workspace, across devices).
import { useEffect, useState } from "preact/hooks";
import { ApiError, messageOf, type Api } from "../api.ts";
import { PRESET_LABELS } from "../format.ts";
import { WINDOW_PRESETS, type Campaign, type Pack, type Preferences, type WindowPreset } from "../types.ts";
import { useAction } from "../use-action.ts";
import { ErrorNote, InfoNote } from "./Notice.tsx";

interface Props {
  api: Api;
  base: string;
  sessionId: string;
  /** null: the service cannot list campaigns; packs then cover every campaign. */
  campaigns: Campaign[] | null;
  onPack: (pack: Pack) => void;
}

const dateInput = (iso: string | null) => (iso ? iso.slice(0, 10) : "");

export function ScopePicker({ api, base, sessionId, campaigns, onPack }: Props) {
  const [preset, setPreset] = useState<WindowPreset>("LAST_30_DAYS");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [cap, setCap] = useState(10);
  const [chosen, setChosen] = useState<string[]>([]);
  const action = useAction();
  const [note, setNote] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    api.get<Preferences>(`${base}/preferences`).then(
      (p) => {
        setPreset(p.windowPreset);
        setFrom(dateInput(p.customFrom));
        setTo(dateInput(p.customTo));
        setCap(p.campaignCap);
      },
      // Not fatal: the form keeps the service's defaults, and says why.
      (err) => setLoadError(`Your saved defaults could not be loaded, so the usual ones are shown. ${messageOf(err)}`),
    );
  }, [api, base]);

  const toggle = (id: string, on: boolean) => setChosen((c) => (on ? [...c, id] : c.filter((x) => x !== id)));
  const act = (work: () => Promise<void>) => {
    setNote(null);
    return action.run(work);
  };

  /** Caught here so the sentence names the fields as the form does; the API checks the same. */
  const customDatesError = () =>
    preset !== "CUSTOM"
      ? null
      : !from || !to
        ? "Choose both dates of the custom window."
        : from > to
          ? "The start date must not be after the end date."
          : null;

  const requestPack = () =>
    act(async () => {
      const invalid = customDatesError();
      if (invalid) throw new ApiError(invalid, 400, "VALIDATION_FAILED");
      const window = preset === "CUSTOM" ? { preset, from, to } : { preset };
      const pack = await api.send<Pack>("POST", `${base}/sessions/${sessionId}/packs`, {
        window,
        campaignIds: chosen,
        campaignCap: cap,
      });
      if (pack.status === "COMPLETE") setNote("This scope already has a complete pack; it is shown below.");
      onPack(pack);
    });

  const saveDefaults = () =>
    act(async () => {
      const invalid = customDatesError();
      if (invalid) throw new ApiError(invalid, 400, "VALIDATION_FAILED");
      await api.send("PUT", `${base}/preferences`, {
        windowPreset: preset,
        ...(preset === "CUSTOM" ? { customFrom: from, customTo: to } : {}),
        campaignCap: cap,
      });
      setNote("Saved as your defaults in this workspace.");
    });

  const overCap = chosen.length >= cap;
  return (
    <form
      class="scope"
      aria-label="Scope of a new pack"
      onSubmit={(e) => {
        e.preventDefault();
        void requestPack();
      }}
    >
      <fieldset>
        <legend>Time window</legend>
        <div class="presets">
          {WINDOW_PRESETS.map((p) => (
            <label key={p} class="choice">
              <input type="radio" name="preset" value={p} checked={preset === p} onChange={() => setPreset(p)} />
              {PRESET_LABELS[p]}
            </label>
          ))}
        </div>
        {preset === "CUSTOM" && (
          <div class="dates">
            <label>
              From <input type="date" value={from} required onInput={(e) => setFrom(e.currentTarget.value)} />
            </label>
            <label>
              To <input type="date" value={to} required onInput={(e) => setTo(e.currentTarget.value)} />
            </label>
          </div>
        )}
      </fieldset>
      <fieldset>
        <legend>Campaigns</legend>
        <label class="cap">
          At most <input type="number" min={1} max={50} value={cap} onInput={(e) => setCap(Number(e.currentTarget.value) || 1)} /> campaigns
        </label>
        {campaigns === null ? (
          <p class="muted">All campaigns.</p>
        ) : campaigns.length === 0 ? (
          <p class="muted">This workspace has no campaigns yet.</p>
        ) : (
          <div class="campaigns">
            <p class="muted">{chosen.length === 0 ? "None chosen: all campaigns." : `${chosen.length} of ${cap} chosen.`}</p>
            {campaigns.map((c) => {
              const on = chosen.includes(c.id);
              return (
                <label key={c.id} class="choice">
                  <input type="checkbox" checked={on} disabled={!on && overCap} onChange={(e) => toggle(c.id, e.currentTarget.checked)} />
                  {c.name}
                </label>
              );
            })}
          </div>
        )}
      </fieldset>
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          Build pack
        </button>
        <button type="button" class="quiet" disabled={action.busy} onClick={saveDefaults}>
          Save as my defaults
        </button>
      </div>
      <ErrorNote message={loadError} onDismiss={() => setLoadError(null)} />
      <ErrorNote message={action.error} onDismiss={action.clearError} />
      {note && <InfoNote>{note}</InfoNote>}
    </form>
  );
}
