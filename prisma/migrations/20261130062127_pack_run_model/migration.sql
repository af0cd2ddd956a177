-- AlterTable
ALTER TABLE "InsightContextPack" ADD COLUMN     "runModel" TEXT,
ADD COLUMN     "runReasoningEffort" TEXT;
