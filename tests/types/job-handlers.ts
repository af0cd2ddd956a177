// Compiled by `npm run typecheck` (tsc -b), never run: each `@ts-expect-error` below fails the build if the line
// under it stops being a type error, so a catalog job without a handler or a final-failure hook cannot compile.
import type { JobHandlers } from "@insights/worker/runtime/queue-worker";

declare const complete: JobHandlers;

const { buildPack: _removedHandler, ...withoutBuildPack } = complete;
// @ts-expect-error a job of the catalog (buildPack) has no handler
export const missingHandler: JobHandlers = withoutBuildPack;

// @ts-expect-error a job of the catalog (answerMessage) has no final-failure hook
export const missingHook: JobHandlers = { ...complete, answerMessage: { run: complete.answerMessage.run } };

export const wrongPayload: JobHandlers = {
  ...complete,
  reconcile: {
    // @ts-expect-error a handler takes its own job's payload, not another's
    run: (payload: { packId: string }) => Promise.resolve(payload.packId),
    onFinalFailure: null,
  },
};
