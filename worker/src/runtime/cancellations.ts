// One AbortController per pack running in this process. Cancellation (from the API, through Redis) and shutdown
// both abort it; the reason tells the pipeline whether to give the job back (shutdown) or drop the work (cancel).
import { setMaxListeners } from "node:events";
export type StopReason = "cancelled" | "shutdown";

export class RunningPacks {
  private readonly running = new Map<string, AbortController>();
  private shuttingDown = false;

  start(packId: string): AbortController {
    const controller = new AbortController();
    // Every LLM call in flight (and every retry wait) listens on this one signal.
    setMaxListeners(0, controller.signal);
    if (this.shuttingDown) controller.abort("shutdown" satisfies StopReason);
    this.running.set(packId, controller);
    return controller;
  }

  finish(packId: string, controller: AbortController): void {
    if (this.running.get(packId) === controller) this.running.delete(packId);
  }

  cancel(packId: string): void {
    this.running.get(packId)?.abort("cancelled" satisfies StopReason);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const controller of this.running.values()) controller.abort("shutdown" satisfies StopReason);
  }
}

export const stopReasonOf = (signal: AbortSignal): StopReason | null =>
  signal.aborted ? (signal.reason === "shutdown" ? "shutdown" : "cancelled") : null;

/** Thrown by a handler to hand its job back to the queue untouched (at shutdown); not a failure. */
export class ReleaseJob extends Error {}
