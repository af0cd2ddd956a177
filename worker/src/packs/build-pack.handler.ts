// pack.build: select → plan chunks → (chunk jobs extract, see chunks.ts) → synthesize, for one run of one pack. Safe
// to run again at any point: selection is one transaction, each lead's summary and status land together, and the
// pack row changes only while it is still this run's (see pack-run.ts). A retried or resumed job continues where the
// last one stopped.
import type { Db, InsightContextPack, Prisma } from "@insights/shared/db/client";
import type { JobPayload } from "@insights/shared/jobs/catalog";
import { publishPackUpdated } from "@insights/shared/live/publish";
import type { SessionEventLog } from "@insights/shared/live/session-events";
import type { ModelPolicy } from "@insights/shared/llm-models";
import { recordWebhookEvent } from "@insights/shared/webhooks/outbox";
import type { Logger } from "@insights/shared/logger";
import { LlmError, addUsage, type LlmProvider, type LlmUsage } from "../llm/provider.ts";
import { ReleaseJob, followSignal, stopReasonOf } from "../runtime/cancellations.ts";
import type { WorkerMetrics } from "../runtime/metrics.ts";
import {
  DEFAULT_CHUNK_SIZE,
  awaitChunks,
  createExtractionShare,
  extractChunk,
  planChunks,
  unfinishedChunks,
  type ChunkDispatcher,
  type ExtractionShare,
} from "./chunks.ts";
import { PackRun, PackRunEnded, claimPackRun, runCallFor } from "./pack-run.ts";
import { writeProgress } from "./progress.ts";
import { selectLeads } from "./select-leads.ts";
import { computeMetrics, synthesize } from "./synthesize-pack.ts";

export interface PackPipelineDeps {
  db: Db;
  llm: LlmProvider;
  logger: Logger;
  /** The session's live log: every change of the pack is published after it commits. */
  live: SessionEventLog;
  /** LLM_MODEL and LLM_ALLOWED_MODELS. */
  models: ModelPolicy;
  tuning: { maxLeadsPerPack: number; llmConcurrency: number; progressIntervalMs: number; pageSize: number; chunkSize?: number };
  /**
   * Where the pack's chunks go: chunk jobs any worker process takes. Without one (a single process, as in tests that
   * call the handler directly) the pack job extracts its chunks itself, one after another.
   */
  chunks?: ChunkDispatcher;
  /** What the process's chunks share (its LLM budget, progress pace, group commits); the run's own when not given. */
  share?: ExtractionShare;
  metrics?: WorkerMetrics | undefined;
}

export type BuildPackResult =
  | { outcome: "complete" | "failed"; totalLeads: number }
  | { outcome: "skipped"; reason: string }
  | { outcome: "released" };

