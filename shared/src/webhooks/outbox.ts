// The webhook outbox: an event is written as a delivery row in the same transaction as the change it reports, so a
// committed change always has its delivery and a rolled-back one never does. A worker job then delivers it (see
// worker/src/webhooks); the reconciler gives a delivery whose job was lost its job back.
import { randomUUID } from "node:crypto";
import type { Tx } from "../db/client.ts";

export const WEBHOOK_EVENTS = ["pack.completed", "pack.failed", "message.completed"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookEvent {
  clientId: string;
  type: WebhookEventType;
  /** The pack or message it is about. */
  subjectId: string;
  /** Unique per event within the workspace: a retried writer records it once. */
  eventKey: string;
  /** Ids and statuses only: a receiver reads the rest with its own token, and erasure has no copies to chase. */
  data: Record<string, string | number | null>;
}

/** Records the event for delivery when the workspace's webhook subscribes to it. */
export async function recordWebhookEvent(tx: Tx, event: WebhookEvent): Promise<void> {
  const webhook = await tx.insightWebhook.findUnique({ where: { clientId: event.clientId }, select: { events: true } });
  if (!webhook?.events.includes(event.type)) return;
  await tx.insightWebhookDelivery.createMany({
    data: [
      {
        id: `msg_${randomUUID()}`,
        clientId: event.clientId,
        type: event.type,
        subjectId: event.subjectId,
        eventKey: event.eventKey,
        body: JSON.stringify({ type: event.type, workspaceId: event.clientId, data: event.data }),
      },
    ],
    skipDuplicates: true,
  });
}
