-- CreateEnum
CREATE TYPE "LlmUsageKind" AS ENUM ('EXTRACTION', 'SYNTHESIS', 'ANSWER', 'CACHE_REUSE', 'PACK_REUSE');

-- AlterTable
ALTER TABLE "InsightChatMessage" ADD COLUMN     "citedLeadIds" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "replyToId" TEXT;

-- CreateTable
CREATE TABLE "InsightLlmUsage" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "kind" "LlmUsageKind" NOT NULL,
    "packId" TEXT,
    "messageId" TEXT,
    "llmCalls" INTEGER NOT NULL DEFAULT 0,
    "inputTokens" INTEGER NOT NULL DEFAULT 0,
    "outputTokens" INTEGER NOT NULL DEFAULT 0,
    "savedInputTokens" INTEGER NOT NULL DEFAULT 0,
    "savedOutputTokens" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "InsightLlmUsage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "InsightLlmUsage_clientId_createdAt_idx" ON "InsightLlmUsage"("clientId", "createdAt");

-- AddForeignKey
ALTER TABLE "InsightChatMessage" ADD CONSTRAINT "InsightChatMessage_replyToId_fkey" FOREIGN KEY ("replyToId") REFERENCES "InsightChatMessage"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightLlmUsage" ADD CONSTRAINT "InsightLlmUsage_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;
