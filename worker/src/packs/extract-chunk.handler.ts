// pack.extract-chunk: one chunk of one pack run, in whichever worker process takes it (see chunks.ts).
import type { InsightContextPack } from "@insights/shared/db/client";
import type { JobPayload } from "@insights/shared/jobs/catalog";
import type { SessionEventLog } from "@insights/shared/live/session-events";
import { ReleaseJob, followSignal, stopReasonOf } from "../runtime/cancellations.ts";
import { publishPack } from "./build-pack.handler.ts";
import { extractChunk, type ChunkDeps, type ChunkOutcome } from "./chunks.ts";
import { PackRunEnded } from "./pack-run.ts";

/** `signal` is the job's: it aborts when the pack is cancelled or the worker shuts down. */
export async function extractChunkJob(
  deps: ChunkDeps & { live: SessionEventLog },
  payload: JobPayload<"extractChunk">,
  signal: AbortSignal,
): Promise<{ outcome: ChunkOutcome }> {
  // The chunk run aborts this controller itself when it finds the run ended; it also follows the job's signal.
  const { controller, release } = followSignal(signal);
  const log = deps.logger.child({ packId: payload.packId, generation: payload.generation, chunk: payload.index });
  try {
    // The run's model and effort, as its pack job chose them (a chunk queued before they travelled reads the settings).
    const { model, reasoningEffort } = payload;
    const call = model && reasoningEffort ? { model, reasoningEffort, log } : undefined;
    const publish = (row: InsightContextPack) => publishPack({ ...deps, logger: log }, payload.packId, row);
    const run = { id: payload.packId, generation: payload.generation };
    const outcome = await extractChunk({ ...deps, logger: log }, run, payload.index, call, controller, publish);
    if (stopReasonOf(controller.signal) === "shutdown")
      throw new ReleaseJob(`chunk ${payload.index} of pack ${payload.packId} released at shutdown`);
    return { outcome };
  } catch (err) {
    if (err instanceof PackRunEnded) return { outcome: "skipped" };
    if (stopReasonOf(controller.signal) === "shutdown")
      throw new ReleaseJob(`chunk ${payload.index} of pack ${payload.packId} released at shutdown`);
    if (stopReasonOf(controller.signal) === "cancelled") return { outcome: "stopped" };
    throw err;
  } finally {
    release();
  }
}
