// Reads a Server-Sent Events body (as `fetch` returns it) into events: what the demo follows a session with, and
// what the tests read streams with. Comment lines (`: keep-alive`, `: closing: <reason>`) go to `onComment`.

export interface ServerSentEvent {
  id: string;
  event: string;
  /** The `data:` lines, joined. */
  data: string;
}

export async function* readServerSentEvents(
  body: AsyncIterable<Uint8Array>,
  onComment: (text: string) => void = () => undefined,
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseFrame(buffer.slice(0, end), onComment);
      buffer = buffer.slice(end + 2);
      if (event) yield event;
    }
  }
}

function parseFrame(frame: string, onComment: (text: string) => void): ServerSentEvent | null {
  const fields: Record<string, string> = {};
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) {
      onComment(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    fields[name] = fields[name] === undefined ? value : `${fields[name]}\n${value}`;
  }
  return fields.data === undefined ? null : { id: fields.id ?? "", event: fields.event ?? "message", data: fields.data };
}
