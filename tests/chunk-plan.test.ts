// How a pack's extraction is cut into chunks (planChunks): every PENDING lead in exactly one chunk, in selection
// order; no more chunks than the live workers' slots can use, none under PACK_CHUNK_SIZE; a smaller tail only when
// several processes take chunks; planned once per selection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planChunks, type ChunkSizing } from "@insights/worker/packs/chunks";
import { PackRun } from "@insights/worker/packs/pack-run";
import { bearer, createHarness, insertPendingPack, type TestWorkspace } from "./support/harness.ts";

const h = createHarness();
let ws: TestWorkspace;

beforeAll(async () => {
  ws = await h.seed({ leads: 240 });
});
afterAll(() => h.close());

/** A RUNNING pack over the workspace's 240 leads, positions 1–240; `cached(position)` leads are CACHED, not PENDING. */
async function runningPack(cached: (position: number) => boolean = () => false): Promise<PackRun> {
  const session = await h.http.post(`${ws.base}/insights/sessions`).set(bearer(ws.tokens.member)).send({});
  const created = await insertPendingPack(h, ws, session.body.id);
  const pack = await h.db.insightContextPack.update({
    where: { id: created.id },
    data: { status: "RUNNING", stage: "EXTRACTING", runToken: "this-run", totalLeads: 240 },
  });
  const leads = await h.db.lead.findMany({ where: { clientId: ws.workspaceId }, orderBy: { id: "asc" }, select: { id: true } });
  await h.db.insightContextPackLead.createMany({
    data: leads.map((l, i) => ({
      packId: pack.id,
      clientId: ws.workspaceId,
      leadId: l.id,
      position: i + 1,
      status: cached(i + 1) ? ("CACHED" as const) : ("PENDING" as const),
    })),
  });
  return new PackRun(h.db, pack, new AbortController());
}

/** The PENDING leads in each planned chunk, in chunk order, after checking the chunks tile the PENDING leads. */
async function plannedSizes(run: PackRun): Promise<number[]> {
  const chunks = await h.db.insightContextPackChunk.findMany({ where: { packId: run.id }, orderBy: { index: "asc" } });
  const pending = (
    await h.db.insightContextPackLead.findMany({ where: { packId: run.id, status: "PENDING" }, select: { position: true } })
  ).map((l) => l.position);
  expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  const sizes = chunks.map((c) => pending.filter((p) => p >= c.fromPosition && p <= c.toPosition).length);
  // In order, not overlapping, and every PENDING lead in one of them.
  for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.fromPosition).toBeGreaterThan(chunks[i - 1]!.toPosition);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(pending.length);
  expect(sizes.every((n) => n > 0)).toBe(true);
  return sizes;
}

const sizing = (slots: number | null, spread: boolean): ChunkSizing => ({ chunkSize: 20, slots, spread });

describe("a pack's chunks", () => {
  it("are two per chunk slot when one process takes them (larger than PACK_CHUNK_SIZE), with no smaller tail", async () => {
    const run = await runningPack();
    expect(await planChunks(run, sizing(2, false))).toBe(true);
    expect(await plannedSizes(run)).toEqual(Array(4).fill(60));
  });

  it("are PACK_CHUNK_SIZE when the slots could use smaller ones, and the last quarter a fifth of that with several processes", async () => {
    const run = await runningPack();
    await planChunks(run, sizing(12, true));
    expect(await plannedSizes(run)).toEqual([...Array(9).fill(20), ...Array(15).fill(4)]);
  });

  it("are PACK_CHUNK_SIZE, with the smaller tail, when the workers could not be counted", async () => {
    const run = await runningPack();
    await planChunks(run, sizing(null, true));
    expect(await plannedSizes(run)).toEqual([...Array(9).fill(20), ...Array(15).fill(4)]);
  });

  it("count only PENDING leads: cached ones between them take no room", async () => {
    const run = await runningPack((position) => position % 3 === 0);
    await planChunks(run, sizing(2, false));
    expect(await plannedSizes(run)).toEqual(Array(4).fill(40));
  });

  it("are planned once: a resumed pack job finds them and plans nothing", async () => {
    const run = await runningPack();
    await planChunks(run, sizing(2, false));
    expect(await planChunks(run, sizing(12, true))).toBe(false);
    expect(await plannedSizes(run)).toEqual(Array(4).fill(60));
  });

  it("are planned once when two attempts of the pack job plan at the same moment with different counts (many rounds)", async () => {
    for (let round = 0; round < 15; round++) {
      const run = await runningPack();
      // A stalled pack job run again while the first attempt still lives: the second claims the pack while the
      // first's plan is under way, and plans with its own worker count. Both plans then pass the check that the run
      // is theirs; that moment is made to last here by giving both the same claim.
      const twin = new PackRun(h.db, run.pack, new AbortController());
      const planned = await Promise.all([planChunks(run, sizing(2, false)), planChunks(twin, sizing(12, true))]);
      expect(planned.filter(Boolean)).toHaveLength(1);
      // One plan or the other, whole: every PENDING lead in exactly one chunk.
      const sizes = await plannedSizes(run);
      expect([Array(4).fill(60), [...Array(9).fill(20), ...Array(15).fill(4)]]).toContainEqual(sizes);
    }
  });
});
