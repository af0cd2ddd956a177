// Retrying transient LLM failures: 429 and 5xx answers, timeouts and dropped connections. The server's own
// retry-after (or retry-after-ms) wins over our backoff, up to a cap, so a rate-limited deployment slows down
// exactly as much as the provider asks. Every wait is abortable: cancelling a pack never waits out a backoff.
import { APIConnectionError, APIError, APIUserAbortError } from "openai";
import { abortableSleep } from "./rate-limit.ts";

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  baseDelayMs: number;
  /** Upper bound on any single wait, retry-after included. */
  maxDelayMs: number;
}

export class RetriesExhaustedError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message);
  }
}

export function isTransient(err: unknown): boolean {
  if (err instanceof APIUserAbortError) return false;
  if (err instanceof APIConnectionError) return true; // includes timeouts
  return err instanceof APIError && typeof err.status === "number" && (err.status === 429 || err.status >= 500);
}

/** How long the server asked us to wait, if it did. */
export function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof APIError) || !err.headers) return undefined;
  const ms = Number.parseFloat(err.headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const header = err.headers.get("retry-after");
  if (!header) return undefined;
  const seconds = Number.parseFloat(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function backoffMs(attempt: number, policy: RetryPolicy, err: unknown): number {
  const asked = retryAfterMs(err);
  // Full jitter keeps many workers that hit a limit together from retrying in lockstep.
  const computed = Math.random() * policy.baseDelayMs * 2 ** attempt;
  return Math.min(asked ?? computed, policy.maxDelayMs);
}

/** Told before each wait: the failure, which retry comes next (1 = the first), and how long it waits. */
export type OnRetry = (err: unknown, retry: number, delayMs: number) => void;

export async function withRetries<T>(call: () => Promise<T>, policy: RetryPolicy, signal: AbortSignal, onRetry?: OnRetry): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isTransient(err) || signal.aborted) throw err;
      if (attempt >= policy.maxRetries) {
        throw new RetriesExhaustedError(`${describeLlmError(err)} (gave up after ${attempt + 1} attempts)`, attempt + 1);
      }
      const delayMs = backoffMs(attempt, policy, err);
      onRetry?.(err, attempt + 1, delayMs);
      await abortableSleep(delayMs, signal);
    }
  }
}

export function describeLlmError(err: unknown): string {
  if (err instanceof APIConnectionError) return `the LLM server did not answer (${err.message})`;
  if (err instanceof APIError && err.status === 429) return "the LLM server rate-limited the request (429)";
  if (err instanceof APIError && typeof err.status === "number") {
    return `the LLM server answered ${err.status}: ${err.message.slice(0, 200)}`;
  }
  return err instanceof Error ? err.message : String(err);
}
