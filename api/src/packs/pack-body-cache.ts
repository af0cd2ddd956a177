// The JSON text (UTF-8 bytes) of `GET /packs/:id` per pack, as of one version tag. A client that polls without
// If-None-Match (or with an old tag) of a pack that has not changed since someone last read it gets these bytes,
// after the same access check and version lookup as a 304: no second read of the row, no staleness or failures
// query, no JSON serialisation. The tag is taken from the very row and view the text was built from
// (packs.service.ts), so a text is only ever served under the tag it was built at, and any change that would alter
// it (any update of the row bumps its version; `stale` is part of the tag) makes it unreachable. Per API process,
// bounded in entries and in bytes; the least recently served pack is forgotten first.
export const PACK_BODY_CACHE_ENTRIES = 1_000;
const PACK_BODY_CACHE_BYTES = 32 * 1024 * 1024;
/** A larger body (a very long synthesis) is built per request rather than held. */
const MAX_CACHED_BODY_BYTES = 256 * 1024;

export interface PackBodyCache {
  /** The text built at exactly this tag, if this process holds it. */
  get(packId: string, tag: string): Buffer | undefined;
  set(packId: string, tag: string, json: Buffer): void;
}

export function createPackBodyCache(maxEntries = PACK_BODY_CACHE_ENTRIES, maxBytes = PACK_BODY_CACHE_BYTES): PackBodyCache {
  const bodies = new Map<string, { tag: string; json: Buffer }>();
  let bytes = 0;
  const forget = (packId: string) => {
    const held = bodies.get(packId);
    if (!held) return;
    bodies.delete(packId);
    bytes -= held.json.length;
  };
  return {
    get(packId, tag) {
      const hit = bodies.get(packId);
      if (!hit || hit.tag !== tag) return undefined;
      // Map order is insertion order: re-inserting makes it the most recently served.
      bodies.delete(packId);
      bodies.set(packId, hit);
      return hit.json;
    },
    set(packId, tag, json) {
      forget(packId);
      if (json.length > MAX_CACHED_BODY_BYTES) return;
      while (bodies.size > 0 && (bodies.size >= maxEntries || bytes + json.length > maxBytes)) forget(bodies.keys().next().value!);
      bodies.set(packId, { tag, json });
      bytes += json.length;
    },
  };
}
