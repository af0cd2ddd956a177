// webhook.deliver: one attempt to POST one delivery to its workspace's webhook, signed as Standard Webhooks do, with
// the delivery's id as `webhook-id` on every attempt. Any answer but a 2xx (a redirect included: never followed), a
// timeout or a refused address fails the attempt, and BullMQ retries it with backoff; every attempt is logged in
// InsightWebhookAttempt. At least once: an attempt that reached the receiver but was not recorded is sent again.
import http from "node:http";
import https from "node:https";
import type { Db } from "@insights/shared/db/client";
import type { JobPayload } from "@insights/shared/jobs/catalog";
import type { Logger } from "@insights/shared/logger";
import { assertPublicUrl, guardedLookup } from "@insights/shared/webhooks/address-guard";
import type { SecretBox } from "@insights/shared/webhooks/secret-box";
import { signWebhook } from "@insights/shared/webhooks/signature";

export interface WebhookDeliveryDeps {
  db: Db;
  logger: Logger;
  /** Null when WEBHOOK_SECRET_KEY is not set: nothing can be signed, so every attempt fails (and is retried). */
  secrets: SecretBox | null;
  allowPrivate: boolean;
  timeoutMs: number;
}

export type WebhookDeliveryResult = { outcome: "delivered"; statusCode: number } | { outcome: "skipped"; reason: string };

export async function deliverWebhook(deps: WebhookDeliveryDeps, payload: JobPayload<"deliverWebhook">): Promise<WebhookDeliveryResult> {
  const { db } = deps;
  const delivery = await db.insightWebhookDelivery.findUnique({ where: { id: payload.deliveryId } });
  if (delivery?.status !== "PENDING") return { outcome: "skipped", reason: "delivered, failed or gone" };
  const webhook = await db.insightWebhook.findUnique({ where: { clientId: delivery.clientId } });
  if (!webhook?.events.includes(delivery.type)) {
    await markDeliveryFailed(db, delivery.id);
    return { outcome: "skipped", reason: "the webhook was removed or no longer subscribes to this event" };
  }

  const attempt = delivery.attempts + 1;
  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  try {
    if (!deps.secrets) throw new Error("WEBHOOK_SECRET_KEY is not set on this worker");
    const secret = deps.secrets.decrypt(webhook.secretCiphertext);
    const url = new URL(webhook.url);
    // An IP literal never goes through `lookup`: checked here; a host name is checked here and at connection time.
    await assertPublicUrl(url, deps.allowPrivate);
    const timestamp = Math.floor(Date.now() / 1000);
    statusCode = await post(
      url,
      delivery.body,
      {
        "content-type": "application/json",
        "user-agent": "insights-webhooks/1",
        "webhook-id": delivery.id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signWebhook(secret, delivery.id, timestamp, delivery.body),
      },
      deps,
    );
    if (statusCode >= 300 && statusCode < 400) error = `the receiver answered ${statusCode}; redirects are not followed`;
    else if (statusCode < 200 || statusCode >= 300) error = `the receiver answered ${statusCode}`;
  } catch (err) {
    error = (err as Error).message || String(err);
  }
  const durationMs = Math.round(performance.now() - started);

  await db.$transaction(async (tx) => {
    await tx.insightWebhookAttempt.create({
      data: { deliveryId: delivery.id, clientId: delivery.clientId, attempt, url: webhook.url, statusCode, error, durationMs },
    });
    await tx.insightWebhookDelivery.updateMany({
      where: { id: delivery.id, status: "PENDING" },
      data: { attempts: { increment: 1 }, ...(error ? {} : { status: "DELIVERED", completedAt: new Date() }) },
    });
  });
  if (error) throw new Error(`webhook ${delivery.id} attempt ${attempt}: ${error}`);
  return { outcome: "delivered", statusCode: statusCode! };
}

/** After the last attempt failed (or the job could not run at all). */
export async function markDeliveryFailed(db: Db, deliveryId: string): Promise<void> {
  await db.insightWebhookDelivery.updateMany({
    where: { id: deliveryId, status: "PENDING" },
    data: { status: "FAILED", completedAt: new Date() },
  });
}

/** POSTs `body`, resolving the host through the address guard; resolves with the status code. */
function post(url: URL, body: string, headers: Record<string, string>, deps: WebhookDeliveryDeps): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === "https:" ? https : http).request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        lookup: guardedLookup(deps.allowPrivate),
        timeout: deps.timeoutMs,
      },
      (response) => {
        response.resume(); // the body is not read, only drained
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${deps.timeoutMs} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}

/** Gives the deliveries an event just wrote their jobs (the reconciler does the same for any this misses). */
export async function pendingDeliveriesOf(db: Db, subjectId: string): Promise<string[]> {
  const rows = await db.insightWebhookDelivery.findMany({ where: { subjectId, status: "PENDING" }, select: { id: true } });
  return rows.map((r) => r.id);
}
