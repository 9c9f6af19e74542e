#!/usr/bin/env bash
# loadtest/reads.sh: the reads-at-scale benchmark: every status endpoint's latency, and the CPU
# that polling dashboards cost, with N notifications in the database and a write load running.
#
#   loadtest/reads.sh [--count N] [--pollers P] [--duration S] [--write-rate R] [--reuse-db DB]
#                     [--page-loads L]
#
# It builds a Release build in build-bench/ (no sanitizers), starts wavecom-api (and, for the write
# load, a wavecom-worker pool) against the running local services (deploy/stack.sh services) on a
# database of its own (wc_bench_reads_<time>) and a RabbitMQ vhost of its own, and then:
#   1. fills N notifications (default 1,000,000; loadtest/reads_fill.py: 10 tenants, a realistic
#      mix of statuses, channels and priorities, ages over 30 days, and the counters that match
#      them) with insert_many, timed; on FerretDB adds the GIN indexes of
#      deploy/ferretdb/postgresql.sql to the new tables (built after the load, which is faster);
#   2. phase "write": submits notifications at R/s (default 110/s, half the measured end-to-end
#      capacity; loadtest/e2e_submit.py, open loop) for S seconds (default 120), CPU measured;
#   3. phase "read": the same write load plus P dashboards (default 50; loadtest/reads_poll.py)
#      polling every 5 s for S seconds, with ETags, each also clicking through a deep page, every
#      filter, the next page by cursor, one notification, the DLQ and the audit list;
#   4. pages: with the write load still running, loads the dashboard's Overview and Notifications
#      pages in Chromium L times each (default 5), cold and warm, as tenant 0 (the busy one) and
#      tenant 1 (loadtest/dashboard_load.cjs; skipped, with a warning, without Chromium);
#   5. reports (loadtest/reads_report.py): p50/p95/p99 per endpoint, the CPU of each process in
#      both phases and what the readers added, and the page loads, as loadtest/results/reads.json
#      and reads.md, which loadtest/report.py puts into RESULTS.md.
#
# On FerretDB each CPU snapshot has PostgreSQL's own counters beside it (loadtest/pg_stats.py), and
# each phase's difference goes to pg_write.md and pg_read.md in the logs: statements by time, buffer
# hit ratios, WAL, dead rows.
#
# --reuse-db DB skips the fill and reads DB again (its tenants are in
# .wavecom/loadtest/reads-DB.json from the run that filled it). What earlier runs left in flight
# there is counted first: the sweepers queue it again, so its deliveries land in the write phase's
# CPU, and the report marks such a run as not comparable with one on a fresh fill (measured in
# loadtest/ANALYSIS.md: 14.5 against 6.1 ms per notification). The database is left in place
# (dropping one while other clients work can stall FerretDB's PostgreSQL backend). On a machine
# shared with other benchmarks, run it under the same lock they take (flock LOCKFILE loadtest/reads.sh).
# Every process it started is stopped at exit. Logs: .wavecom/loadtest/reads-<time>/.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
COUNT=1000000
POLLERS=50
DURATION=120
WRITE_RATE=110
REUSE_DB=
PAGE_LOADS=5
WORKERS=${WAVECOM_WORKER_PROCESSES:-2}
PORT=${WAVECOM_LOADTEST_PORT:-5180}
MONGODB_URI=${WAVECOM_LOADTEST_MONGODB_URI:-mongodb://127.0.0.1:27017}
PSQL=${WAVECOM_LOADTEST_PSQL:-/usr/lib/postgresql/15/bin/psql}
PG_PORT=${WAVECOM_POSTGRES_PORT:-5433}
BUILD=${WAVECOM_LOADTEST_BUILD:-$LT_ROOT/build-bench}
RESULTS=${WAVECOM_LOADTEST_RESULTS:-$LT_ROOT/loadtest/results}

lt_parse_options lt_header_help --count=COUNT --pollers=POLLERS --duration=DURATION \
  --write-rate=WRITE_RATE --reuse-db=REUSE_DB --page-loads=PAGE_LOADS -- "$@"
lt_need_whole_numbers COUNT POLLERS DURATION WRITE_RATE WORKERS PORT PAGE_LOADS
((PAGE_LOADS >= 1 && PAGE_LOADS <= 100)) || die "--page-loads must be 1 to 100"
((DURATION >= 10 && DURATION <= 1800)) || die "--duration must be 10 to 1800 seconds"
((COUNT <= 5000000)) || die "--count is at most 5,000,000"
[[ -z $REUSE_DB || $REUSE_DB =~ ^wc_bench_reads_[0-9_]+$ ]] || die "--reuse-db takes a wc_bench_reads_* name"
[[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"
lt_port_free "$PORT" || die "port $PORT is in use (WAVECOM_LOADTEST_PORT chooses another)"

STAMP=$(date +%Y%m%d-%H%M%S)
DB=${REUSE_DB:-wc_bench_reads_${STAMP//-/_}}
VHOST=wc_bench_reads_${STAMP//-/_}
OUT=$LT_ROOT/.wavecom/loadtest/reads-$STAMP
TENANTS=$LT_ROOT/.wavecom/loadtest/reads-$DB.json
mkdir -p "$OUT" "$RESULTS"
say "building $BUILD (Release, no sanitizers)"
lt_build "$BUILD"
lt_vhost_fresh "$VHOST"

export WAVECOM_MONGODB_URI=$MONGODB_URI
export WAVECOM_MONGODB_DB=$DB
export WAVECOM_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/$VHOST
export WAVECOM_API_HOST=127.0.0.1
export WAVECOM_API_PORT=$PORT
export WAVECOM_API_PER_IP_LIMIT=${WAVECOM_API_PER_IP_LIMIT:-1024}
export WAVECOM_LOG_LEVEL=${WAVECOM_LOG_LEVEL:-warn}
export WAVECOM_WORKER_PROCESSES=$WORKERS
lt_export_provider_env

SUBMIT_PID=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  [[ -n $SUBMIT_PID ]] && lt_stop_pid "$SUBMIT_PID" 10
  lt_stop_services 60
  lt_vhost_delete "$VHOST"
  printf 'note: the database %s is left in place\n' "$DB" >&2
  exit "$rc"
}
lt_on_exit cleanup

# The API first: it creates the MongoDB indexes while the collections are still empty.
lt_start_api "$BUILD" "$OUT/api.log"

FILL_JSON=$OUT/fill.json
if [[ -n $REUSE_DB ]]; then
  [[ -f $TENANTS ]] || die "no $TENANTS: was $REUSE_DB filled by this script?"
  cp "$TENANTS" "$FILL_JSON"
  say "reusing $DB"
  # What an earlier run left in flight (its retries and claims outlive it, its vhost does not): the
  # API's sweepers queue those again as lost once they are overdue, so the worker delivers them
  # during this run's write phase, whose CPU then counts them too. The report names the count.
  "$LT_PYTHON" - "$MONGODB_URI" "$DB" >"$OUT/inflight.json" 2>"$OUT/inflight.log" <<'PY' ||
import json, sys
import pymongo
db = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)[sys.argv[2]]
print(json.dumps({s: db.notifications.count_documents({"status": s})
                  for s in ("PENDING", "QUEUED", "PROCESSING", "RETRYING")}))
PY
    warn "could not count the notifications left in flight (see $OUT/inflight.log)"
  say "left in flight by earlier runs: $(cat "$OUT/inflight.json" 2>/dev/null)"
else
  say "filling $COUNT notifications into $DB"
  "$LT_PYTHON" "$LT_ROOT/loadtest/reads_fill.py" --uri "$MONGODB_URI" --db "$DB" --count "$COUNT" \
    >"$FILL_JSON" 2>"$OUT/fill.log" || die "reads_fill.py failed (see $OUT/fill.log)"
  cp "$FILL_JSON" "$TENANTS"
  # FerretDB: the GIN indexes that serve listBucket and scope, named as deploy/ferretdb/postgresql.sql
  # names them (it adds them to tables created after it is applied; a stack started before it
  # learnt these fields has not).
  if "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc 'SELECT 1' ferretdb >/dev/null 2>&1; then
    say "indexing listBucket, listSlot, listDayKind and scope (GIN) in schema $DB"
    started=$(date +%s.%N)
    "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q ferretdb >"$OUT/gin.log" 2>&1 <<SQL || die "creating the GIN indexes failed (see $OUT/gin.log)"
DO \$do\$
DECLARE t record;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = '$DB' AND c.relkind = 'r' LOOP
    IF t.relname ~ '^notifications_[0-9a-f]{8}\$' THEN
      EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops) '
                     'WITH (fastupdate = off)', t.relname || '_listBucket_gin', '$DB', t.relname,
                     'listBucket');
      EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops) '
                     'WITH (fastupdate = off)', t.relname || '_listSlot_gin', '$DB', t.relname,
                     'listSlot');
      EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops) '
                     'WITH (fastupdate = off)', t.relname || '_listDayKind_gin', '$DB', t.relname,
                     'listDayKind');
    ELSIF t.relname ~ '^notification_counters_[0-9a-f]{8}\$' THEN
      EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops) '
                     'WITH (fastupdate = off)', t.relname || '_scope_gin', '$DB', t.relname, 'scope');
    END IF;
    EXECUTE format('ANALYZE %I.%I', '$DB', t.relname);
  END LOOP;
