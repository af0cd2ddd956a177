import { INSIGHTS_PATH, packPath, sessionPath } from "../http/common.schema.ts";
import { idempotencyHeaders, idempotent } from "../http/idempotency.ts";
import { defineRoute } from "../http/route.ts";
import { deletedPackResponse, listPacksQuery, packPage, packResponse, recomputePackBody, requestPackBody } from "./packs.schema.ts";
import * as packs from "./packs.service.ts";

const PACK = `${INSIGHTS_PATH}/packs/{packId}`;

export const packsRoutes = [
  defineRoute({
    operationId: "requestPack",
    method: "post",
    path: `${INSIGHTS_PATH}/sessions/{sessionId}/packs`,
    summary: "Request a context pack (202 new or restarted, 200 the existing pack of that scope)",
    tag: "insights",
    access: "member",
    params: sessionPath,
    headers: idempotencyHeaders,
    body: requestPackBody,
    responses: {
      202: { description: "A new pack, or a FAILED or CANCELLED one restarted: its job is queued", body: packResponse },
      200: { description: "The existing pack of this scope (no second job)", body: packResponse },
    },
    errors: ["CONFLICT", "UNAVAILABLE"],
    handle: async ({ params, body, headers, caller, req, res }, deps) =>
      idempotent(deps.db, { req, res, key: headers["Idempotency-Key"] }, { ...caller, input: body }, async () => {
        const { created, pack } = await packs.requestPack(deps, caller, params.sessionId, body);
        return created ? { status: 202 as const, body: pack } : { status: 200 as const, body: pack };
      }),
  }),
  defineRoute({
    operationId: "listPacks",
    method: "get",
    path: `${INSIGHTS_PATH}/sessions/{sessionId}/packs`,
    summary: "A session's packs, newest first",
    tag: "insights",
    access: "member",
    params: sessionPath,
    query: listPacksQuery,
    responses: { 200: { description: "A page of packs", body: packPage } },
    handle: async ({ params, query, caller }, { db }) => ({
      status: 200,
      body: await packs.listPacks(db, caller, params.sessionId, query),
    }),
  }),
  defineRoute({
    operationId: "getPack",
    method: "get",
    path: PACK,
    summary: "One pack with its progress; poll it with If-None-Match",
    tag: "insights",
    access: "member",
    params: packPath,
    responses: { 200: { description: "The pack", body: packResponse, headers: ["ETag"] } },
    // A poll of an unchanged pack is answered 304 from its version tag alone, before the pack is built. Also under
    // `Cache-Control: no-cache`, which fetch adds when a client sets If-None-Match itself (Express's own check
    // would refuse the 304 then): the client asks to revalidate, and this is the revalidation. A 200 of a pack
    // this process already built at that tag sends the same bytes again (pack-body-cache.ts).
    handle: async ({ params, caller, req, res }, { db, packBodies }) => {
      const tag = await packs.packVersionTag(db, caller, params.packId);
      if (matchesETag(req.get("if-none-match"), tag)) {
        res.setHeader("ETag", tag);
        res.status(304).end();
        return;
      }
      const body = await packs.packBody(db, packBodies, caller, params.packId, tag);
      // What res.json would send (its headers; the ETag is ours), written as the bytes already encoded. Node leaves
      // the body out of an answer to HEAD.
      res.statusCode = 200;
      res.setHeader("ETag", body.tag);
      res.setHeader("Content-Type", "application/json; charset=utf-8");
      res.setHeader("Content-Length", body.json.length);
      res.end(body.json);
    },
  }),
  defineRoute({
    operationId: "recomputePack",
    method: "post",
    path: `${PACK}/recompute`,
    summary: "Recompute a finished pack (only changed threads unless force)",
    tag: "insights",
    access: "admin",
    params: packPath,
    body: recomputePackBody,
    responses: { 202: { description: "The pack, queued again", body: packResponse } },
    errors: ["CONFLICT", "UNAVAILABLE"],
    handle: async ({ params, body, caller }, deps) => ({
      status: 202,
      body: await packs.recomputePack(deps, caller, params.packId, body),
    }),
  }),
  defineRoute({
    operationId: "deletePack",
    method: "delete",
    path: PACK,
    summary: "Cancel a pack's work and remove it",
    tag: "insights",
    access: "admin",
    params: packPath,
    responses: { 200: { description: "What was removed", body: deletedPackResponse } },
    handle: async ({ params, caller }, deps) => ({ status: 200, body: await packs.deletePack(deps, caller, params.packId) }),
  }),
];

/** If-None-Match uses the weak comparison: `W/` prefixes are ignored, `*` matches anything. */
function matchesETag(ifNoneMatch: string | undefined, tag: string): boolean {
  if (!ifNoneMatch) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((candidate) => candidate.trim() === "*" || opaque(candidate) === opaque(tag));
}
