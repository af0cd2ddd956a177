// Serves the reference chat client at /app: web/ built by Vite into web/dist (`npm install` builds it). Like Bull
// Board it is a mount of its own (the page and its hashed assets), declared once as `GET /app`.
import { existsSync } from "node:fs";
import path from "node:path";
import express, { type RequestHandler } from "express";
import { defineRoute } from "../http/route.ts";

export const WEB_CLIENT_PATH = "/app";
const DIST = path.resolve(import.meta.dirname, "../../../web/dist");

/**
 * Only this origin's own files run, and the page talks only to this origin (the API). Scripts and styles are files
 * (the build inlines nothing); `data:` images only for the browser's own form controls.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  // The page's URL may carry a sign-in token in its fragment, and its requests an access token: never pass either on.
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
};

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Web client not built</title>
<p>The web client has not been built on this server. Run <code>npm install</code> (or <code>npm run build:web</code>)
in the repository, then reload this page.</p></html>`;

export const webClientRoutes = [
  defineRoute({
    operationId: "webClient",
    method: "get",
    path: WEB_CLIENT_PATH,
    summary: "The reference chat client, a web page (its scripts and styles live under this path)",
    description: "Sign in with `/app#token=<JWT>`: the fragment never reaches a server.",
    tag: "operations",
    access: "public",
    responses: {
      200: { description: "The page", contentType: "text/html" },
      503: { description: "The client has not been built on this server: a page saying how to build it", contentType: "text/html" },
    },
    mount: () => webClient(),
  }),
];

export function webClient(dist = DIST): RequestHandler {
  const index = path.join(dist, "index.html");
  // Built files have content hashes in their names: cache them for good. Anything else under /app is the page.
  const assets = express.static(path.join(dist, "assets"), { immutable: true, maxAge: "365d", index: false, redirect: false });
  return (req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    res.set(SECURITY_HEADERS);
    if (req.path.startsWith("/assets/")) {
      const url = req.url;
      req.url = url.slice("/assets".length);
      return assets(req, res, (err?: unknown) => {
        req.url = url;
        next(err);
      });
    }
    if (req.path !== "/") return next();
    if (!existsSync(index)) {
      res.status(503).set("cache-control", "no-store").type("html").send(NOT_BUILT);
      return;
    }
    // The page itself is revalidated every time, so a new build is picked up at once.
    res.sendFile(index, { headers: { "cache-control": "no-cache" } }, (err) => err && next(err));
  };
}
