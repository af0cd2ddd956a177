-- CreateTable
CREATE TABLE "InsightContextPackChunk" (
    "packId" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "fromPosition" INTEGER NOT NULL,
    "toPosition" INTEGER NOT NULL,
    "runToken" TEXT,
    "done" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "InsightContextPackChunk_pkey" PRIMARY KEY ("packId","index")
);

-- AddForeignKey
ALTER TABLE "InsightContextPackChunk" ADD CONSTRAINT "InsightContextPackChunk_packId_fkey" FOREIGN KEY ("packId") REFERENCES "InsightContextPack"("id") ON DELETE CASCADE ON UPDATE CASCADE;
