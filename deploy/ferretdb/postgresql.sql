-- Applied by deploy/stack.sh to FerretDB's PostgreSQL database at every start; idempotent.
--
-- FerretDB 1.24 looks a document up by _id with  WHERE _jsonb->$1 @> $2  (key and value as
-- parameters). Its own btree index on (_jsonb->'_id') cannot serve @>, so every lookup, update and
-- findAndModify by _id scanned the whole table: 10 ms at 20,000 documents, growing with the
-- collection. A GIN index on the same expression serves @>, once the planner sees the key as a
-- constant, which needs a custom plan for each execution of FerretDB's prepared statements.
--
-- The same holds for the status: the scheduler and the sweepers look for the few SCHEDULED,
-- PENDING or overdue notifications once a second, which scanned every notification without it.
--
-- The list and the statistics read by equality too (docs/READS.md): a page of notifications by
-- listBucket (tenant and minute), the counters by scope. FerretDB names a collection's table
-- "<collection>_<8 hex digits>", which is how the function below tells them apart.

ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan;

CREATE OR REPLACE FUNCTION wavecom_index_document_ids(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  field text;
  fields text[] := ARRAY['_id', 'status'];
  relname text := (parse_ident(tbl::text))[2];
BEGIN
  IF relname ~ '^notifications_[0-9a-f]{8}$' THEN
    fields := fields || 'listBucket';
  ELSIF relname ~ '^notification_counters_[0-9a-f]{8}$' THEN
    fields := ARRAY['_id', 'scope'];
  END IF;
  FOREACH field IN ARRAY fields LOOP
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)',
                   left(relname, 40) || '_' || trim(leading '_' from lower(field)) || '_gin',
                   tbl, field);
  END LOOP;
END
$fn$;

-- Collections FerretDB creates from now on.
CREATE OR REPLACE FUNCTION wavecom_index_new_collections() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  created record;
BEGIN
  FOR created IN
    SELECT objid FROM pg_event_trigger_ddl_commands()
    WHERE command_tag = 'CREATE TABLE' AND object_type = 'table'
  LOOP
    IF (SELECT relname FROM pg_class WHERE oid = created.objid) NOT LIKE '\_ferretdb\_%' THEN
      PERFORM wavecom_index_document_ids(created.objid::regclass);
    END IF;
  END LOOP;
END
$fn$;

DROP EVENT TRIGGER IF EXISTS wavecom_index_new_collections;
CREATE EVENT TRIGGER wavecom_index_new_collections ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION wavecom_index_new_collections();

-- Collections that existed before.
DO $do$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_jsonb'
    WHERE c.relkind = 'r' AND c.relname NOT LIKE '\_ferretdb\_%'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  LOOP
    PERFORM wavecom_index_document_ids(t.oid::regclass);
  END LOOP;
END
$do$;