/** `signal` is the job's: it aborts when the pack is cancelled or the worker shuts down. */
export async function buildPack(deps: PackPipelineDeps, payload: JobPayload<"buildPack">, signal: AbortSignal): Promise<BuildPackResult> {
  const { db, llm } = deps;
  const pack = await claimPackRun(db, payload.packId, payload.generation);
  // Also when skipped: a job run again after a crash between a commit and its event publishes the state it missed.
  const publish = (row?: InsightContextPack) => publishPack(deps, payload.packId, row);
  await publish();
  if (!pack) return { outcome: "skipped", reason: "the pack was deleted, cancelled, finished or recomputed" };

  // The run's own controller: it follows the job's signal, and the run also aborts it when it finds itself ended.
  const { controller, release } = followSignal(signal);
  const run = new PackRun(db, pack, controller);
  const log = deps.logger.child({ packId: pack.id, generation: pack.generation });
  try {
    const call = { ...(await runCallFor(db, pack, deps.models)), log };
    const model = llm.modelFor(call.model);
    log.info({ stage: pack.stage, model, force: pack.forceRecompute }, "pack run started");

    let totalLeads = pack.totalLeads;
    if (pack.stage === "QUEUED" || pack.stage === "SELECTING") {
      // Cached summaries are claimed with the selection, and the run's model fixed; a resumed run past it finds its
      // rows final and continues on that model.
      totalLeads = await selectLeads(run, deps.tuning.maxLeadsPerPack, { call, cachedModel: pack.forceRecompute ? null : model });
      log.info({ totalLeads }, "leads selected");
      await publish();
    }

    if (pack.stage !== "SYNTHESIZING") {
      // Planned over the leads still PENDING, once per selection; a resumed run finds its chunks planned.
      const chunkSize = deps.tuning.chunkSize ?? DEFAULT_CHUNK_SIZE;
      // Without a dispatcher this job extracts every chunk itself: they are only its steps, of PACK_CHUNK_SIZE. A pack
      // of one chunk at most needs no count of the workers. Workers that could not be counted are taken as several.
      const capacity = deps.chunks && totalLeads > chunkSize ? await deps.chunks.slots() : { processes: 1, slots: null };
      const planned = await planChunks(run, {
        chunkSize,
        slots: capacity?.slots ?? null,
        spread: capacity === null || capacity.processes > 1,
      });
      const left = await unfinishedChunks(db, pack.id);
      const chunkDeps = {
        db,
        llm,
        logger: log,
        models: deps.models,
        share: deps.share ?? createExtractionShare(deps.tuning),
        tuning: deps.tuning,
        metrics: deps.metrics,
      };
      // The pack job extracts chunk 0 itself (it never gets a job of its own): a pack of one chunk, the common small
      // pack, then never waits for a chunk slot behind other workspaces' chunks, and a bigger one starts at once.
      // The rest go out as chunk jobs. Without a dispatcher, the pack job extracts every chunk, one after another.
      const inline = deps.chunks ? left.filter((index) => index === 0) : left;
      const handedOut = deps.chunks ? left.filter((index) => index !== 0) : [];
      let failure: string | null = null;
      if (deps.chunks && handedOut.length > 0) {
        failure = await deps.chunks.dispatch(pack, handedOut, { planned, call });
        log.info({ chunks: handedOut.length }, "chunks handed out");
      }
      for (const index of failure ? [] : inline) {
        if ((await extractChunk(chunkDeps, pack, index, call, controller, publish)) === "stopped") break;
      }
      if (deps.chunks && !failure && !run.signal.aborted) failure = await awaitChunks(run, deps.chunks, call);
      if (failure) {
        // Its chunk's worker could not record the failure (the case this path exists for), so the webhook is here.
        await db.$transaction(async (tx) => {
          await run.update({ status: "FAILED", error: `a chunk of the pack failed: ${failure}`, completedAt: new Date() }, tx);
          await recordPackWebhook(tx, pack, "pack.failed");
        });
        return { outcome: "failed", totalLeads: pack.totalLeads };
      }
      const stop = stopReasonOf(run.signal);
      if (stop === "shutdown") throw new ReleaseJob(`pack ${pack.id} released at shutdown`);
      if (stop === "cancelled") return cancelled(log);
      // The chunks' last progress writes may not have caught their last leads: the figures are complete from here.
      await writeProgress(run);
      await run.update({ stage: "SYNTHESIZING" });
      await publish();
    }

    // Re-read for the totals extraction wrote, but only as long as the run is still this job's.
    const current = await db.insightContextPack.findFirst({ where: run.current });
    if (!current) {
      log.info("pack run ended: cancelled, deleted or superseded");
      return run.ended();
    }
    const finalRun = new PackRun(db, current, controller);
    const metrics = await computeMetrics(finalRun, llm.name);
    const metricsJson = metrics as unknown as Prisma.InputJsonObject; // plain JSON data by construction
    if (metrics.counts.total > 0 && metrics.counts.summarized === 0) {
      const firstError = await db.insightContextPackLead.findFirst({
        where: { packId: pack.id, status: "FAILED" },
        select: { error: true },
      });
      log.warn({ failed: metrics.counts.failed }, "pack failed: every lead failed to summarize");
      await db.$transaction(async (tx) => {
        await finalRun.update(
          {
            status: "FAILED",
            metrics: metricsJson,
            error: `every lead failed to summarize (${metrics.counts.failed} of ${metrics.counts.total}); first error: ${firstError?.error ?? "unknown"}`,
            completedAt: new Date(),
          },
          tx,
        );
        await recordPackWebhook(tx, finalRun.pack, "pack.failed");
      });
      return { outcome: "failed", totalLeads: metrics.counts.total };
    }

    const leadUsage = { llmCalls: current.llmCalls, inputTokens: current.inputTokens, outputTokens: current.outputTokens };
    let synthesis: string;
    let synthesisUsage: LlmUsage;
    try {
      ({ synthesis, usage: synthesisUsage } = await synthesize(finalRun, llm, call, metrics));
    } catch (err) {
      if (!(err instanceof LlmError)) throw err;
      log.warn({ error: err.message }, "pack failed: synthesis failed");
      // The LLM layer already retried; a job retry would only repeat that. The summaries stay cached, so the
      // member's next request (which restarts a FAILED pack) pays only for synthesis.
      await db.$transaction(async (tx) => {
        await finalRun.update(
          {
            status: "FAILED",
            metrics: metricsJson,
            ...addUsage(leadUsage, err.usage),
            error: `synthesis failed: ${err.message}`,
            completedAt: new Date(),
          },
          tx,
        );
        await recordSynthesisUsage(tx, finalRun, err.usage);
        await recordPackWebhook(tx, finalRun.pack, "pack.failed");
      });
      return { outcome: "failed", totalLeads: metrics.counts.total };
    }
    await db.$transaction(async (tx) => {
      await finalRun.update(
        {
          status: "COMPLETE",
          stage: "DONE",
          percent: 100,
          synthesis,
          metrics: metricsJson,
          provider: llm.name,
          model,
          ...addUsage(leadUsage, synthesisUsage),
          error: metrics.counts.failed > 0 ? `${metrics.counts.failed} lead(s) could not be summarized; see failedLeads` : null,
          completedAt: new Date(),
        },
        tx,
      );
      await recordSynthesisUsage(tx, finalRun, synthesisUsage);
      await recordPackWebhook(tx, finalRun.pack, "pack.completed");
    });
    log.info({ totalLeads: metrics.counts.total, failed: metrics.counts.failed, ...addUsage(leadUsage, synthesisUsage) }, "pack complete");
    return { outcome: "complete", totalLeads: metrics.counts.total };
  } catch (err) {
    if (err instanceof PackRunEnded) {
      log.info("pack run ended: cancelled, deleted or superseded");
      return { outcome: "skipped", reason: "cancelled, deleted or superseded mid-run" };
    }
    if (stopReasonOf(run.signal) === "shutdown") throw new ReleaseJob(`pack ${pack.id} released at shutdown`);
    if (stopReasonOf(run.signal) === "cancelled") return cancelled(log);
    throw err;
  } finally {
    release();
    // The final state (complete, failed, or whatever a cancellation left).
    await publish();
  }
}

