// Admins: the workspace's append-only audit log, filtered by action, session or pack, newest first, page by page.
import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api.ts";
import { formatDateTime, humanize } from "../format.ts";
import { AUDIT_ACTIONS, type AuditEvent } from "../types.ts";
import { useAction } from "../use-action.ts";
import { ErrorNote } from "./Notice.tsx";

interface Filters {
  action: string;
  sessionId: string;
  packId: string;
}

const NO_FILTERS: Filters = { action: "", sessionId: "", packId: "" };

export function AuditLog({ api, base }: { api: Api; base: string }) {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const action = useAction();

  const load = (f: Filters, after: string | null) =>
    action.run(async () => {
      const query = new URLSearchParams({ limit: "50" });
      for (const [key, value] of Object.entries(f)) if (value.trim()) query.set(key, value.trim());
      if (after) query.set("cursor", after);
      const page = await api.get<{ events: AuditEvent[]; nextCursor: string | null }>(`${base}/audit-events?${query}`);
      setEvents((current) => (after ? [...(current ?? []), ...page.events] : page.events));
      setCursor(page.nextCursor);
    });

  useEffect(() => void load(filters, null), [filters]);
  const set = (key: keyof Filters) => (e: Event) => setDraft({ ...draft, [key]: (e.currentTarget as HTMLInputElement).value });

  return (
    <section class="audit" aria-label="Audit log">
      <h2>Audit log</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft });
        }}
      >
        <label>
          Action
          <select value={draft.action} onChange={set("action")}>
            <option value="">Any action</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {humanize(a)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Session id
          <input value={draft.sessionId} onInput={set("sessionId")} autocomplete="off" />
        </label>
        <label>
          Pack id
          <input value={draft.packId} onInput={set("packId")} autocomplete="off" />
        </label>
        <button type="submit" disabled={action.busy}>
          Filter
        </button>
        <button
          type="button"
          class="quiet"
          onClick={() => {
            setDraft(NO_FILTERS);
            setFilters(NO_FILTERS);
          }}
        >
          Clear
        </button>
      </form>
      <ErrorNote message={action.error} />
      {events && events.length === 0 && <p class="muted">No events match these filters.</p>}
      {events && events.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Who</th>
                <th scope="col">Session</th>
                <th scope="col">Pack</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td>{formatDateTime(e.createdAt)}</td>
                  <td>{humanize(e.action)}</td>
                  <td>{e.actor.type === "SYSTEM" ? "System" : (e.actor.name ?? e.actor.email ?? e.actor.id)}</td>
                  <td class="id">{e.sessionId ?? "—"}</td>
                  <td class="id">{e.packId ?? "—"}</td>
                  <td>{describe(e.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <button type="button" disabled={action.busy} onClick={() => load(filters, cursor)}>
          Show older events
        </button>
      )}
    </section>
  );
}

/** `{force: true, generation: 2}` → `force: yes · generation: 2`: details as words, not JSON. */
function describe(details: unknown): string {
  if (!details || typeof details !== "object") return details == null ? "" : String(details);
  return Object.entries(details as Record<string, unknown>)
    .map(([k, v]) => `${humanize(k.replace(/([a-z])([A-Z])/g, "$1_$2"))}: ${value(v)}`)
    .join(" · ");
}

function value(v: unknown): string {
  if (v === true) return "yes";
  if (v === false) return "no";
  if (v == null) return "none";
  if (Array.isArray(v)) return v.map(value).join(", ");
  if (typeof v === "object") return describe(v);
  return String(v);
}
