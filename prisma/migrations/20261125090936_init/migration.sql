-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "WorkspaceRole" AS ENUM ('OWNER', 'ADMIN', 'MEMBER');

-- CreateEnum
CREATE TYPE "MessageDirection" AS ENUM ('INBOUND', 'OUTBOUND');

-- CreateEnum
CREATE TYPE "InsightsWindowPreset" AS ENUM ('LAST_7_DAYS', 'LAST_30_DAYS', 'LAST_90_DAYS', 'CUSTOM');

-- CreateEnum
CREATE TYPE "InsightChatRole" AS ENUM ('USER', 'ASSISTANT', 'SYSTEM');

-- CreateEnum
CREATE TYPE "InsightChatMessageStatus" AS ENUM ('PENDING', 'COMPLETE', 'FAILED');

-- CreateEnum
CREATE TYPE "InsightContextPackStatus" AS ENUM ('PENDING', 'RUNNING', 'COMPLETE', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "InsightContextPackStage" AS ENUM ('QUEUED', 'SELECTING', 'EXTRACTING', 'SYNTHESIZING', 'DONE');

-- CreateEnum
CREATE TYPE "ConversationInsightOutcome" AS ENUM ('MEETING_BOOKED', 'INTERESTED', 'FOLLOW_UP_LATER', 'NOT_INTERESTED', 'UNSUBSCRIBED', 'NO_REPLY', 'UNKNOWN');

-- CreateEnum
CREATE TYPE "AuditActorType" AS ENUM ('USER', 'SYSTEM');

-- CreateEnum
CREATE TYPE "InsightChatAuditAction" AS ENUM ('MESSAGE_CREATED', 'SESSION_DELETED', 'SESSION_RESTORED', 'SESSION_PURGED', 'PACK_RECOMPUTED', 'PACK_DELETED', 'SETTINGS_UPDATED', 'CAMPAIGN_UPSERTED', 'LEADS_INGESTED');

-- CreateEnum
CREATE TYPE "PackLeadStatus" AS ENUM ('PENDING', 'EXTRACTED', 'CACHED', 'FAILED');

-- CreateTable
CREATE TABLE "Client" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Client_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WorkspaceMembership" (
    "clientId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "role" "WorkspaceRole" NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WorkspaceMembership_pkey" PRIMARY KEY ("clientId","userId")
);

-- CreateTable
CREATE TABLE "WorkspaceSettings" (
    "clientId" TEXT NOT NULL,
    "insightsChatModel" TEXT NOT NULL DEFAULT 'gpt-5-mini',
    "insightsChatReasoningEffort" TEXT NOT NULL DEFAULT 'medium',
    "insightsChatEnableCampaignChanges" BOOLEAN NOT NULL DEFAULT false,
    "insightsChatEnableExperimentWrites" BOOLEAN NOT NULL DEFAULT false,
    "insightsChatEnableFollowupPauses" BOOLEAN NOT NULL DEFAULT false,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WorkspaceSettings_pkey" PRIMARY KEY ("clientId")
);

-- CreateTable
CREATE TABLE "Campaign" (
    "clientId" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Campaign_pkey" PRIMARY KEY ("clientId","id")
);

-- CreateTable
CREATE TABLE "Lead" (
    "clientId" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "campaignId" TEXT,
    "name" TEXT,
    "email" TEXT,
    "lastActivityAt" TIMESTAMP(3) NOT NULL,
    "threadFingerprint" TEXT NOT NULL,
    "threadUpdatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "messageCount" INTEGER NOT NULL DEFAULT 0,
    "inboundMessageCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Lead_pkey" PRIMARY KEY ("clientId","id")
);

-- CreateTable
CREATE TABLE "LeadMessage" (
    "clientId" TEXT NOT NULL,
    "leadId" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "direction" "MessageDirection" NOT NULL,
    "body" TEXT NOT NULL,
    "sentAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "LeadMessage_pkey" PRIMARY KEY ("clientId","leadId","id")
);

