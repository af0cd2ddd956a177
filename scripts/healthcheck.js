// The image's healthcheck: `node scripts/healthcheck.js api|worker` exits 0 when this container's process answers
// 200 on /readyz (PostgreSQL and Redis reachable from it), else 1. Plain JavaScript, so a probe every few seconds
// costs one short node start and no TypeScript loader; the image has no curl.
const role = process.argv[2] ?? "api";
const port = role === "worker" ? (process.env.METRICS_PORT ?? "9464") : (process.env.PORT ?? "3000");
const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2500) }).catch(() => null);
process.exit(res?.ok ? 0 : 1);
