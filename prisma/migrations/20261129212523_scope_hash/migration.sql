-- The unique key of a session's packs moves from the scope key (as long as its campaign ids: past the B-tree entry
-- limit for 50 long ids) to its sha256, which the API computes the same way (shared/src/scope/scope.ts).

-- DropIndex
DROP INDEX "InsightContextPack_sessionId_scopeKey_key";

-- AlterTable: existing rows get the hash of their key, then the column becomes required.
ALTER TABLE "InsightContextPack" ADD COLUMN     "scopeHash" TEXT;
UPDATE "InsightContextPack" SET "scopeHash" = encode(sha256(convert_to("scopeKey", 'UTF8')), 'hex');
ALTER TABLE "InsightContextPack" ALTER COLUMN "scopeHash" SET NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "InsightContextPack_sessionId_scopeHash_key" ON "InsightContextPack"("sessionId", "scopeHash");
