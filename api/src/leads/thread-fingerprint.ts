import { createHash } from "node:crypto";

interface ThreadMessage {
  id: string;
  direction: string;
  body: string;
  sentAt: Date;
}

/**
 * sha256 of the thread in canonical order. Two pushes of the same thread, in any message order, give the same
 * fingerprint; any change to a message, its time or direction gives a new one, which invalidates the lead's cached
 * insight.
 */
export function fingerprintThread(messages: readonly ThreadMessage[]): string {
  const ordered = [...messages].sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime() || a.id.localeCompare(b.id));
  const hash = createHash("sha256");
  for (const m of ordered) {
    // JSON framing keeps field boundaries unambiguous whatever the body contains.
    hash.update(JSON.stringify([m.id, m.direction, m.sentAt.toISOString(), m.body]));
    hash.update("\n");
  }
  return hash.digest("hex");
}
