// One run of one pack: (packId, generation, runToken). Every write is conditional on the row still being this run
// and still RUNNING, so a run that was cancelled, deleted, superseded by a recompute or taken over by another worker
// finds out at its next write and stops, instead of overwriting a newer state or duplicating work.
import { randomUUID } from "node:crypto";
import type { Db, InsightContextPack, Prisma } from "@insights/shared/db/client";
import type { ModelPolicy } from "@insights/shared/llm-models";
import { callSettingsOf, type LlmCallOptions } from "../llm/provider.ts";

/** Thrown when the pack is no longer this run's to write: cancelled, deleted, superseded or taken over. Not an error. */
export class PackRunEnded extends Error {
  constructor(readonly packId: string) {
    super(`pack ${packId}: this run was cancelled, deleted or superseded`);
  }
}

/** The slice of the run a chunk job works on, under its own claim (see chunks.ts). */
export interface ChunkClaim {
  index: number;
  fromPosition: number;
  toPosition: number;
  runToken: string;
}

/** What every part of a run needs of its pack row; a chunk job reads no more of it. */
export type RunPack = Pick<InsightContextPack, "id" | "generation" | "clientId" | "runToken">;

export class PackRun<P extends RunPack = InsightContextPack> {
  constructor(
    readonly db: Db,
    readonly pack: P,
    private readonly controller: AbortController,
    /** Set for a chunk job's part of the run: it then also stops when another attempt takes its chunk over. */
    readonly chunk?: ChunkClaim,
  ) {}

  /** Aborts when the run is cancelled, found ended, or the worker shuts down; LLM calls in flight abort with it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The run learned from the database that it is no longer current: stop its work like a cancellation would. */
  private markEnded(): void {
    this.controller.abort("cancelled");
  }

  get id(): string {
    return this.pack.id;
  }

  get generation(): number {
    return this.pack.generation;
  }

  /**
   * The `where` that makes a write this run's. A chunk's part of the run is the generation's, whichever pack job
   * attempt holds the pack: its own claim is the chunk's token.
   */
  get current() {
    const run = { id: this.pack.id, generation: this.pack.generation, status: "RUNNING" as const };
    return this.chunk ? run : { ...run, runToken: this.pack.runToken };
  }

  async update(data: Prisma.InsightContextPackUpdateManyMutationInput, tx: Prisma.TransactionClient | Db = this.db) {
    const { count } = await tx.insightContextPack.updateMany({ where: this.current, data });
    if (count === 0) this.ended();
  }

  /** Still ours? Read between pages, so a cancellation whose message was missed still stops the run. */
  async assertCurrent(): Promise<void> {
    const row = await this.db.insightContextPack.findFirst({ where: this.current, select: { id: true } });
    if (!row) this.ended();
    if (!this.chunk) return;
    const chunk = await this.db.insightContextPackChunk.findFirst({
      where: { packId: this.id, index: this.chunk.index, runToken: this.chunk.runToken, done: false },
      select: { index: true },
    });
    if (!chunk) this.ended();
  }

  /** Stops the run's other work in flight, then unwinds this path. */
  ended(): never {
    this.markEnded();
    throw new PackRunEnded(this.pack.id);
  }
}

/**
 * Takes the pack for this job: PENDING → RUNNING, or takes over a RUNNING pack of the same generation (a job
 * retried after a crash, a shutdown or a stalled worker). Either way the run gets a new token, so a previous owner
 * that is still alive finds the pack no longer its own at its next write and stops: two workers never keep working
 * on one pack. Null when the job is not for the pack's current run.
 */
export async function claimPackRun(db: Db, packId: string, generation: number): Promise<InsightContextPack | null> {
  const runToken = randomUUID();
  const started = await db.insightContextPack.updateMany({
    where: { id: packId, generation, status: "PENDING" },
    data: { status: "RUNNING", startedAt: new Date(), runToken },
  });
  if (started.count === 0) {
    await db.insightContextPack.updateMany({ where: { id: packId, generation, status: "RUNNING" }, data: { runToken } });
  }
  return db.insightContextPack.findFirst({ where: { id: packId, generation, status: "RUNNING", runToken } });
}

/** The model and effort a pack run's calls use, decided once by its pack job and handed to its chunks. */
export type RunCall = Pick<LlmCallOptions, "model" | "reasoningEffort">;

/**
 * The model and reasoning effort of every call of the run: fixed at its selection (`runModel`, see selectLeads), so a
 * pack job retried after a crash continues on them; before that, the workspace's settings.
 */
export async function runCallFor(db: Db, pack: InsightContextPack, models: ModelPolicy): Promise<RunCall> {
  if (pack.runModel === null) return callOptionsFor(db, pack.clientId, models);
  return { model: pack.runModel, reasoningEffort: (pack.runReasoningEffort ?? "medium") as LlmCallOptions["reasoningEffort"] };
}

/** The workspace's model and reasoning effort, as its settings give them now. */
export async function callOptionsFor(db: Db, clientId: string, models: ModelPolicy): Promise<RunCall> {
  return callSettingsOf(await db.workspaceSettings.findUnique({ where: { clientId } }), models);
}
