// The `fetch` the openai client sends its requests with: undici's `request` under a pool of kept-alive connections,
// answered as a standard `Response`. Node's global `fetch` (undici's fetch, with the WHATWG machinery of every
// request and response around it) cost 0.49–0.78 ms of CPU per call here, the largest item of a worker's CPU per lead;
// this costs 0.27–0.38 ms, the openai client's own work included (3,000 calls against the fake model, 32 in flight).
// A worker's throughput with a fast model, and so its share of a pack, is bound by that CPU.
//
// What the client relies on holds: the signal aborts the request and its body with an `AbortError` (the client tells
// its own timeout from a caller's cancellation by the signals, as with any fetch); a connection that fails rejects
// (the provider's retries take it as a dropped connection); the body streams as it arrives (answers stream through
// it); redirects are followed, as fetch follows them. The calls this service makes send a URL and a JSON string; any
// other request (a `Request`, an upload's form or stream body) goes to the global fetch, which takes every kind.
import { Readable } from "node:stream";
import { Agent, interceptors, request } from "undici";

/** Statuses whose responses have no body (a `Response` refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function createLlmFetch(): typeof fetch {
  // Idle connections stay open for the next call; the model's host is one origin, so one pool serves every lane.
  const dispatcher = new Agent({ keepAliveTimeout: 30_000 }).compose(interceptors.redirect({ maxRedirections: 5 }));
  return async (input, init = {}) => {
    const { body } = init;
    if (input instanceof Request || !(body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array)) {
      return fetch(input, init);
    }
    const res = await request(String(input), {
      method: (init.method ?? "GET") as "GET",
      headers: headersOf(init.headers),
      body,
      signal: init.signal ?? undefined,
      dispatcher,
    });
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else if (value !== undefined) headers.append(name, value);
      }
      if (NULL_BODY_STATUSES.has(res.statusCode)) {
        res.body.resume();
        return new Response(null, { status: res.statusCode, headers });
      }
      return new Response(Readable.toWeb(res.body) as ReadableStream<Uint8Array>, { status: res.statusCode, headers });
    } catch (err) {
      // A status no Response can carry, say: the connection is not left holding an unread body.
      res.body.destroy();
      throw err;
    }
  };
}

function headersOf(headers: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(headers).forEach((value, name) => {
    out[name] = value;
  });
  return out;
}
