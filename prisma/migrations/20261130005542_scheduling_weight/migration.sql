-- AlterTable
ALTER TABLE "Client" ADD COLUMN     "schedulingWeight" INTEGER NOT NULL DEFAULT 1;
