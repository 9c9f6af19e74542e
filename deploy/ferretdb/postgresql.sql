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
-- listBucket (tenant and minute), listSlot (tenant and second) or listDayKind (tenant, day, type and priority), the counters by scope, a tenant's key usage by tenantId.
-- An endpoint's replay reads its deliveries by endpointId, its health its hours by endpointId.

ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan;

-- The statement statistics, when the server loads their library (deploy/stack.sh starts it so).
DO $do$
BEGIN
  IF current_setting('shared_preload_libraries') ~ 'pg_stat_statements' THEN
    CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
  END IF;
END
$do$;

-- The fields each collection is looked up by. FerretDB names a collection's table after it with a
-- suffix of eight hex digits. The audit trail is read by notificationId only (its entries are
-- never looked up by _id), so it gets no _id index of ours.
CREATE OR REPLACE FUNCTION wavecom_lookup_fields(tbl regclass) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE
    WHEN (parse_ident(tbl::text))[2] ~ '^notifications_[0-9a-f]{8}$'
      THEN ARRAY['_id', 'status', 'listBucket', 'listSlot', 'listDayKind', 'endpointId']
    WHEN (parse_ident(tbl::text))[2] ~ '^notification_counters_[0-9a-f]{8}$' THEN ARRAY['_id', 'scope']
    WHEN (parse_ident(tbl::text))[2] ~ '^notification_logs_[0-9a-f]{8}$' THEN ARRAY['notificationId']
    WHEN (parse_ident(tbl::text))[2] ~ '^api_key_usage_[0-9a-f]{8}$' THEN ARRAY['_id', 'tenantId']
    -- Event subscriptions: a tenant's endpoints by tenantId; events by the fan-out mark the
    -- sweeper looks for (docs/ARCHITECTURE.md §14).
    WHEN (parse_ident(tbl::text))[2] ~ '^endpoints_[0-9a-f]{8}$' THEN ARRAY['_id', 'tenantId']
    WHEN (parse_ident(tbl::text))[2] ~ '^events_[0-9a-f]{8}$' THEN ARRAY['_id', 'fanout']
    WHEN (parse_ident(tbl::text))[2] ~ '^endpoint_health_[0-9a-f]{8}$' THEN ARRAY['_id', 'endpointId']
    -- A tenant's suppression list, preferences and categories are listed by tenantId; the
    -- worker reads one entry by _id per delivery (docs/ARCHITECTURE.md §16).
    WHEN (parse_ident(tbl::text))[2] ~ '^(suppressions|recipient_preferences|categories)_[0-9a-f]{8}$'
      THEN ARRAY['_id', 'tenantId']
    ELSE ARRAY['_id']
  END
$fn$;

-- fastupdate is off: with it on, every insert of a new entry lands in the index's pending list,
-- which each lookup then scans linearly until a vacuum merges it. On the write path that list
-- cost PostgreSQL more than half of its time per findAndModify (measured: 0.82-0.92 ms of
-- database CPU per call without it, 1.48-1.63 ms with it).
--
-- A field only some documents have (endpointId: an event's deliveries among all notifications)
-- gets a partial index of the documents that have it, so that the others' inserts and updates
-- pay nothing for it; a lookup's  _jsonb->'endpointId' @> ...  implies the index's IS NOT NULL.
CREATE OR REPLACE FUNCTION wavecom_index_document_ids(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  field text;
  idx text;
  sparse boolean;
BEGIN
  FOREACH field IN ARRAY wavecom_lookup_fields(tbl) LOOP
    sparse := field = 'endpointId';
    idx := left((parse_ident(tbl::text))[2], 40) || '_' || trim(leading '_' from field) || '_gin'
           || CASE WHEN sparse THEN '_some' ELSE '' END;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops) '
                   'WITH (fastupdate = off)%s', idx, tbl, field,
                   CASE WHEN sparse THEN format(' WHERE (_jsonb -> %L) IS NOT NULL', field)
                        ELSE '' END);
    EXECUTE format('ALTER INDEX %I.%I SET (fastupdate = off)', (parse_ident(tbl::text))[1], idx);
    PERFORM gin_clean_pending_list(format('%I.%I', (parse_ident(tbl::text))[1], idx)::regclass);
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
