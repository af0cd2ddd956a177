import { z } from "zod";
import { WEBHOOK_EVENTS } from "@insights/shared/webhooks/outbox";
import { text } from "../http/common.schema.ts";
import { pageQuery } from "../http/pagination.ts";

export const putWebhookBody = z.strictObject({
  url: text.max(2000).pipe(z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1)
    .refine((events) => new Set(events).size === events.length, "must not repeat an event"),
});

export const listDeliveriesQuery = z.object(pageQuery);

export const webhookResponse = z.object({
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  createdAt: z.date(),
  updatedAt: z.date(),
});
/** The one answer that shows the secret: `whsec_<base64>`, the Standard Webhooks form. */
export const webhookWithSecretResponse = webhookResponse.extend({ secret: z.string() });
export const removedWebhookResponse = z.object({ url: z.string(), removedAt: z.date() });

export const deliveryAttemptResponse = z.object({
  id: z.string(),
  /** The `webhook-id` every attempt of this delivery carried. */
  deliveryId: z.string(),
  type: z.string(),
  attempt: z.number().int(),
  url: z.string(),
  /** Null when no answer came (refused address, timeout, connection error). */
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().int(),
  /** Where the delivery stands now: PENDING (more attempts to come), DELIVERED or FAILED. */
  deliveryStatus: z.string(),
  createdAt: z.date(),
});
export const deliveryAttemptPage = z.object({ attempts: z.array(deliveryAttemptResponse), nextCursor: z.string().nullable() });
