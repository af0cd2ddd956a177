// The `fetch` the openai client sends its requests with: undici's `request` under a pool of kept-alive connections,
// answered as a standard `Response`. Node's global `fetch` (undici's fetch, with the WHATWG machinery of every
// request and response around it) cost 0.49–0.78 ms of CPU per call here, the largest item of a worker's CPU per lead;
// this costs 0.27–0.38 ms, the openai client's own work included (3,000 calls against the fake model, 32 in flight).
// A worker's throughput with a fast model, and so its share of a pack, is bound by that CPU.
//
// What the client relies on holds: the signal aborts the request and its body with an `AbortError` (the client tells
// its own timeout from a caller's cancellation by the signals, as with any fetch); a connection that fails rejects
// (the client retries it as a connection error); the body streams as it arrives (answers stream through it).
import { Readable } from "node:stream";
import { Agent, request } from "undici";

/** Statuses whose responses have no body (a `Response` refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function createLlmFetch(): typeof fetch {
  // Idle connections stay open for the next call; the model's host is one origin, so one pool serves every lane.
  const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  return async (input, init = {}) => {
    const url = input instanceof Request ? input.url : String(input);
    const res = await request(url, {
      method: (init.method ?? "GET") as "GET",
      headers: headersOf(init.headers),
      body: init.body as string | Uint8Array | null | undefined,
      signal: init.signal ?? undefined,
      dispatcher,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.append(name, value);
    }
    const body = NULL_BODY_STATUSES.has(res.statusCode) ? null : (Readable.toWeb(res.body) as ReadableStream<Uint8Array>);
    if (!body) res.body.resume();
    return new Response(body, { status: res.statusCode, headers });
  };
}

function headersOf(headers: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(headers).forEach((value, name) => {
    out[name] = value;
  });
  return out;
}
