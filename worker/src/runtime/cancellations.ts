// One AbortController per pack job or chunk job running in this process (one pack may have several here). Cancellation (from the API, through Redis) and shutdown
// both abort it; the reason tells the pipeline whether to give the job back (shutdown) or drop the work (cancel).
import { setMaxListeners } from "node:events";
export type StopReason = "cancelled" | "shutdown";

export class RunningPacks {
  private readonly running = new Map<string, Set<AbortController>>();
  private shuttingDown = false;

  start(packId: string): AbortController {
    const controller = new AbortController();
    // Every LLM call in flight (and every retry wait) listens on this one signal.
    setMaxListeners(0, controller.signal);
    if (this.shuttingDown) controller.abort("shutdown" satisfies StopReason);
    const controllers = this.running.get(packId) ?? new Set();
    controllers.add(controller);
    this.running.set(packId, controllers);
    return controller;
  }

  finish(packId: string, controller: AbortController): void {
    const controllers = this.running.get(packId);
    controllers?.delete(controller);
    if (controllers?.size === 0) this.running.delete(packId);
  }

  cancel(packId: string): void {
    for (const controller of this.running.get(packId) ?? []) controller.abort("cancelled" satisfies StopReason);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const controllers of this.running.values()) {
      for (const controller of controllers) controller.abort("shutdown" satisfies StopReason);
    }
  }
}

export const stopReasonOf = (signal: AbortSignal): StopReason | null =>
  signal.aborted ? (signal.reason === "shutdown" ? "shutdown" : "cancelled") : null;

/** Thrown by a handler to hand its job back to the queue untouched (at shutdown); not a failure. */
export class ReleaseJob extends Error {}