END
\$do\$;
SQL
    echo "{\"gin_seconds\": $(echo "$(date +%s.%N) - $started" | bc)}" >"$OUT/gin.json"
  fi
fi
KEY=$("$LT_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tenants"][0]["key"])' "$FILL_JSON")
TENANT0=$("$LT_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tenants"][0]["id"])' "$FILL_JSON")

# The CPU of every process (FILE) and, on FerretDB, PostgreSQL's own counters beside it
# (pg_FILE without the cpu_ prefix: loadtest/pg_stats.py; its diff of a phase goes to pg_PHASE.md).
snapshot() { # FILE
  local pids=(--pid "api=$LT_API_PID")
  [[ -n $LT_WORKER_PID ]] && pids+=(--pid "worker=$LT_WORKER_PID")
  "$LT_PYTHON" "$LT_ROOT/loadtest/cpu_snapshot.py" "${pids[@]}" >"$1"
  if [[ -n $PG_STATS ]]; then
    local pg=${1%/*}/pg_${1##*/cpu_}
    "$LT_PYTHON" "$LT_ROOT/loadtest/pg_stats.py" snapshot --schema "$DB" >"$pg" 2>>"$OUT/pg_stats.log" ||
      warn "pg_stats.py snapshot failed (see $OUT/pg_stats.log)"
  fi
}
PG_STATS=
if "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc 'SELECT 1' ferretdb >/dev/null 2>&1; then PG_STATS=1; fi

