#!/usr/bin/env bash
# loadtest/intake.sh: the durable intake rate of wavecom-api on this machine: 201s per second
# through single requests and through the batch endpoint, latency percentiles, the API's peak RSS.
#
#   loadtest/intake.sh [--duration S] [--connections "16 64 256"] [--batch-duration S]
#                      [--results DIR] [--workers N]
#
# It builds a Release build in build-perf/ (no sanitizers), starts wavecom-api and a wavecom-worker
# pool (delivering the same SMS notifications to the Twilio test double, so the database and the
# CPUs carry the whole system) against the running local services (deploy/stack.sh services) on a
# fresh database and a RabbitMQ vhost of its own, creates a tenant and a key, and then:
#   1. single requests: wrk (loadtest/intake.lua) once per connection count, closed loop, for
#      --duration seconds (default 60), recording the id of every 201;
#   2. paced: wrk at the best connection count, each connection pausing between requests so that
#      at most half the best rate is offered, for the latency at 50 % load;
#   3. batch: loadtest/e2e_submit.py, 500 notifications per request, 4 in flight, closed loop, for
#      --batch-duration seconds (default 60; 0 skips it).
# After each phase it reconciles in the database: every recorded id is stored and none is still
# PENDING (each was confirmed by the broker before its 201); a phase that loses one fails the run.
# Prints ONE summary line; writes loadtest/results/intake.json and intake.md (--results DIR
# elsewhere); raw outputs go to .wavecom/loadtest/intake-<time>/. Environment knobs: any WAVECOM_*
# variable of the API (e.g. WAVECOM_API_COMMITTERS), WAVECOM_LOADTEST_PORT (5077),
# WAVECOM_PERF_BUILD_DIR (build-perf).

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

DURATION=60
CONNECTIONS="16 64 256"
BATCH_DURATION=60
WORKERS=${WAVECOM_LOADTEST_WORKERS:-2}
RESULTS=$LT_ROOT/loadtest/results
BUILD=${WAVECOM_PERF_BUILD_DIR:-$LT_ROOT/build-perf}
PORT=${WAVECOM_LOADTEST_PORT:-5077}
MONGODB_URI=${WAVECOM_MONGODB_URI:-mongodb://127.0.0.1:27017}
COMMAND="loadtest/intake.sh $*"

lt_parse_options lt_header_help --duration=DURATION --connections=CONNECTIONS \
  --batch-duration=BATCH_DURATION --results=RESULTS --workers=WORKERS -- "$@"
lt_need_whole_numbers DURATION BATCH_DURATION WORKERS
((DURATION >= 1)) || die "--duration must be at least 1"
read -r -a CONNS <<<"$CONNECTIONS"
for c in "${CONNS[@]}"; do
  [[ $c =~ ^[1-9][0-9]*$ ]] || die "--connections must be whole numbers, not '$c'"
done

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"
lt_port_free "$PORT" || die "port $PORT is in use (WAVECOM_LOADTEST_PORT chooses another)"

lt_name_run intake intake
DB=$LT_RUN_NAME VHOST=$LT_RUN_NAME OUT=$LT_OUT
mkdir -p "$RESULTS"

say "building $BUILD (Release, no sanitizers)"
lt_build "$BUILD"
lt_vhost_fresh "$VHOST"

lt_export_run_env "$MONGODB_URI" "$DB" "$VHOST" "$PORT" "$WORKERS"
export WAVECOM_TWILIO_FROM=${WAVECOM_TWILIO_FROM:-+14155550000}
lt_export_provider_env

# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  lt_stop_services 60
  lt_vhost_delete "$VHOST"
  printf 'note: the database %s is left in place\n' "$DB" >&2
  exit "$rc"
}
lt_on_exit cleanup

lt_start_api "$BUILD" "$OUT/api.log"
if ((WORKERS > 0)); then
  lt_start_worker "$BUILD" "$OUT/worker.log"
fi
lt_tenant_key "$BUILD" loadtest sender
export WAVECOM_LOADTEST_KEY=$LT_KEY