-- CreateTable
CREATE TABLE "InsightChatSession" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "createdById" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3),
    "deletedById" TEXT,

    CONSTRAINT "InsightChatSession_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InsightChatMessage" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "sessionId" TEXT NOT NULL,
    "role" "InsightChatRole" NOT NULL,
    "status" "InsightChatMessageStatus" NOT NULL DEFAULT 'COMPLETE',
    "content" TEXT NOT NULL,
    "authorId" TEXT,
    "packId" TEXT,
    "error" TEXT,
    "model" TEXT,
    "suggestions" JSONB,
    "llmCalls" INTEGER NOT NULL DEFAULT 0,
    "inputTokens" INTEGER NOT NULL DEFAULT 0,
    "outputTokens" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "InsightChatMessage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InsightContextPack" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "sessionId" TEXT NOT NULL,
    "scopeKey" TEXT NOT NULL,
    "windowPreset" "InsightsWindowPreset" NOT NULL,
    "windowFrom" TIMESTAMP(3) NOT NULL,
    "windowTo" TIMESTAMP(3) NOT NULL,
    "campaignIds" TEXT[],
    "campaignCap" INTEGER NOT NULL,
    "status" "InsightContextPackStatus" NOT NULL DEFAULT 'PENDING',
    "stage" "InsightContextPackStage" NOT NULL DEFAULT 'QUEUED',
    "generation" INTEGER NOT NULL DEFAULT 1,
    "forceRecompute" BOOLEAN NOT NULL DEFAULT false,
    "totalLeads" INTEGER NOT NULL DEFAULT 0,
    "processedLeads" INTEGER NOT NULL DEFAULT 0,
    "cachedLeads" INTEGER NOT NULL DEFAULT 0,
    "failedLeads" INTEGER NOT NULL DEFAULT 0,
    "percent" INTEGER NOT NULL DEFAULT 0,
    "synthesis" TEXT,
    "metrics" JSONB,
    "provider" TEXT,
    "model" TEXT,
    "llmCalls" INTEGER NOT NULL DEFAULT 0,
    "inputTokens" INTEGER NOT NULL DEFAULT 0,
    "outputTokens" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "requestedById" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "InsightContextPack_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InsightContextPackLead" (
    "packId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "leadId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "status" "PackLeadStatus" NOT NULL DEFAULT 'PENDING',
    "error" TEXT,
    "llmCalls" INTEGER NOT NULL DEFAULT 0,
    "inputTokens" INTEGER NOT NULL DEFAULT 0,
    "outputTokens" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "InsightContextPackLead_pkey" PRIMARY KEY ("packId","leadId")
);

-- CreateTable
CREATE TABLE "LeadConversationInsight" (
    "clientId" TEXT NOT NULL,
    "leadId" TEXT NOT NULL,
    "outcome" "ConversationInsightOutcome" NOT NULL,
    "summary" JSONB NOT NULL,
    "threadFingerprint" TEXT NOT NULL,
    "promptVersion" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "inputTokens" INTEGER NOT NULL DEFAULT 0,
    "outputTokens" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "LeadConversationInsight_pkey" PRIMARY KEY ("clientId","leadId")
);

-- CreateTable
CREATE TABLE "InsightChatUserPreference" (
    "clientId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "windowPreset" "InsightsWindowPreset" NOT NULL DEFAULT 'LAST_30_DAYS',
    "customFrom" TIMESTAMP(3),
    "customTo" TIMESTAMP(3),
    "campaignCap" INTEGER NOT NULL DEFAULT 10,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "InsightChatUserPreference_pkey" PRIMARY KEY ("clientId","userId")
);

-- CreateTable
CREATE TABLE "InsightChatAuditEvent" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "actorType" "AuditActorType" NOT NULL DEFAULT 'USER',
    "actorId" TEXT,
    "action" "InsightChatAuditAction" NOT NULL,
    "sessionId" TEXT,
    "packId" TEXT,
    "details" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "InsightChatAuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE INDEX "WorkspaceMembership_userId_idx" ON "WorkspaceMembership"("userId");

-- CreateIndex
CREATE INDEX "Lead_clientId_lastActivityAt_idx" ON "Lead"("clientId", "lastActivityAt" DESC);

-- CreateIndex
CREATE INDEX "Lead_clientId_campaignId_lastActivityAt_idx" ON "Lead"("clientId", "campaignId", "lastActivityAt" DESC);

-- CreateIndex
CREATE INDEX "Lead_clientId_threadUpdatedAt_idx" ON "Lead"("clientId", "threadUpdatedAt");

-- CreateIndex
CREATE INDEX "LeadMessage_clientId_leadId_sentAt_idx" ON "LeadMessage"("clientId", "leadId", "sentAt");

