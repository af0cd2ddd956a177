// One workspace: its sessions (and, for admins, the deleted ones and the audit log) beside the open session.
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, messageOf, type Api } from "../api.ts";
import { formatDateTime } from "../format.ts";
import { isAdminRole, type Campaign, type Me, type Session, type Workspace } from "../types.ts";
import { useAction } from "../use-action.ts";
import { AuditLog } from "./AuditLog.tsx";
import { ErrorNote } from "./Notice.tsx";
import { SessionView } from "./SessionView.tsx";

const SESSIONS_REFRESH_MS = 30_000;

interface Props {
  api: Api;
  me: Me | null;
  workspace: Workspace;
}

export function WorkspaceView({ api, me, workspace }: Props) {
  const base = `/v1/workspaces/${encodeURIComponent(workspace.id)}/insights`;
  const admin = isAdminRole(workspace.role);
  const selectedKey = `insights.session:${workspace.id}`;
  const [view, setView] = useState<"chat" | "audit">("chat");
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(sessionStorage.getItem(selectedKey));
  /** null: this service cannot list campaigns, so packs cover all of them. */
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);

  const loadSessions = useCallback(async () => {
    try {
      const query = new URLSearchParams({ limit: "200", ...(admin ? { includeDeleted: "true" } : {}) });
      const page = await api.get<{ sessions: Session[] }>(`${base}/sessions?${query}`);
      setSessions(page.sessions);
      setListError(null);
    } catch (err) {
      setListError(messageOf(err));
    }
  }, [api, base, admin]);

  useEffect(() => {
    void loadSessions();
    const timer = setInterval(loadSessions, SESSIONS_REFRESH_MS);
    addEventListener("focus", loadSessions);
    return () => {
      clearInterval(timer);
      removeEventListener("focus", loadSessions);
    };
  }, [loadSessions]);

  useEffect(() => {
    api.get<{ campaigns: Campaign[] }>(`/v1/workspaces/${encodeURIComponent(workspace.id)}/campaigns?limit=200`).then(
      (page) => setCampaigns(page.campaigns),
      (err) => {
        if (!(err instanceof ApiError && err.status === 404)) setListError(messageOf(err));
      },
    );
  }, [api, workspace.id]);

  const select = (id: string) => {
    sessionStorage.setItem(selectedKey, id);
    setSelectedId(id);
    setView("chat");
  };
  const changed = (session: Session) => setSessions((list) => (list ? list.map((s) => (s.id === session.id ? session : s)) : list));

  const live = sessions?.filter((s) => !s.deletedAt) ?? [];
  const deleted = sessions?.filter((s) => s.deletedAt) ?? [];
  const selected = sessions?.find((s) => s.id === selectedId) ?? null;

  return (
    <div class="layout">
      <nav class="sidebar" aria-label="Sessions">
        <NewSession
          api={api}
          base={base}
          onCreated={(s) => {
            setSessions((list) => [s, ...(list ?? [])]);
            select(s.id);
          }}
        />
        <ErrorNote message={listError} />
        <h2>Sessions</h2>
        {sessions === null && !listError && <p class="muted">Loading…</p>}
        {sessions && live.length === 0 && <p class="muted">No sessions yet: start one above.</p>}
        <SessionLinks sessions={live} selectedId={view === "chat" ? selectedId : null} onSelect={select} />
        {admin && deleted.length > 0 && (
          <>
            <h2>Deleted sessions</h2>
            <SessionLinks sessions={deleted} selectedId={view === "chat" ? selectedId : null} onSelect={select} />
          </>
        )}
        {admin && (
          <button type="button" class={`nav-button ${view === "audit" ? "current" : ""}`} onClick={() => setView("audit")}>
            Audit log
          </button>
        )}
      </nav>
      <main class="main">
        {view === "audit" && admin ? (
          <AuditLog api={api} base={base} />
        ) : selectedId && (selected || sessions === null) ? (
          <SessionView
            key={selectedId}
            api={api}
            base={base}
            me={me}
            admin={admin}
            sessionId={selectedId}
            campaigns={campaigns}
            onSessionChange={changed}
          />
        ) : (
          <p class="empty">Choose a session, or start a new one.</p>
        )}
      </main>
    </div>
  );
}

function SessionLinks(props: { sessions: Session[]; selectedId: string | null; onSelect: (id: string) => void }) {
  return (
    <ul class="session-list">
      {props.sessions.map((s) => (
        <li key={s.id}>
          <button
            type="button"
            class={s.id === props.selectedId ? "current" : ""}
            aria-current={s.id === props.selectedId ? "page" : undefined}
            onClick={() => props.onSelect(s.id)}
          >
            <span class="title">{s.title}</span>
            <span class="when">{s.deletedAt ? `deleted ${formatDateTime(s.deletedAt)}` : formatDateTime(s.createdAt)}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function NewSession({ api, base, onCreated }: { api: Api; base: string; onCreated: (s: Session) => void }) {
  const [title, setTitle] = useState("");
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const session = await api.send<Session>("POST", `${base}/sessions`, title.trim() ? { title: title.trim() } : {});
      setTitle("");
      onCreated(session);
    });
  };
  return (
    <form class="new-session" onSubmit={submit}>
      <label for="new-session-title">New session</label>
      <div class="row">
        <input
          id="new-session-title"
          placeholder="Title (optional)"
          value={title}
          maxLength={200}
          onInput={(e) => setTitle(e.currentTarget.value)}
        />
        <button type="submit" disabled={action.busy}>
          Start
        </button>
      </div>
      <ErrorNote message={action.error} />
    </form>
  );
}
