// A workspace's webhook (admin). Every PUT makes a new signing secret, shown in its answer only and stored sealed;
// that is also how an admin rotates it. Deliveries are written by the worker's outbox and listed here by attempt.
import type { z } from "zod";
import type { Db } from "@insights/shared/db/client";
import { assertPublicUrl, ForbiddenAddressError } from "@insights/shared/webhooks/address-guard";
import type { SecretBox, WebhookSettings } from "@insights/shared/webhooks/secret-box";
import { newWebhookSecret } from "@insights/shared/webhooks/signature";
import { recordAuditEvent } from "../audit/audit.service.ts";
import { AppError, notFound, validationFailed } from "../http/app-error.ts";
import { afterCursor, toPage, type Cursor } from "../http/pagination.ts";
import type { Caller } from "../http/request-context.ts";
import type { deliveryAttemptPage, removedWebhookResponse, webhookResponse, webhookWithSecretResponse } from "./webhooks.schema.ts";

type WebhookDto = z.output<typeof webhookResponse>;
type Events = WebhookDto["events"];

const toWebhookDto = (row: { url: string; events: string[]; createdAt: Date; updatedAt: Date }): WebhookDto => ({
  url: row.url,
  events: row.events as Events,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

export async function putWebhook(
  deps: { db: Db; webhooks: WebhookSettings },
  caller: Caller,
  input: { url: string; events: Events },
): Promise<z.output<typeof webhookWithSecretResponse>> {
  const { secrets } = deps.webhooks;
  if (!secrets) throw new AppError("CONFLICT", "webhooks are not set up on this deployment (WEBHOOK_SECRET_KEY is unset)");
  await assertDeliverable(new URL(input.url), deps.webhooks.allowPrivate);
  const secret = newWebhookSecret();
  const row = await deps.db.$transaction(async (tx) => {
    const data = { url: input.url, events: input.events, secretCiphertext: secrets.encrypt(secret) };
    const saved = await tx.insightWebhook.upsert({
      where: { clientId: caller.workspaceId },
      create: { clientId: caller.workspaceId, ...data },
      update: data,
    });
    await recordAuditEvent(tx, caller, { action: "WEBHOOK_SET", details: { url: input.url, events: input.events } });
    return saved;
  });
  return { ...toWebhookDto(row), secret };
}

async function assertDeliverable(url: URL, allowPrivate: boolean): Promise<void> {
  try {
    await assertPublicUrl(url, allowPrivate);
  } catch (err) {
    const message =
      err instanceof ForbiddenAddressError
        ? `${err.message}; webhooks may only reach public addresses`
        : `${url.hostname} does not resolve`;
    throw validationFailed([{ path: "body.url", message }]);
  }
}

export async function getWebhook(db: Db, caller: Caller): Promise<WebhookDto> {
  const row = await db.insightWebhook.findUnique({ where: { clientId: caller.workspaceId } });
  if (!row) throw notFound("webhook");
  return toWebhookDto(row);
}

/** Deliveries not yet made fail at their next attempt (the worker finds no webhook); their log stays. */
export async function removeWebhook(db: Db, caller: Caller): Promise<z.output<typeof removedWebhookResponse>> {
  return db.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<Array<{ url: string }>>`
      DELETE FROM "InsightWebhook" WHERE "clientId" = ${caller.workspaceId} RETURNING "url"`;
    if (!row) throw notFound("webhook");
    await recordAuditEvent(tx, caller, { action: "WEBHOOK_REMOVED", details: { url: row.url } });
    return { url: row.url, removedAt: new Date() };
  });
}

/** Newest attempt first. */
export async function listDeliveryAttempts(
  db: Db,
  caller: Caller,
  page: { cursor?: Cursor | undefined; limit: number },
): Promise<z.output<typeof deliveryAttemptPage>> {
  const rows = await db.insightWebhookAttempt.findMany({
    where: { clientId: caller.workspaceId, ...afterCursor(page.cursor, "desc") },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
    include: { delivery: { select: { type: true, status: true } } },
  });
  const result = toPage(rows, page.limit);
  return {
    attempts: result.items.map((row) => ({
      id: row.id,
      deliveryId: row.deliveryId,
      type: row.delivery.type,
      attempt: row.attempt,
      url: row.url,
      statusCode: row.statusCode,
      error: row.error,
      durationMs: row.durationMs,
      deliveryStatus: row.delivery.status,
      createdAt: row.createdAt,
    })),
    nextCursor: result.nextCursor,
  };
}

/**
 * Key rotation (`npm run cli -- rotate-webhook-key`): re-seals every secret not yet under the current
 * WEBHOOK_SECRET_KEY, opening it with WEBHOOK_SECRET_KEY_PREVIOUS. Each row changes only if nobody re-set it
 * meanwhile. Returns how many were re-sealed.
 */
export async function resealWebhookSecrets(db: Db, secrets: SecretBox): Promise<number> {
  const rows = await db.insightWebhook.findMany({ select: { clientId: true, secretCiphertext: true } });
  let resealed = 0;
  for (const row of rows) {
    if (secrets.isCurrent(row.secretCiphertext)) continue;
    const { count } = await db.insightWebhook.updateMany({
      where: { clientId: row.clientId, secretCiphertext: row.secretCiphertext },
      data: { secretCiphertext: secrets.encrypt(secrets.decrypt(row.secretCiphertext)) },
    });
    resealed += count;
  }
  return resealed;
}
