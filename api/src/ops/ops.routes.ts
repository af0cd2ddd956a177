import { z } from "zod";
import { checkReadiness, readinessBody as readiness } from "@insights/shared/readiness";
import { defineRoute } from "../http/route.ts";

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
      const { ready, body } = await checkReadiness(checks);
      return ready ? { status: 200, body } : { status: 503, body };
    },
  }),
];
