-- AlterTable
ALTER TABLE "InsightContextPack" ADD COLUMN     "version" INTEGER NOT NULL DEFAULT 0;

-- Hand-written (the schema engine's diff ignores triggers): every UPDATE of a pack bumps its version, whichever
-- process writes it and however (Prisma or raw SQL), so no writer can forget to.
CREATE FUNCTION "InsightContextPack_bump_version"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW."version" := OLD."version" + 1;
  RETURN NEW;
END;
$$;

CREATE TRIGGER "InsightContextPack_version"
  BEFORE UPDATE ON "InsightContextPack"
  FOR EACH ROW EXECUTE FUNCTION "InsightContextPack_bump_version"();