/**
 * Publishes the pack as it is now (`row`: as a write just returned it); a failure is logged, and the next change or a
 * client's snapshot carries it.
 */
export async function publishPack(
  deps: { db: Db; live: SessionEventLog; logger: Logger },
  packId: string,
  row?: InsightContextPack,
): Promise<void> {
  try {
    await publishPackUpdated(deps.db, deps.live, row ?? packId);
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, packId }, "live pack event not published");
  }
}

function cancelled(log: Logger): BuildPackResult {
  log.info("pack cancelled: stopped between leads, calls in flight aborted");
  return { outcome: "skipped", reason: "cancelled" };
}

async function recordSynthesisUsage(tx: Prisma.TransactionClient, run: PackRun, usage: LlmUsage): Promise<void> {
  if (usage.llmCalls === 0) return;
  await tx.insightLlmUsage.create({ data: { clientId: run.pack.clientId, kind: "SYNTHESIS", packId: run.id, ...usage } });
}

/** Called when the job has used its last attempt: the pack says what failed instead of staying RUNNING. */
export async function markPackFailed(
  deps: { db: Db; live: SessionEventLog; logger: Logger },
  payload: JobPayload<"buildPack">,
  reason: string,
): Promise<void> {
  await deps.db.$transaction(async (tx) => {
    const { count } = await tx.insightContextPack.updateMany({
      where: { id: payload.packId, generation: payload.generation, status: { in: ["PENDING", "RUNNING"] } },
      data: { status: "FAILED", error: reason, completedAt: new Date() },
    });
    const pack = count === 1 ? await tx.insightContextPack.findUnique({ where: { id: payload.packId } }) : null;
    if (pack) await recordPackWebhook(tx, pack, "pack.failed");
  });
  await publishPack(deps, payload.packId);
}

/** One event per pack run (generation): a retried handler or a second failure path records it once. */
function recordPackWebhook(
  tx: Prisma.TransactionClient,
  pack: { id: string; clientId: string; sessionId: string; generation: number },
  type: "pack.completed" | "pack.failed",
): Promise<void> {
  return recordWebhookEvent(tx, {
    clientId: pack.clientId,
    type,
    subjectId: pack.id,
    eventKey: `pack:${pack.id}:g${pack.generation}`,
    data: {
      packId: pack.id,
      sessionId: pack.sessionId,
      generation: pack.generation,
      status: type === "pack.completed" ? "COMPLETE" : "FAILED",
    },
  });
}
