-- CreateEnum
CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('PENDING', 'DELIVERED', 'FAILED');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "InsightChatAuditAction" ADD VALUE 'WEBHOOK_SET';
ALTER TYPE "InsightChatAuditAction" ADD VALUE 'WEBHOOK_REMOVED';

-- CreateTable
CREATE TABLE "InsightWebhook" (
    "clientId" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "events" TEXT[],
    "secretCiphertext" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InsightWebhook_pkey" PRIMARY KEY ("clientId")
);

-- CreateTable
CREATE TABLE "InsightWebhookDelivery" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "subjectId" TEXT NOT NULL,
    "eventKey" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "InsightWebhookDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InsightWebhookAttempt" (
    "id" TEXT NOT NULL,
    "deliveryId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "url" TEXT NOT NULL,
    "statusCode" INTEGER,
    "error" TEXT,
    "durationMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "InsightWebhookAttempt_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "InsightWebhookDelivery_clientId_createdAt_idx" ON "InsightWebhookDelivery"("clientId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "InsightWebhookDelivery_subjectId_idx" ON "InsightWebhookDelivery"("subjectId");

-- CreateIndex
CREATE INDEX "InsightWebhookDelivery_status_createdAt_idx" ON "InsightWebhookDelivery"("status", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "InsightWebhookDelivery_clientId_eventKey_key" ON "InsightWebhookDelivery"("clientId", "eventKey");

-- CreateIndex
CREATE INDEX "InsightWebhookAttempt_clientId_createdAt_idx" ON "InsightWebhookAttempt"("clientId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "InsightWebhookAttempt_deliveryId_idx" ON "InsightWebhookAttempt"("deliveryId");

-- AddForeignKey
ALTER TABLE "InsightWebhook" ADD CONSTRAINT "InsightWebhook_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightWebhookDelivery" ADD CONSTRAINT "InsightWebhookDelivery_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightWebhookAttempt" ADD CONSTRAINT "InsightWebhookAttempt_deliveryId_fkey" FOREIGN KEY ("deliveryId") REFERENCES "InsightWebhookDelivery"("id") ON DELETE CASCADE ON UPDATE CASCADE;
