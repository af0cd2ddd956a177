// /readyz on the API and on the worker's metrics port: every named dependency must answer in time.
import { z } from "zod";
import { withTimeout } from "./timeout.ts";

/** Resolves when the dependency answers; rejects (or times out) when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

export const readinessBody = z.object({
  status: z.enum(["ready", "unavailable"]),
  checks: z.record(z.string(), z.enum(["ok", "down"])),
});

/** Runs every check at once; each gets `timeoutMs` to answer. */
export async function checkReadiness(
  checks: Record<string, ReadinessCheck>,
  timeoutMs = 2000,
): Promise<{ ready: boolean; body: z.infer<typeof readinessBody> }> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const ok = await withTimeout(check(), timeoutMs).then(
        () => true,
        () => false,
      );
      return [name, ok] as const;
    }),
  );
  const ready = results.every(([, ok]) => ok);
  const body = {
    status: ready ? ("ready" as const) : ("unavailable" as const),
    checks: Object.fromEntries(results.map(([name, ok]) => [name, ok ? ("ok" as const) : ("down" as const)])),
  };
  return { ready, body };
}