-- CreateIndex
CREATE INDEX "InsightChatSession_clientId_createdAt_idx" ON "InsightChatSession"("clientId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "InsightChatSession_deletedAt_idx" ON "InsightChatSession"("deletedAt");

-- CreateIndex
CREATE INDEX "InsightChatMessage_sessionId_createdAt_id_idx" ON "InsightChatMessage"("sessionId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "InsightChatMessage_status_createdAt_idx" ON "InsightChatMessage"("status", "createdAt");

-- CreateIndex
CREATE INDEX "InsightContextPack_sessionId_createdAt_idx" ON "InsightContextPack"("sessionId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "InsightContextPack_status_updatedAt_idx" ON "InsightContextPack"("status", "updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "InsightContextPack_sessionId_scopeKey_key" ON "InsightContextPack"("sessionId", "scopeKey");

-- CreateIndex
CREATE INDEX "InsightContextPackLead_packId_status_position_idx" ON "InsightContextPackLead"("packId", "status", "position");

-- CreateIndex
CREATE INDEX "InsightContextPackLead_clientId_leadId_idx" ON "InsightContextPackLead"("clientId", "leadId");

-- CreateIndex
CREATE INDEX "InsightChatAuditEvent_clientId_createdAt_id_idx" ON "InsightChatAuditEvent"("clientId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "InsightChatAuditEvent_clientId_sessionId_createdAt_idx" ON "InsightChatAuditEvent"("clientId", "sessionId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "InsightChatAuditEvent_clientId_packId_createdAt_idx" ON "InsightChatAuditEvent"("clientId", "packId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "InsightChatAuditEvent_clientId_action_createdAt_idx" ON "InsightChatAuditEvent"("clientId", "action", "createdAt" DESC);

-- AddForeignKey
ALTER TABLE "WorkspaceMembership" ADD CONSTRAINT "WorkspaceMembership_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkspaceMembership" ADD CONSTRAINT "WorkspaceMembership_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkspaceSettings" ADD CONSTRAINT "WorkspaceSettings_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Campaign" ADD CONSTRAINT "Campaign_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Lead" ADD CONSTRAINT "Lead_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Lead" ADD CONSTRAINT "Lead_clientId_campaignId_fkey" FOREIGN KEY ("clientId", "campaignId") REFERENCES "Campaign"("clientId", "id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LeadMessage" ADD CONSTRAINT "LeadMessage_clientId_leadId_fkey" FOREIGN KEY ("clientId", "leadId") REFERENCES "Lead"("clientId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatSession" ADD CONSTRAINT "InsightChatSession_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatSession" ADD CONSTRAINT "InsightChatSession_createdById_fkey" FOREIGN KEY ("createdById") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatSession" ADD CONSTRAINT "InsightChatSession_deletedById_fkey" FOREIGN KEY ("deletedById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatMessage" ADD CONSTRAINT "InsightChatMessage_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatMessage" ADD CONSTRAINT "InsightChatMessage_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "InsightChatSession"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatMessage" ADD CONSTRAINT "InsightChatMessage_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightContextPack" ADD CONSTRAINT "InsightContextPack_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightContextPack" ADD CONSTRAINT "InsightContextPack_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "InsightChatSession"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightContextPack" ADD CONSTRAINT "InsightContextPack_requestedById_fkey" FOREIGN KEY ("requestedById") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightContextPackLead" ADD CONSTRAINT "InsightContextPackLead_packId_fkey" FOREIGN KEY ("packId") REFERENCES "InsightContextPack"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightContextPackLead" ADD CONSTRAINT "InsightContextPackLead_clientId_leadId_fkey" FOREIGN KEY ("clientId", "leadId") REFERENCES "Lead"("clientId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LeadConversationInsight" ADD CONSTRAINT "LeadConversationInsight_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LeadConversationInsight" ADD CONSTRAINT "LeadConversationInsight_clientId_leadId_fkey" FOREIGN KEY ("clientId", "leadId") REFERENCES "Lead"("clientId", "id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatUserPreference" ADD CONSTRAINT "InsightChatUserPreference_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatUserPreference" ADD CONSTRAINT "InsightChatUserPreference_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatAuditEvent" ADD CONSTRAINT "InsightChatAuditEvent_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InsightChatAuditEvent" ADD CONSTRAINT "InsightChatAuditEvent_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------------------------------
-- Hand-written: rules schema.prisma cannot express. Kept in prisma/tools/append-only-audit.sql and appended to the
-- initial migration (see prisma/tools/migrate-create.ts). The schema engine's diff ignores triggers, functions and
-- CHECK constraints, so `npm run db:migration:create -- --check` stays clean and no later migration drops them.
-- ---------------------------------------------------------------------------------------------------------------

-- Audit events are append-only. UPDATE and DELETE are refused row by row (a cascading id change reaches this too);
-- TRUNCATE fires no row triggers, so a statement trigger refuses it.
CREATE FUNCTION "InsightChatAuditEvent_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'InsightChatAuditEvent is append-only'
    USING DETAIL = TG_OP || ' is not allowed on audit events', ERRCODE = 'P0001';
END;
$$;

CREATE TRIGGER "InsightChatAuditEvent_no_update_delete"
  BEFORE UPDATE OR DELETE ON "InsightChatAuditEvent"
  FOR EACH ROW EXECUTE FUNCTION "InsightChatAuditEvent_append_only"();

CREATE TRIGGER "InsightChatAuditEvent_no_truncate"
  BEFORE TRUNCATE ON "InsightChatAuditEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION "InsightChatAuditEvent_append_only"();

-- Only the service itself acts without a member: a USER event must name its actor.
ALTER TABLE "InsightChatAuditEvent" ADD CONSTRAINT "InsightChatAuditEvent_actor_check"
  CHECK (("actorType" = 'SYSTEM') OR ("actorId" IS NOT NULL));
