// The worker's small HTTP server on METRICS_PORT: GET /metrics (Prometheus text), /healthz (the process is up) and
// /readyz (PostgreSQL and Redis answer). A worker has no other port, so this is what probes and Prometheus reach.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@insights/shared/logger";
import { checkReadiness, type ReadinessCheck } from "@insights/shared/readiness";
import { bearerTokenIn, sameSecret } from "@insights/shared/secrets";
import type { Registry } from "prom-client";

export interface MetricsServerOptions {
  port: number;
  /** Default: every interface, so Prometheus on another host can scrape it. */
  host?: string;
  registry: Registry;
  readiness: Record<string, ReadinessCheck>;
  /** When set, /metrics requires `Authorization: Bearer <token>` (as on the API); probes stay open. */
  token?: string | undefined;
  logger: Logger;
  checkTimeoutMs?: number;
}

export interface MetricsServer {
  /** The port it listens on (the real one when asked for port 0). */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      options.logger.error({ err }, "metrics server request failed");
      if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ error: { code: "INTERNAL", message: "internal error" } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(options: MetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, 405, "VALIDATION_FAILED", "only GET is served here");
  if (path === "/healthz") return send(res, 200, "application/json", JSON.stringify({ status: "ok" }));
  if (path === "/readyz") {
    const { ready, body } = await checkReadiness(options.readiness, options.checkTimeoutMs);
    return send(res, ready ? 200 : 503, "application/json", JSON.stringify(body));
  }
  if (path === "/metrics") {
    if (options.token && !sameSecret(bearerTokenIn(req.headers.authorization) ?? "", options.token)) {
      return sendError(res, 401, "UNAUTHENTICATED", "send Authorization: Bearer <METRICS_TOKEN>");
    }
    return send(res, 200, options.registry.contentType, await options.registry.metrics());
  }
  return sendError(res, 404, "NOT_FOUND", `no route for ${req.method} ${path}; try /metrics, /healthz or /readyz`);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, "application/json", JSON.stringify({ error: { code, message } }));
}
