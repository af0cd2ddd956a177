import { z } from "zod";
import { defineRoute } from "../http/route.ts";

/** Resolves when the dependency answers; rejects (or times out) when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

const CHECK_TIMEOUT_MS = 2000;

const readiness = z.object({ status: z.enum(["ready", "unavailable"]), checks: z.record(z.string(), z.enum(["ok", "down"])) });

export const opsRoutes = [
  defineRoute({
    operationId: "health",
    method: "get",
    path: "/healthz",
    summary: "The process is up",
    tag: "operations",
    access: "public",
    responses: { 200: { description: "Up", body: z.object({ status: z.literal("ok") }) } },
    handle: () => ({ status: 200, body: { status: "ok" } }),
  }),
  defineRoute({
    operationId: "readiness",
    method: "get",
    path: "/readyz",
    summary: "PostgreSQL and Redis answer",
    tag: "operations",
    access: "public",
    responses: {
      200: { description: "Ready", body: readiness },
      503: { description: "Not ready: `checks` names the dependency that does not answer", body: readiness },
    },
    handle: async (_ctx, { readiness: checks }) => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check)] as const),
      );
      const ready = results.every(([, ok]) => ok);
      const checked = Object.fromEntries(results.map(([name, ok]) => [name, ok ? ("ok" as const) : ("down" as const)]));
      return ready
        ? { status: 200, body: { status: "ready", checks: checked } }
        : { status: 503, body: { status: "unavailable", checks: checked } };
    },
  }),
];

async function runCheck(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