# Checks that every id in the files FILE... is stored and none is PENDING; prints
# "<ids> <stored> <pending>" and fails when one is missing.
reconcile() {
  "$LT_PYTHON" - "$MONGODB_URI" "$DB" "$@" <<'PY'
import sys
import bson
import pymongo
uri, db, files = sys.argv[1], sys.argv[2], sys.argv[3:]
ids = []
for name in files:
    with open(name) as f:
        ids += [line.strip() for line in f if line.strip()]
bad = [i for i in ids if not bson.ObjectId.is_valid(i)]
if bad:
    sys.exit(f"error: {len(bad)} 201s carried no readable id (first: {bad[0]!r})")
coll = pymongo.MongoClient(uri)[db].notifications
# One pass over the run's own database: a lookup by `_id: {$in: ...}` is not pushed down by
# FerretDB and would read the whole collection once per chunk of ids.
wanted = {bson.ObjectId(i) for i in ids}
stored = pending = 0
for doc in coll.find({}, {"status": 1}, batch_size=10000):
    if doc["_id"] in wanted:
        stored += 1
        pending += doc["status"] == "PENDING"
print(len(ids), stored, pending)
if stored != len(ids) or len(set(ids)) != len(ids):
    sys.exit(f"error: {len(ids)} ids recorded, {stored} stored ({len(set(ids))} distinct)")
PY
}

value() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# One wrk run: NAME CONNECTIONS DELAY_MS; writes $OUT/NAME.txt and $OUT/NAME.ids/.
run_wrk() {
  local name=$1 conns=$2 pause=$3 ids=$OUT/$1.ids
  mkdir -p "$ids"
  printf '$ wrk -t2 -c%s -d%ss --timeout 30s --latency -s loadtest/intake.lua (delay %s ms) http://127.0.0.1:%s/api/notifications\n' \
    "$conns" "$DURATION" "$pause" "$PORT" >"$OUT/$name.txt"
  WAVECOM_LOADTEST_IDS_DIR=$ids WAVECOM_LOADTEST_DELAY_MS=$pause \
    wrk -t2 -c"$conns" -d"${DURATION}s" --timeout 30s --latency -s "$LT_ROOT/loadtest/intake.lua" \
    "http://127.0.0.1:$PORT/api/notifications" >>"$OUT/$name.txt"
  read -r recorded stored pending < <(reconcile "$ids"/*.txt) || die "reconciliation of $name failed"
  [[ $recorded == "$(value created_201 "$OUT/$name.txt")" ]] ||
    die "$name: wrk counted $(value created_201 "$OUT/$name.txt") 201s but recorded $recorded ids"
  printf '%s %s %s\n' "$recorded" "$stored" "$pending" >"$OUT/$name.reconciled"
  say "$name: $(value rate_201 "$OUT/$name.txt") 201/s, p99 $(value p99_ms "$OUT/$name.txt") ms; $recorded ids, all stored, $pending still PENDING"
  sleep 5
}

best=0 best_conns=${CONNS[0]}
for c in "${CONNS[@]}"; do
  say "single requests, $c connections, $DURATION s"
  run_wrk "single-c$c" "$c" 0
  rate=$(value rate_201 "$OUT/single-c$c.txt")
  if awk -v a="$rate" -v b="$best" 'BEGIN { exit !(a > b) }'; then
    best=$rate best_conns=$c
  fi
done

# Each connection offers one request per (pause + latency); a pause of connections / (best / 2)
# alone keeps the offered rate at or below half the best, whatever the latency. The report states
# the fraction reached.
pause=$(awk -v c="$best_conns" -v r="$best" 'BEGIN { p = c * 1000 / (r / 2); if (p < 1) p = 1; printf "%d", p }')
say "paced: $best_conns connections, $pause ms between requests (at most half of $best/s)"
run_wrk paced "$best_conns" "$pause"

if ((BATCH_DURATION > 0)); then
  say "batch endpoint: 500 per request, 4 in flight, $BATCH_DURATION s"
  WAVECOM_E2E_KEY=$LT_KEY "$LT_PYTHON" "$LT_ROOT/loadtest/e2e_submit.py" --url "http://127.0.0.1:$PORT" \
    --count 100000000 --batch 500 --concurrency 4 --duration "$BATCH_DURATION" --mix sms=1 \
    --webhook-base "http://127.0.0.1:4040" --ids-out "$OUT/batch.ids" --stats-out "$OUT/batch.json" \
    2>"$OUT/batch.log" || die "the batch submitter failed (see $OUT/batch.log)"
  read -r recorded stored pending < <(reconcile "$OUT/batch.ids") || die "reconciliation of the batch run failed"
  printf '%s %s %s\n' "$recorded" "$stored" "$pending" >"$OUT/batch.reconciled"
fi

api_hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$LT_API_PID/status")

"$LT_PYTHON" "$LT_ROOT/loadtest/intake_report.py" --out "$OUT" --results "$RESULTS" --command "$COMMAND" \
  --connections "${CONNS[*]}" --duration "$DURATION" --batch-duration "$BATCH_DURATION" \
  --workers "$WORKERS" --api-hwm-kb "$api_hwm_kb"
