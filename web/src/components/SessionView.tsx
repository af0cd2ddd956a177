// One open session, followed live: its title and admin actions, its packs (scope, progress, synthesis, charts) and
// its conversation.
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import type { Api, ApiError } from "../api.ts";
import { allMessages, openFeed, type Feed, type FeedStatus } from "../feed.ts";
import { emptySession, packsNewestFirst, sessionReducer } from "../session-state.ts";
import type { Campaign, Me, Pack, Session } from "../types.ts";
import { useAction } from "../use-action.ts";
import { Chat } from "./Chat.tsx";
import { ConfirmButton } from "./ConfirmButton.tsx";
import { ErrorNote, InfoNote } from "./Notice.tsx";
import { PackPanel } from "./PackPanel.tsx";
import { ScopePicker } from "./ScopePicker.tsx";

interface Props {
  api: Api;
  base: string;
  me: Me | null;
  admin: boolean;
  sessionId: string;
  campaigns: Campaign[] | null;
  onSessionChange: (session: Session) => void;
}

/** A snapshot carries the last 50 messages; a longer chat offers the rest on demand. */
const SNAPSHOT_MESSAGES = 50;

const STATUS_TEXT: Record<FeedStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  polling: "Updating every few seconds",
  lost: "Connection lost. Reconnecting…",
};

export function SessionView({ api, base, me, admin, sessionId, campaigns, onSessionChange }: Props) {
  const [state, dispatch] = useReducer(sessionReducer, emptySession);
  const [status, setStatus] = useState<FeedStatus>("connecting");
  const [fatal, setFatal] = useState<string | null>(null);
  const [selectedPackId, setSelectedPackId] = useState<string | null>(null);
  const [earlierShown, setEarlierShown] = useState(false);
  const feed = useRef<Feed | null>(null);

  useEffect(() => {
    const onFatal = (err: ApiError) =>
      setFatal(err.status === 404 ? "This session is no longer available: an admin may have deleted it." : err.message);
    const f = openFeed({ api, base, sessionId, onEvent: dispatch, onStatus: setStatus, onFatal });
    feed.current = f;
    return () => f.close();
  }, [api, base, sessionId]);

  const session = state.session;
  useEffect(() => {
    if (session) onSessionChange(session);
  }, [session]);

  if (fatal) return <ErrorNote message={fatal} />;
  if (!session) return <p class="muted">{status === "lost" ? STATUS_TEXT.lost : "Opening the session…"}</p>;

  const packs = packsNewestFirst(state.packs);
  const pack = packs.find((p) => p.id === selectedPackId) ?? packs[0] ?? null;
  const campaignName = (id: string) => campaigns?.find((c) => c.id === id)?.name ?? id;
  const deleted = Boolean(session.deletedAt);
  const packAdded = (p: Pack) => {
    dispatch({ type: "ownPack", pack: p });
    setSelectedPackId(p.id);
    feed.current?.refresh();
  };

  return (
    <article class="session" aria-label={`Session ${session.title}`}>
      <SessionHeader api={api} base={base} admin={admin} session={session} onChange={(s) => dispatch({ type: "session", session: s })} />
      <p class={`connection ${status}`} role="status" aria-live="polite">
        {STATUS_TEXT[status]}
      </p>
      {deleted && <InfoNote tone="warn">This session was deleted{admin ? "; restore it to work in it again." : " by an admin."}</InfoNote>}
      <div class="session-body">
        <section class="packs" aria-label="Context packs">
          {!deleted && <ScopePicker api={api} base={base} sessionId={sessionId} campaigns={campaigns} onPack={packAdded} />}
          <PackPanel
            api={api}
            base={base}
            admin={admin && !deleted}
            packs={packs}
            pack={pack}
            campaignName={campaignName}
            onSelect={setSelectedPackId}
            onPackChanged={(p) => dispatch({ type: "pack", pack: p })}
            onPackDeleted={(id) => dispatch({ type: "packDeleted", id })}
          />
        </section>
        <Chat
          api={api}
          base={base}
          me={me}
          session={session}
          messages={state.messages}
          streams={state.streams}
          pack={pack}
          disabled={deleted}
          onShowEarlier={
            earlierShown || state.messages.length < SNAPSHOT_MESSAGES
              ? null
              : async () => {
                  for (const message of await allMessages(api, `${base}/sessions/${sessionId}`)) dispatch({ type: "ownMessage", message });
                  setEarlierShown(true);
                }
          }
          onPosted={(message, reply) => {
            dispatch({ type: "ownMessage", message });
            if (reply) dispatch({ type: "ownMessage", message: reply });
            feed.current?.refresh();
          }}
        />
      </div>
    </article>
  );
}

function SessionHeader(props: { api: Api; base: string; admin: boolean; session: Session; onChange: (s: Session) => void }) {
  const { api, base, admin, session, onChange } = props;
  const path = `${base}/sessions/${session.id}`;
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(session.title);
  const action = useAction();
  const change = (request: () => Promise<Session>) =>
    action.run(async () => {
      onChange(await request());
      setEditing(false);
    });

  return (
    <header class="session-header">
      {editing ? (
        <form
          class="rename"
          onSubmit={(e) => {
            e.preventDefault();
            void change(() => api.send<Session>("PATCH", path, { title: title.trim() }));
          }}
        >
          <label for="session-title" class="visually-hidden">
            Session title
          </label>
          <input
            id="session-title"
            value={title}
            maxLength={200}
            // biome-ignore lint/a11y/noAutofocus: the title field appears because the person asked to rename the session
            autoFocus
            onInput={(e) => setTitle(e.currentTarget.value)}
            onKeyDown={(e) => e.key === "Escape" && setEditing(false)}
          />
          <button type="submit" disabled={action.busy}>
            Save
          </button>
          <button type="button" class="quiet" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <h2>{session.title}</h2>
          {!session.deletedAt && (
            <button
              type="button"
              class="quiet"
              onClick={() => {
                setTitle(session.title);
                setEditing(true);
              }}
            >
              Rename
            </button>
          )}
        </>
      )}
      {admin && session.deletedAt && (
        <button type="button" disabled={action.busy} onClick={() => change(() => api.send<Session>("POST", `${path}/restore`))}>
          Restore session
        </button>
      )}
      {admin && !session.deletedAt && (
        <ConfirmButton
          label="Delete session"
          question="Delete this session for everyone? Its running work stops."
          disabled={action.busy}
          onConfirm={() => change(() => api.send<Session>("DELETE", path))}
        />
      )}
      <ErrorNote message={action.error} onDismiss={action.clearError} />
    </header>
  );
}
