// The one rule both sides of retention follow: the API refuses to restore, and the worker purges, exactly the
// sessions deleted before this cutoff.
const DAY_MS = 24 * 3600_000;

/** Sessions soft-deleted before this instant are past their restore period. */
export function retentionCutoff(retentionDays: number, now = new Date()): Date {
  return new Date(now.getTime() - retentionDays * DAY_MS);
}

/** How long an `Idempotency-Key` replays its first answer: the API stops honouring it after this, the worker drops it. */
export const IDEMPOTENCY_KEY_TTL_MS = DAY_MS;
