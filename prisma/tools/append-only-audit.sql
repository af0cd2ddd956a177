
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
