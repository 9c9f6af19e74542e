#!/usr/bin/env bash
# loadtest/intake.sh: the durable intake rate of wavecom-api (201s per second) and its latency
# percentiles, on this machine.
#
#   loadtest/intake.sh [SECONDS [CONNECTIONS...]]      default: 30 s at 16, 64 and 256 connections
#
# It builds a Release build in build-perf/ (no sanitizers), starts wavecom-api and a wavecom-worker
# pool (delivering the same SMS notifications to the Twilio test double) against the running local
# services (deploy/stack.sh services) on a fresh database and a RabbitMQ vhost of its own, creates a
# tenant and a key, and runs wrk (loadtest/intake.lua) once per connection count. After each run it
# checks durability: every 201 is a document in the database, and none is left PENDING (each was
# confirmed by the broker). It prints one line per run and writes the raw wrk outputs to
# loadtest/out/. Environment knobs (all optional): WAVECOM_LOADTEST_TYPE (SMS or EMAIL),
# WAVECOM_LOADTEST_WORKERS (worker children, default 2; 0 for none), WAVECOM_LOADTEST_PORT (5077),
# WAVECOM_LOADTEST_VHOST (wavecom_loadtest), WAVECOM_LOADTEST_DB (wc_loadtest_<time>),
# WAVECOM_PERF_BUILD_DIR (build-perf), and any WAVECOM_* variable of the API (e.g.
# WAVECOM_API_AUTH_CACHE_SECONDS, WAVECOM_API_COMMITTERS).
# The end-to-end delivery benchmark is loadtest/e2e.sh; the shell both use is loadtest/lib.sh.
set -euo pipefail

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$LT_ROOT
BUILD=${WAVECOM_PERF_BUILD_DIR:-$ROOT/build-perf}
OUT=$ROOT/.wavecom/loadtest
DURATION=${1:-30}
shift || true
CONNECTIONS=("$@")
((${#CONNECTIONS[@]})) || CONNECTIONS=(16 64 256)
PORT=${WAVECOM_LOADTEST_PORT:-5077}
WORKERS=${WAVECOM_LOADTEST_WORKERS:-2}
VHOST=${WAVECOM_LOADTEST_VHOST:-wavecom_loadtest}
MONGODB_URI=${WAVECOM_MONGODB_URI:-mongodb://127.0.0.1:27017}
DB=${WAVECOM_LOADTEST_DB:-wc_loadtest_$(date +%s)}

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"

mkdir -p "$OUT"
lt_build "$BUILD"
lt_vhost_fresh "$VHOST"

export WAVECOM_MONGODB_URI=$MONGODB_URI
export WAVECOM_MONGODB_DB=$DB
export WAVECOM_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/$VHOST
export WAVECOM_API_PORT=$PORT
export WAVECOM_API_PER_IP_LIMIT=${WAVECOM_API_PER_IP_LIMIT:-1024}
export WAVECOM_LOG_LEVEL=${WAVECOM_LOG_LEVEL:-warn}
export WAVECOM_WORKER_PROCESSES=$WORKERS
export WAVECOM_TWILIO_FROM=${WAVECOM_TWILIO_FROM:-+14155550000}
lt_export_provider_env

cleanup() {
  lt_stop_services 60
  lt_drop_database "$MONGODB_URI" "$DB"
  lt_vhost_delete "$VHOST"
}
trap cleanup EXIT

lt_start_api "$BUILD" "$OUT/api.log"
if ((WORKERS > 0)); then
  lt_start_worker "$BUILD" "$OUT/worker.log"
fi
lt_tenant_key "$BUILD" loadtest sender
TENANT=$LT_TENANT
export WAVECOM_LOADTEST_KEY=$LT_KEY

count() { # count FILTER_JSON: notifications of the load-test tenant matching the filter
  "$LT_PYTHON" -c "import json,pymongo,sys; f=json.loads(sys.argv[3]); f['tenantId']=sys.argv[4]; \
print(pymongo.MongoClient(sys.argv[1])[sys.argv[2]].notifications.count_documents(f))" \
    "$MONGODB_URI" "$DB" "$1" "$TENANT"
}

printf '%s, %s cores, %s worker children, API threads %s, committers %s, auth cache %ss\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$WORKERS" "${WAVECOM_API_THREADS:-4}" \
  "${WAVECOM_API_COMMITTERS:-2}" "${WAVECOM_API_AUTH_CACHE_SECONDS:-0}"
printf '%-6s %10s %8s %8s %8s %8s %9s %7s %9s\n' conns "201/s" p50_ms p90_ms p99_ms max_ms "201s" other stored
total_before=0
for c in "${CONNECTIONS[@]}"; do
  result=$OUT/wrk-c$c-${DURATION}s.txt
  printf '$ wrk -t2 -c%s -d%ss --latency -s loadtest/intake.lua http://127.0.0.1:%s/api/notifications\n' \
    "$c" "$DURATION" "$PORT" >"$result"
  wrk -t2 -c"$c" -d"${DURATION}s" --timeout 30s --latency -s "$ROOT/loadtest/intake.lua" \
    "http://127.0.0.1:$PORT/api/notifications" >>"$result"
  value() { awk -v k="$1" '$1 == k { print $2 }' "$result"; }
  created=$(value created_201)
  # Durable: every 201 is stored (the API answered after the insert), none is PENDING (each was
  # confirmed by the broker before its 201). Requests cut off by wrk's end may add a few more.
  stored=$(count '{}')
  pending=$(count '{"status": "PENDING"}')
  printf '%-6s %10s %8s %8s %8s %8s %9s %7s %9s\n' "$c" "$(value rate_201)" "$(value p50_ms)" \
    "$(value p90_ms)" "$(value p99_ms)" "$(value max_ms)" "$created" "$(value other_answers)" \
    "$((stored - total_before))"
  ((stored - total_before >= created)) || die "only $((stored - total_before)) of $created 201s are stored"
  ((pending == 0)) || printf '  note: %s notifications still PENDING\n' "$pending"
  total_before=$stored
  sleep 5
done
