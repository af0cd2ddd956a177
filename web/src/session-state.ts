// What one open session shows, folded from feed events and from the answers to our own requests.
import type { FeedEvent } from "./feed.ts";
import type { Message, Pack, Session } from "./types.ts";

export interface Stream {
  attempt: number;
  text: string;
}

export interface SessionState {
  session: Session | null;
  packs: Pack[];
  messages: Message[];
  /** Pieces of PENDING replies as the model writes them, by message id. */
  streams: Record<string, Stream>;
}

type SessionAction =
  | FeedEvent
  /** An answer to our own request: added only if the feed has not brought a newer copy already. */
  | { type: "ownMessage"; message: Message }
  | { type: "ownPack"; pack: Pack };

export const emptySession: SessionState = { session: null, packs: [], messages: [], streams: {} };

const byCreated = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

function upsert<T extends { id: string; createdAt: string }>(list: T[], item: T, replace: boolean): T[] {
  const at = list.findIndex((x) => x.id === item.id);
  if (at === -1) return [...list, item];
  if (!replace) return list;
  const next = list.slice();
  next[at] = item;
  return next;
}

function withoutStream(streams: Record<string, Stream>, id: string): Record<string, Stream> {
  if (!(id in streams)) return streams;
  const { [id]: _, ...rest } = streams;
  return rest;
}

export function sessionReducer(state: SessionState, action: SessionAction): SessionState {
  switch (action.type) {
    case "snapshot": {
      // Pieces already shown stay for replies still being written; the rest are final in the snapshot.
      const pending = new Set(action.messages.filter((m) => m.status === "PENDING").map((m) => m.id));
      const streams = Object.fromEntries(Object.entries(state.streams).filter(([id]) => pending.has(id)));
      return { session: action.session, packs: action.packs.slice(), messages: action.messages.slice().sort(byCreated), streams };
    }
    case "session":
      return { ...state, session: action.session };
    case "pack":
    case "ownPack":
      return { ...state, packs: upsert(state.packs, action.pack, action.type === "pack") };
    case "packDeleted":
      return { ...state, packs: state.packs.filter((p) => p.id !== action.id) };
    case "message":
    case "ownMessage": {
      const messages = upsert(state.messages, action.message, action.type === "message").sort(byCreated);
      const done = action.type === "message" && action.message.status !== "PENDING";
      return { ...state, messages, streams: done ? withoutStream(state.streams, action.message.id) : state.streams };
    }
    case "delta": {
      const reply = state.messages.find((m) => m.id === action.messageId);
      if (reply && reply.status !== "PENDING") return state;
      const current = state.streams[action.messageId];
      // A new attempt means the reply started over: its earlier pieces are dropped.
      if (current && action.attempt < current.attempt) return state;
      const text = current && current.attempt === action.attempt ? current.text + action.text : action.text;
      return { ...state, streams: { ...state.streams, [action.messageId]: { attempt: action.attempt, text } } };
    }
  }
}

/** Newest first, as the API lists them. */
export const packsNewestFirst = (packs: Pack[]): Pack[] => packs.slice().sort((a, b) => byCreated(b, a));
