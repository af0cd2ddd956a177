-- AlterTable
ALTER TABLE "InsightContextPack" ADD COLUMN     "listGeneration" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "runModel" TEXT,
ADD COLUMN     "runReasoningEffort" TEXT;
