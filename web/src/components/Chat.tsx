// The session's conversation: everyone's questions as they are asked, answers as they are written, the leads each
// answer drew on; and a composer whose text survives failures and reloads until the question is posted.
import { useEffect, useRef, useState } from "preact/hooks";
import type { Api } from "../api.ts";
import { formatDateTime } from "../format.ts";
import type { Stream } from "../session-state.ts";
import type { Me, Message, Pack, Session } from "../types.ts";
import { useAction } from "../use-action.ts";
import { LeadInsightDialog } from "./LeadInsight.tsx";
import { ErrorNote, InfoNote } from "./Notice.tsx";
import { RichText } from "./RichText.tsx";

interface Props {
  api: Api;
  base: string;
  me: Me | null;
  session: Session;
  messages: Message[];
  streams: Record<string, Stream>;
  pack: Pack | null;
  disabled: boolean;
  /** Loads the messages before the snapshot's; null when there are none to load. */
  onShowEarlier: (() => Promise<void>) | null;
  onPosted: (message: Message, reply: Message | null) => void;
}

export function Chat({ api, base, me, session, messages, streams, pack, disabled, onShowEarlier, onPosted }: Props) {
  const [lead, setLead] = useState<string | null>(null);
  const earlier = useAction();
  const end = useRef<HTMLDivElement>(null);
  const lastText =
    messages.map((m) => m.status).join() +
    Object.values(streams)
      .map((s) => s.text.length)
      .join();
  useEffect(() => end.current?.scrollIntoView({ block: "nearest" }), [messages.length, lastText]);

  return (
    <section class="chat" aria-label="Conversation">
      {onShowEarlier && (
        <button type="button" class="quiet earlier" disabled={earlier.busy} onClick={() => earlier.run(onShowEarlier)}>
          Show earlier messages
        </button>
      )}
      <ErrorNote message={earlier.error} onDismiss={earlier.clearError} />
      <ol class="messages" aria-live="polite" aria-relevant="additions">
        {messages.length === 0 && <li class="muted">No questions yet.</li>}
        {messages.map((m) => (
          <MessageItem key={m.id} message={m} stream={streams[m.id]} me={me} onLead={setLead} />
        ))}
      </ol>
      <div ref={end} />
      {!disabled && <Composer api={api} base={base} session={session} pack={pack} onPosted={onPosted} />}
      {lead && <LeadInsightDialog api={api} workspaceBase={base.replace(/\/insights$/, "")} leadId={lead} onClose={() => setLead(null)} />}
    </section>
  );
}

function MessageItem({
  message: m,
  stream,
  me,
  onLead,
}: {
  message: Message;
  stream: Stream | undefined;
  me: Me | null;
  onLead: (id: string) => void;
}) {
  if (m.role === "SYSTEM") return <li class="message system">{m.content}</li>;
  const mine = m.role === "USER" && me !== null && m.author?.id === me.user.id;
  const who = m.role === "ASSISTANT" ? "Assistant" : mine ? "You" : (m.author?.name ?? m.author?.email ?? "A member");
  const writing = m.role === "ASSISTANT" && m.status === "PENDING";
  return (
    <li class={`message ${m.role.toLowerCase()} ${mine ? "mine" : ""} status-${m.status.toLowerCase()}`} data-message-id={m.id}>
      <p class="meta">
        <strong>{who}</strong> <time dateTime={m.createdAt}>{formatDateTime(m.createdAt)}</time>
      </p>
      {writing ? (
        <div class="body streaming" aria-busy="true">
          {stream?.text ? <RichText text={stream.text} /> : <p class="muted">Thinking…</p>}
          <span class="cursor" aria-hidden="true" />
        </div>
      ) : m.status === "FAILED" ? (
        <p class="body failed">This answer could not be written{m.error ? `: ${m.error}` : "."}</p>
      ) : (
        <div class="body">
          <RichText text={m.content} />
        </div>
      )}
      {m.citedLeadIds.length > 0 && (
        <div class="cited">
          <span>Drawn from</span>
          <ul>
            {m.citedLeadIds.map((id) => (
              <li key={id}>
                <button type="button" class="chip" onClick={() => onLead(id)}>
                  Lead {id}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </li>
  );
}

function Composer({
  api,
  base,
  session,
  pack,
  onPosted,
}: {
  api: Api;
  base: string;
  session: Session;
  pack: Pack | null;
  onPosted: Props["onPosted"];
}) {
  const draftKey = `insights.draft:${session.id}`;
  const [text, setText] = useState(() => sessionStorage.getItem(draftKey) ?? "");
  const action = useAction();
  const edit = (value: string) => {
    setText(value);
    if (value) sessionStorage.setItem(draftKey, value);
    else sessionStorage.removeItem(draftKey);
  };
  const send = async () => {
    const content = text.trim();
    if (!content || action.busy) return;
    // On failure the text stays in the box (and in this tab's storage): nothing typed is lost.
    await action.run(async () => {
      const posted = await api.send<{ message: Message; reply: Message | null }>("POST", `${base}/sessions/${session.id}/messages`, {
        content,
        ...(pack?.status === "COMPLETE" ? { packId: pack.id } : {}),
      });
      edit("");
      onPosted(posted.message, posted.reply);
    });
  };
  const answerable = pack?.status === "COMPLETE";
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      {!answerable && <InfoNote>Answers come from a complete pack: build one to get replies to your questions.</InfoNote>}
      <label for="question">Ask a question</label>
      <textarea
        id="question"
        rows={3}
        maxLength={8000}
        value={text}
        placeholder="What are the most common objections?"
        onInput={(e) => edit(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <div class="actions">
        <span class="muted hint">Enter sends; Shift+Enter starts a new line.</span>
        <button type="submit" disabled={action.busy || !text.trim()}>
          {action.busy ? "Sending…" : "Send"}
        </button>
      </div>
      <ErrorNote message={action.error} onDismiss={action.clearError} />
    </form>
  );
}
