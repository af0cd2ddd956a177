// One lead's cached conversation insight, in a modal dialog (Escape closes it; focus returns to the page).
import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf, type Api } from "../api.ts";
import { OUTCOME_LABELS, formatDateTime, humanize } from "../format.ts";
import type { LeadInsight } from "../types.ts";
import { ErrorNote, InfoNote } from "./Notice.tsx";

interface Summary {
  summary?: string;
  sentiment?: string;
  keyFacts?: string[];
  objections?: string[];
  nextStep?: string | null;
}

export function LeadInsightDialog({
  api,
  workspaceBase,
  leadId,
  onClose,
}: {
  api: Api;
  workspaceBase: string;
  leadId: string;
  onClose: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [insight, setInsight] = useState<LeadInsight | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    dialog.current?.showModal();
    api
      .get<LeadInsight>(`${workspaceBase}/leads/${encodeURIComponent(leadId)}/insight`)
      .then(setInsight, (err) => setError(messageOf(err)));
  }, [api, workspaceBase, leadId]);

  const s = (insight?.summary ?? {}) as Summary;
  return (
    <dialog ref={dialog} class="lead-dialog" aria-labelledby="lead-title" onClose={onClose}>
      <h3 id="lead-title">Lead {leadId}</h3>
      <ErrorNote message={error} />
      {!insight && !error && <p class="muted">Loading…</p>}
      {insight && (
        <>
          <p>
            <span class="badge">{OUTCOME_LABELS[insight.outcome] ?? humanize(insight.outcome)}</span>
            {s.sentiment && <span class="badge quiet">{s.sentiment}</span>}
          </p>
          {insight.stale && <InfoNote tone="warn">The conversation changed since this summary was written.</InfoNote>}
          {s.summary && <p>{s.summary}</p>}
          <List title="Key facts" items={s.keyFacts} />
          <List title="Objections" items={s.objections} />
          {s.nextStep && (
            <p>
              <strong>Next step:</strong> {s.nextStep}
            </p>
          )}
          <p class="muted small">
            Summarized by {insight.provider} · {insight.model} · {formatDateTime(insight.updatedAt)}
          </p>
        </>
      )}
      <form method="dialog">
        {/* biome-ignore lint/a11y/noAutofocus: the dialog the person just opened takes the focus, so Escape and Enter close it */}
        <button type="submit" autoFocus>
          Close
        </button>
      </form>
    </dialog>
  );
}

function List({ title, items }: { title: string; items: string[] | undefined }) {
  if (!items?.length) return null;
  return (
    <>
      <h4>{title}</h4>
      <ul>
        {items.map((item, i) => (
          <li key={i}>{item}</li>
        ))}
      </ul>
    </>
  );
}
