// Signed in: who am I (`GET /v1/me`), which workspace, and the header around the workspace's views.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, createApi, messageOf, type Api } from "../api.ts";
import type { Me, Role, Workspace } from "../types.ts";
import { useAction } from "../use-action.ts";
import { ErrorNote, InfoNote } from "./Notice.tsx";
import { WorkspaceView } from "./WorkspaceView.tsx";

const WORKSPACE_KEY = "insights.workspace";
const TYPED_KEY = "insights.typedWorkspaces";

interface Props {
  token: string;
  onSignOut: (reason: string | null) => void;
}

export function Shell({ token, onSignOut }: Props) {
  const api = useMemo(() => createApi(token, (message) => onSignOut(message)), [token]);
  const [me, setMe] = useState<Me | null>(null);
  /** The service has no `GET /v1/me`: workspaces are typed in by id. */
  const [noMe, setNoMe] = useState(false);
  const [workspaces, setWorkspaces] = useState<Workspace[] | null>(null);
  const [workspaceId, setWorkspaceId] = useState<string | null>(sessionStorage.getItem(WORKSPACE_KEY));
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let gone = false;
    setError(null);
    api.get<Me>("/v1/me").then(
      (who) => {
        if (gone) return;
        setMe(who);
        setWorkspaces(who.workspaces.map((w) => ({ id: w.id, name: w.name, role: w.role })));
      },
      (err) => {
        if (gone) return;
        if (err instanceof ApiError && err.status === 404) {
          setNoMe(true);
          setWorkspaces(JSON.parse(sessionStorage.getItem(TYPED_KEY) ?? "[]") as Workspace[]);
        } else {
          setError(messageOf(err));
        }
      },
    );
    return () => {
      gone = true;
    };
  }, [api, attempt]);

  const current = workspaces?.find((w) => w.id === workspaceId) ?? (workspaces?.length === 1 ? workspaces[0] : undefined);
  const choose = (id: string) => {
    sessionStorage.setItem(WORKSPACE_KEY, id);
    setWorkspaceId(id);
  };
  const addTyped = (w: Workspace) => {
    const next = [...(workspaces ?? []).filter((x) => x.id !== w.id), w];
    sessionStorage.setItem(TYPED_KEY, JSON.stringify(next));
    setWorkspaces(next);
    choose(w.id);
  };

  return (
    <div class="shell">
      <header class="top">
        <h1>Insights chat</h1>
        {workspaces && workspaces.length > 0 && (
          <label class="workspace-pick">
            <span class="visually-hidden">Workspace</span>
            <select value={current?.id ?? ""} onChange={(e) => choose(e.currentTarget.value)} aria-label="Workspace">
              {!current && <option value="">Choose a workspace</option>}
              {workspaces.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                  {w.role ? ` (${w.role.toLowerCase()})` : ""}
                </option>
              ))}
            </select>
          </label>
        )}
        <span class="who">{me ? (me.user.name ?? me.user.email) : ""}</span>
        <button type="button" class="quiet" onClick={() => onSignOut(null)}>
          Sign out
        </button>
      </header>
      {error && (
        <div class="page-message">
          <ErrorNote message={error} />
          <button type="button" onClick={() => setAttempt((n) => n + 1)}>
            Try again
          </button>
        </div>
      )}
      {!error && workspaces === null && <p class="page-message">Loading your workspaces…</p>}
      {noMe &&
        (current ? (
          <details class="typed-more">
            <summary>Open another workspace</summary>
            <TypedWorkspace api={api} onAdd={addTyped} />
          </details>
        ) : (
          <TypedWorkspace api={api} onAdd={addTyped} />
        ))}
      {workspaces && workspaces.length === 0 && !noMe && (
        <InfoNote>You are not a member of any workspace yet. Ask your host application's admin to add you.</InfoNote>
      )}
      {current && <WorkspaceView key={current.id} api={api} me={me} workspace={current} />}
    </div>
  );
}

/** Without `GET /v1/me` the client cannot list workspaces: a person types the id, and the API says if it is theirs. */
function TypedWorkspace({ api, onAdd }: { api: Api; onAdd: (w: Workspace) => void }) {
  const [id, setId] = useState("");
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const wsId = id.trim();
    if (!wsId) return;
    void action.run(async () => {
      const base = `/v1/workspaces/${encodeURIComponent(wsId)}/insights`;
      await api.get(`${base}/sessions?limit=1`).catch((err) => {
        throw err instanceof ApiError && err.status === 404
          ? new ApiError("No workspace with that id has you as a member.", 404, err.code)
          : err;
      });
      // Admins may read the audit log; members get 403: that is the role this client needs to know.
      const role: Role = await api.get(`${base}/audit-events?limit=1`).then(
        () => "ADMIN" as const,
        (err) => {
          if (err instanceof ApiError && err.status === 403) return "MEMBER" as const;
          throw err;
        },
      );
      onAdd({ id: wsId, name: wsId, role });
      setId("");
    });
  };
  return (
    <form class="typed-workspace" onSubmit={submit}>
      <p>This service cannot list your workspaces. Enter a workspace id to open it.</p>
      <label for="workspace-id">Workspace id</label>
      <input id="workspace-id" value={id} onInput={(e) => setId(e.currentTarget.value)} autocomplete="off" />
      <button type="submit" disabled={action.busy || !id.trim()}>
        Open
      </button>
      <ErrorNote message={action.error} />
    </form>
  );
}
