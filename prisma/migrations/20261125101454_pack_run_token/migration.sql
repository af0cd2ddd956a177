-- AlterTable
ALTER TABLE "InsightContextPack" ADD COLUMN     "runToken" TEXT;
