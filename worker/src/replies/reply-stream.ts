// Publishes a reply's answer to its session's live log as the model writes it (`message.delta`). Pieces that
// arrive while a publish is in flight are sent together in the next one, so a fast model costs fewer events, not
// a growing queue, and the first piece goes out at once. Each try of the answer (a retry after a model error, or
// another worker taking over after a crash) gets the next `attempt` number from the log, so numbers keep rising
// across processes. Publishing never fails the answer: a lost piece is repaired by the final message.
import type { SessionEventLog } from "@insights/shared/live/session-events";
import type { Logger } from "@insights/shared/logger";
import type { AnswerStream } from "../llm/provider.ts";

export class ReplyStream implements AnswerStream {
  private attempt = 0;
  /** Bumped by every begin(): a publish scheduled for an earlier try does nothing. */
  private epoch = 0;
  private pending = "";
  private scheduled = false;
  private sent = "";
  private chain: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(
    private readonly log: SessionEventLog,
    private readonly reply: { id: string; sessionId: string },
    private readonly logger: Logger,
  ) {}

  begin(): void {
    this.epoch++;
    this.pending = "";
    this.sent = "";
    this.scheduled = false;
    this.enqueue(async () => {
      this.attempt = await this.log.nextAttempt(this.reply.sessionId, this.reply.id);
    });
  }

  text(piece: string): void {
    if (!piece) return;
    if (this.epoch === 0) this.begin();
    this.pending += piece;
    this.sent += piece;
    if (this.scheduled) return;
    this.scheduled = true;
    const epoch = this.epoch;
    this.enqueue(async () => {
      if (epoch !== this.epoch) return;
      this.scheduled = false;
      const text = this.pending;
      this.pending = "";
      if (text) await this.log.append(this.reply.sessionId, "message.delta", { messageId: this.reply.id, attempt: this.attempt, text });
    });
  }

  /**
   * Waits for every piece to be published. Should the pieces of the last try differ from the stored answer (a
   * provider that streamed something else), the answer is sent again whole, as a new try: what a member saw
   * streaming always ends as what is stored.
   */
  async finish(finalText: string): Promise<void> {
    if (this.sent !== finalText) {
      this.begin();
      this.text(finalText);
    }
    await this.chain;
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      if (this.warned) return;
      this.warned = true;
      this.logger.warn(
        { err: (err as Error).message, messageId: this.reply.id },
        "live answer pieces not published; the final message carries the answer",
      );
    });
  }
}
