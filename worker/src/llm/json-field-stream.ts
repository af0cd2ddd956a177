// The model writes its answer as a JSON object ({"answer": "...", "citedLeadIds": [...], ...}); a member should
// see the answer's words as they are written, not when the object closes. This follows the JSON text chunk by
// chunk and hands on the decoded characters of one top-level string field as they arrive. It decodes escapes the
// way JSON.parse does, so the pieces concatenate to exactly the parsed field (the provider checks that anyway).

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

export class JsonFieldStream {
  private depth = 0;
  private inString = false;
  private escape = false;
  private unicode: string | null = null;
  /** At depth 1: true where a key is expected, false after its colon. */
  private expectingKey = false;
  private key = "";
  private lastKey = "";
  private capturing = false;
  /** A high surrogate waits for its pair, so no piece ends inside a character. */
  private heldSurrogate = "";

  constructor(
    private readonly field: string,
    private readonly onText: (text: string) => void,
  ) {}

  push(chunk: string): void {
    let out = "";
    for (const ch of chunk) {
      if (this.inString) {
        const decoded = this.readStringChar(ch);
        if (decoded === null) continue;
        if (this.expectingKey && this.depth === 1) this.key += decoded;
        else if (this.capturing) out += decoded;
        continue;
      }
      switch (ch) {
        case '"':
          this.inString = true;
          this.key = "";
          this.capturing = this.depth === 1 && !this.expectingKey && this.lastKey === this.field;
          break;
        case "{":
        case "[":
          this.depth++;
          if (this.depth === 1) this.expectingKey = ch === "{";
          break;
        case "}":
        case "]":
          this.depth--;
          break;
        case ":":
          if (this.depth === 1) this.expectingKey = false;
          break;
        case ",":
          if (this.depth === 1) {
            this.expectingKey = true;
            this.lastKey = "";
          }
          break;
      }
    }
    this.emit(out);
  }

  /** The decoded character, or null inside an escape sequence or at the closing quote. */
  private readStringChar(ch: string): string | null {
    if (this.unicode !== null) {
      this.unicode += ch;
      if (this.unicode.length < 4) return null;
      const decoded = String.fromCharCode(Number.parseInt(this.unicode, 16));
      this.unicode = null;
      return decoded;
    }
    if (this.escape) {
      this.escape = false;
      if (ch === "u") {
        this.unicode = "";
        return null;
      }
      return SIMPLE_ESCAPES[ch] ?? ch;
    }
    if (ch === "\\") {
      this.escape = true;
      return null;
    }
    if (ch === '"') {
      this.inString = false;
      if (this.expectingKey && this.depth === 1) this.lastKey = this.key;
      this.capturing = false;
      return null;
    }
    return ch;
  }

  private emit(text: string): void {
    let piece = this.heldSurrogate + text;
    this.heldSurrogate = "";
    const last = piece.charCodeAt(piece.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.heldSurrogate = piece.slice(-1);
      piece = piece.slice(0, -1);
    }
    if (piece) this.onText(piece);
  }
}
