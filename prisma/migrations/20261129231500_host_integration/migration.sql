-- AlterEnum
ALTER TYPE "AuditActorType" ADD VALUE 'SERVICE';

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "InsightChatAuditAction" ADD VALUE 'MEMBER_ADDED';
ALTER TYPE "InsightChatAuditAction" ADD VALUE 'MEMBER_ROLE_CHANGED';
ALTER TYPE "InsightChatAuditAction" ADD VALUE 'MEMBER_REMOVED';
ALTER TYPE "InsightChatAuditAction" ADD VALUE 'LEAD_ERASED';

-- AlterTable
ALTER TABLE "WorkspaceSettings" ALTER COLUMN "insightsChatModel" DROP NOT NULL,
ALTER COLUMN "insightsChatModel" DROP DEFAULT;

-- CreateTable
CREATE TABLE "IdempotencyKey" (
    "userId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "responseStatus" INTEGER,
    "responseBody" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "IdempotencyKey_pkey" PRIMARY KEY ("userId","key")
);

-- CreateIndex
CREATE INDEX "IdempotencyKey_clientId_idx" ON "IdempotencyKey"("clientId");

-- CreateIndex
CREATE INDEX "IdempotencyKey_createdAt_idx" ON "IdempotencyKey"("createdAt");

-- AddForeignKey
ALTER TABLE "IdempotencyKey" ADD CONSTRAINT "IdempotencyKey_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "IdempotencyKey" ADD CONSTRAINT "IdempotencyKey_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------------------------------
-- Hand-written (the engine's diff ignores functions, CHECK constraints and data).
-- ---------------------------------------------------------------------------------------------------------------

-- The host's backend (SERVICE) acts without a member, like the service itself (SYSTEM): only a USER event must name
-- its actor. Written against 'USER' because a value added to an enum cannot be used in the transaction that adds it.
ALTER TABLE "InsightChatAuditEvent" DROP CONSTRAINT "InsightChatAuditEvent_actor_check";
ALTER TABLE "InsightChatAuditEvent" ADD CONSTRAINT "InsightChatAuditEvent_actor_check"
  CHECK (("actorType" <> 'USER') OR ("actorId" IS NOT NULL));

-- Audit events stay append-only, with one deliberate exception: offboarding a workspace (DELETE
-- /v1/workspaces/:id) deletes that workspace's events inside a transaction that first names it with
-- set_config('insights.offboarding_workspace', <id>, true). The setting is transaction-local, covers DELETE only and
-- only rows of the named workspace; every UPDATE, every other DELETE and every TRUNCATE is still refused. Replaces
-- the function the initial migration created; its triggers stay as they are.
CREATE OR REPLACE FUNCTION "InsightChatAuditEvent_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD."clientId" = current_setting('insights.offboarding_workspace', true) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'InsightChatAuditEvent is append-only'
    USING DETAIL = TG_OP || ' is not allowed on audit events', ERRCODE = 'P0001';
END;
$$;

-- Until now every settings row was created holding the old built-in default; no admin could have chosen another
-- deployment's default. Those rows now follow the deployment's LLM_MODEL.
UPDATE "WorkspaceSettings" SET "insightsChatModel" = NULL WHERE "insightsChatModel" = 'gpt-5-mini';