if ((WRITE_RATE > 0)); then
  lt_start_worker "$BUILD" "$OUT/worker.log"
  # The webhook double checks signatures: without the tenant's secret it answers 401 and every
  # webhook of the load is retried, which the write phase would count as part of its cost.
  lt_register_webhook_secret "http://127.0.0.1:${WAVECOM_DOUBLES_CONTROL_PORT:-4000}" "$MONGODB_URI" \
    "$DB" "$TENANT0" "/reads-$STAMP"
  say "write load: $WRITE_RATE notifications/s into tenant 0"
  WAVECOM_E2E_KEY=$KEY "$LT_PYTHON" "$LT_ROOT/loadtest/e2e_submit.py" --url "http://127.0.0.1:$PORT" \
    --count $((WRITE_RATE * (2 * DURATION + 120))) --rate "$WRITE_RATE" --batch 50 --concurrency 8 \
    --duration $((2 * DURATION + 120)) --webhook-base "http://127.0.0.1:4040/reads-$STAMP" \
    --ids-out "$OUT/ids.txt" --stats-out "$OUT/submit.json" 2>"$OUT/submit.log" &
  SUBMIT_PID=$!
  sleep 10 # past the ramp-up
fi

say "phase write: $DURATION s"
snapshot "$OUT/cpu_write_0.json"
sleep "$DURATION"
snapshot "$OUT/cpu_write_1.json"

say "phase read: $POLLERS dashboards polling every 5 s for $DURATION s"
snapshot "$OUT/cpu_read_0.json"
"$LT_PYTHON" "$LT_ROOT/loadtest/reads_poll.py" --url "http://127.0.0.1:$PORT" --tenants "$FILL_JSON" \
  --pollers "$POLLERS" --duration "$DURATION" --out "$OUT/poll.json" >&2
snapshot "$OUT/cpu_read_1.json"

# The dashboard's pages in Chromium, while the write load goes on (its submitter runs 110 s past
# the two phases, long enough for these): the busy tenant 0 and an ordinary tenant 1, PAGE_LOADS loads per page and mode
# (5 take about 15 s a tenant).
NODE_MODULES=${WAVECOM_BROWSER_NODE_MODULES:-$LT_ROOT/.wavecom/browser/node_modules}
if [[ -x /usr/bin/chromium && -d $NODE_MODULES/playwright-core ]] && command -v node >/dev/null; then
  for t in 0 1; do
    say "page loads in Chromium: tenant $t"
    WAVECOM_BROWSER_NODE_MODULES=$NODE_MODULES WAVECOM_DASHBOARD_KEY=$("$LT_PYTHON" -c \
      'import json,sys; print(json.load(open(sys.argv[1]))["tenants"][int(sys.argv[2])]["key"])' \
      "$FILL_JSON" "$t") node "$LT_ROOT/loadtest/dashboard_load.cjs" --url "http://127.0.0.1:$PORT" \
      --loads "$PAGE_LOADS" --overall-timeout-s 120 --out "$OUT/pages_tenant$t.json" >&2 ||
      warn "some page loads of tenant $t failed (see $OUT/pages_tenant$t.json)"
  done
else
  warn "no Chromium or playwright-core ($NODE_MODULES): page loads not measured (deploy/stack.sh install)"
fi

if [[ -n $SUBMIT_PID ]]; then
  lt_stop_pid "$SUBMIT_PID" 10
  SUBMIT_PID=
fi
if [[ -n $PG_STATS ]]; then
  for phase in write read; do
    "$LT_PYTHON" "$LT_ROOT/loadtest/pg_stats.py" diff "$OUT/pg_${phase}_0.json" "$OUT/pg_${phase}_1.json" \
      --rate "$WRITE_RATE" >"$OUT/pg_$phase.md" 2>>"$OUT/pg_stats.log" ||
      warn "pg_stats.py diff of phase $phase failed (see $OUT/pg_stats.log)"
  done
fi
"$LT_PYTHON" "$LT_ROOT/loadtest/reads_report.py" --out-dir "$OUT" --results "$RESULTS" --db "$DB" \
  --count "$COUNT" --write-rate "$WRITE_RATE" --duration "$DURATION" \
  --command "loadtest/reads.sh --count $COUNT --pollers $POLLERS --duration $DURATION --write-rate $WRITE_RATE${REUSE_DB:+ --reuse-db $REUSE_DB} --page-loads $PAGE_LOADS"
