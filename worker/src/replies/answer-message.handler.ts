// reply.answer: completes a PENDING ASSISTANT reply from its pack. The reply ends COMPLETE with its usage, or
// FAILED with a reason a person can read; either way the session stays usable and the member can ask again.
// The answer streams to the session's live log as it is written; the final message follows its commit. The job is
// acknowledged only after that publish, so a crash between the two runs the job again, which finds the reply
// answered and publishes it again (the same state, harmless to a client that already had it).
import type { Db, Prisma } from "@insights/shared/db/client";
import type { JobPayload } from "@insights/shared/jobs/catalog";
import { publishMessages } from "@insights/shared/live/publish";
import type { SessionEventLog } from "@insights/shared/live/session-events";
import type { ModelPolicy } from "@insights/shared/llm-models";
import { recordWebhookEvent } from "@insights/shared/webhooks/outbox";
import type { Logger } from "@insights/shared/logger";
import { LlmError, NO_USAGE, callSettingsOf, type LlmCallOptions, type LlmProvider, type LlmUsage } from "../llm/provider.ts";
import { ReleaseJob } from "../runtime/cancellations.ts";
import { buildAnswerContext } from "./answer-context.ts";
import { ReplyStream } from "./reply-stream.ts";

export interface AnswerDeps {
  db: Db;
  llm: LlmProvider;
  logger: Logger;
  /** LLM_MODEL and LLM_ALLOWED_MODELS. */
  models: ModelPolicy;
  /** Aborts at shutdown: the job goes back to the queue and the reply stays PENDING for the next worker. */
  shutdown: AbortSignal;
  live: SessionEventLog;
}

export type AnswerResult = { outcome: "complete" | "failed" } | { outcome: "skipped"; reason: string };

export async function answerMessage(deps: AnswerDeps, payload: JobPayload<"answerMessage">): Promise<AnswerResult> {
  const { db, llm } = deps;
  const reply = await db.insightChatMessage.findUnique({ where: { id: payload.messageId }, include: { replyTo: true } });
  if (reply?.role !== "ASSISTANT" || reply.status !== "PENDING") {
    if (reply?.role === "ASSISTANT") await publishMessages(db, deps.live, "message.updated", [reply.id]);
    return { outcome: "skipped", reason: "the reply is gone or already answered" };
  }
  const pack = reply.packId ? await db.insightContextPack.findUnique({ where: { id: reply.packId } }) : null;
  if (pack?.status !== "COMPLETE") {
    await failReply(deps, reply.id, "the context pack this answer was to use was deleted or is being recomputed; ask again", NO_USAGE);
    return { outcome: "failed" };
  }
  if (!reply.replyTo) {
    await failReply(deps, reply.id, "the question this reply answers was deleted", NO_USAGE);
    return { outcome: "failed" };
  }

  const log = deps.logger.child({ messageId: reply.id, packId: pack.id });
  const started = Date.now();
  log.info({ questionId: reply.replyTo.id }, "reply started");
  const settings = await db.workspaceSettings.findUnique({ where: { clientId: reply.clientId } });
  const call: LlmCallOptions = { ...callSettingsOf(settings, deps.models), signal: deps.shutdown, log };
  const context = await buildAnswerContext(db, reply, reply.replyTo.content, pack, settings);
  const stream = new ReplyStream(deps.live, reply, log);
  try {
    const { value, usage } = await llm.answerQuestion(context, call, stream);
    await stream.finish(value.answer);
    // Suggestions are filtered here too, not only asked for in the prompt: a toggle that is off is never crossed.
    const allowed = new Set(context.enabledActions);
    const suggestions = value.suggestedActions.filter((a) => allowed.has(a.type));
    const dropped = value.suggestedActions.length - suggestions.length;
    if (dropped > 0) log.warn({ dropped }, "dropped suggestions for actions that are off");
    const knownLeads = new Set(context.summaries.map((s) => s.leadId));
    await db.$transaction(async (tx) => {
      const { count } = await tx.insightChatMessage.updateMany({
        where: { id: reply.id, status: "PENDING" },
        data: {
          status: "COMPLETE",
          content: value.answer,
          suggestions,
          citedLeadIds: value.citedLeadIds.filter((id) => knownLeads.has(id)),
          model: llm.modelFor(call.model),
          ...usage,
          completedAt: new Date(),
        },
      });
      if (count === 0) return;
      await recordAnswerUsage(tx, reply.clientId, reply.packId, reply.id, usage);
      await recordWebhookEvent(tx, {
        clientId: reply.clientId,
        type: "message.completed",
        subjectId: reply.id,
        eventKey: `message:${reply.id}`,
        data: { messageId: reply.id, sessionId: reply.sessionId, packId: reply.packId, replyToId: reply.replyToId, status: "COMPLETE" },
      });
    });
    await publishMessages(db, deps.live, "message.updated", [reply.id]);
    log.info({ outcome: "complete", durationMs: Date.now() - started, ...usage }, "reply finished");
    return { outcome: "complete" };
  } catch (err) {
    if (deps.shutdown.aborted) throw new ReleaseJob(`reply ${reply.id} released at shutdown`);
    if (!(err instanceof LlmError)) throw err;
    await failReply(deps, reply.id, `could not answer: ${err.message}`, err.usage, { clientId: reply.clientId, packId: reply.packId });
    log.warn({ outcome: "failed", durationMs: Date.now() - started, error: err.message, ...err.usage }, "reply finished");
    return { outcome: "failed" };
  }
}

/** Marks a PENDING reply FAILED; also used after the job's last attempt failed for other reasons. */
export async function failReply(
  { db, live }: { db: Db; live: SessionEventLog },
  messageId: string,
  reason: string,
  usage: LlmUsage,
  ledger?: { clientId: string; packId: string | null },
): Promise<void> {
  await db.$transaction(async (tx) => {
    const { count } = await tx.insightChatMessage.updateMany({
      where: { id: messageId, status: "PENDING" },
      data: { status: "FAILED", content: "", error: reason, ...usage, completedAt: new Date() },
    });
    if (count === 1 && ledger) await recordAnswerUsage(tx, ledger.clientId, ledger.packId, messageId, usage);
  });
  await publishMessages(db, live, "message.updated", [messageId]);
}

async function recordAnswerUsage(
  tx: Prisma.TransactionClient,
  clientId: string,
  packId: string | null,
  messageId: string,
  usage: LlmUsage,
): Promise<void> {
  if (usage.llmCalls === 0) return;
  await tx.insightLlmUsage.create({ data: { clientId, kind: "ANSWER", packId, messageId, ...usage } });
}
