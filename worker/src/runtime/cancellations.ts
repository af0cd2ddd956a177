// How a job's work stops early. BullMQ's signal for the job aborts on cancellation (a message from the API, through
// Redis) and on shutdown; the reason tells the handler whether to give the job back (shutdown) or drop the work.
import { setMaxListeners } from "node:events";

export type StopReason = "cancelled" | "shutdown";

export const stopReasonOf = (signal: AbortSignal): StopReason | null =>
  signal.aborted ? (signal.reason === "shutdown" ? "shutdown" : "cancelled") : null;

/** Thrown by a handler to hand its job back to the queue untouched (at shutdown); not a failure. */
export class ReleaseJob extends Error {}

/**
 * A controller that aborts with `signal` (and its reason), and that the work can also abort itself. `release` stops
 * following: call it when the work is over, so a long-lived signal does not keep the controller.
 */
export function followSignal(signal: AbortSignal): { controller: AbortController; release: () => void } {
  const controller = new AbortController();
  // Every LLM call in flight (and every retry wait) listens on this one signal.
  setMaxListeners(0, controller.signal);
  const follow = () => controller.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener("abort", follow, { once: true });
  return { controller, release: () => signal.removeEventListener("abort", follow) };
}
