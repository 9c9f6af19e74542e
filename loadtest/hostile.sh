#!/usr/bin/env bash
# loadtest/hostile.sh: one hostile event endpoint among twenty does not slow the other nineteen:
# fan-out throughput (events/s accepted, deliveries/s to the healthy endpoints) with and without it.
#
#   loadtest/hostile.sh [--events N] [--kinds "slow huge redirect hang"] [options]   (--help)
#
# It builds a Release build in build-perf/ (no sanitizers), builds the provider doubles from
# loadtest/doubles/ and runs an instance of its own (ports 4200-4250: the hostile receivers are
# its, and no one else resets its counters), then makes one run for the baseline and one per
# hostile kind. Each run has a fresh database and RabbitMQ vhost, its own wavecom-api and
# wavecom-worker pool (WAVECOM_WORKER_PROCESSES children, default 2), a tenant with 20 endpoints
# subscribed to one event type, and publishes N events (default 400, so 8,000 deliveries) through
# POST /api/events/batch (loadtest/hostile.py). The baseline's endpoints are all healthy; in the
# other runs the last one is the double's /hostile/KIND receiver: slow (answers after 15 s, past
# the worker's 10 s provider timeout), huge (a 10 MiB body), redirect (302 to 169.254.169.254) or
# hang (never answers). The run ends when every healthy delivery is SENT, or after --run-timeout.
#
# Measured per run: events/s (published / the publishing time), deliveries/s to the 19 healthy
# endpoints (first createdAt to last sentAt) and their ratio to the baseline's; checked: every
# healthy delivery received exactly once by webhook-id at the double, what the hostile endpoint's
# deliveries ended as, and that no process of the run had a TCP connection outside 127.0.0.0/8
# (sampled with ss twice a second). Writes loadtest/results/hostile.json and hostile.md and
# prints one line. Exit status 0; 4 when a run lost, doubled or did not finish a healthy delivery
# or saw a connection outside loopback; 1 on any other error.
#
# The hostile endpoint has a host name of its own (localhost, the others 127.0.0.1) for the same
# listener: the worker's webhook circuit breaker is keyed by the URL's host, and in production
# every customer endpoint is a host of its own. Only loopback is allowed as a destination
# (WAVECOM_WEBHOOK_ALLOW_LOOPBACK=1), as on the local stack.
#
# Options: --events N, --batch B (events per request, default 100), --concurrency C (requests in
# flight, default 2), --kinds LIST, --workers N, --run-timeout S (default 240), --port P (the API,
# default 5079), --results DIR. Any WAVECOM_* variable of the API and the worker set when the
# script starts is passed on (e.g. WAVECOM_WORKER_PREFETCH, WAVECOM_PROVIDER_TIMEOUT_MS). Logs and
# raw outputs: .wavecom/loadtest/hostile-<time>/; the databases are left in place.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

EVENTS=400
BATCH=100
CONCURRENCY=2
KINDS="slow huge redirect hang"
WORKERS=${WAVECOM_WORKER_PROCESSES:-2}
RUN_TIMEOUT=240
PORT=${WAVECOM_HOSTILE_PORT:-5079}
DOUBLES_BASE=${WAVECOM_HOSTILE_DOUBLES_PORT:-4200}
RESULTS=$LT_ROOT/loadtest/results
BUILD=${WAVECOM_PERF_BUILD_DIR:-$LT_ROOT/build-perf}
MONGODB_URI=${WAVECOM_MONGODB_URI:-mongodb://127.0.0.1:27017}
COMMAND="loadtest/hostile.sh $*"

lt_parse_options lt_header_help --events=EVENTS --batch=BATCH --concurrency=CONCURRENCY \
  --kinds=KINDS --workers=WORKERS --run-timeout=RUN_TIMEOUT --port=PORT --results=RESULTS -- "$@"
lt_need_whole_numbers EVENTS BATCH CONCURRENCY WORKERS RUN_TIMEOUT PORT
((EVENTS >= 1 && EVENTS <= 5000)) || die "--events must be 1 to 5000"
((BATCH >= 1 && BATCH <= 100)) || die "--batch must be 1 to 100"
((CONCURRENCY >= 1 && CONCURRENCY <= 16 && WORKERS >= 1)) || die "--concurrency 1..16, --workers at least 1"
((RUN_TIMEOUT >= 10 && RUN_TIMEOUT <= 1800)) || die "--run-timeout must be 10 to 1800 seconds"
read -r -a KIND_LIST <<<"$KINDS"
for k in "${KIND_LIST[@]}"; do
  [[ $k == slow || $k == huge || $k == redirect || $k == hang ]] ||
    die "--kinds: '$k' is not slow, huge, redirect or hang"
done

command -v curl >/dev/null || die "curl is not installed"
command -v ss >/dev/null || die "ss is not installed (iproute2)"
command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]] || die "go is not installed (deploy/stack.sh install)"
[[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"
"$LT_PYTHON" -c 'import pymongo' 2>/dev/null || die "$LT_PYTHON has no pymongo (apt-get install python3-pymongo)"
lt_port_free "$PORT" || die "port $PORT is in use; choose another with --port"
for ((p = DOUBLES_BASE; p <= DOUBLES_BASE + 50; p += 10)); do
  lt_port_free "$p" || die "port $p is in use (the benchmark's doubles need $DOUBLES_BASE-$((DOUBLES_BASE + 50)))"
done

lt_name_run hostile hostile
OUT=$LT_OUT
mkdir -p "$RESULTS" "$OUT/runs"

DOUBLES_PID=
SAMPLER_PID=
VHOST=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $LT_CHILD_PID ]] && lt_stop_pid "$LT_CHILD_PID" 10
  [[ -n $SAMPLER_PID ]] && lt_stop_pid "$SAMPLER_PID" 5
  lt_stop_services 40
  [[ -n $VHOST ]] && lt_vhost_delete "$VHOST"
  [[ -n $DOUBLES_PID ]] && lt_stop_pid "$DOUBLES_PID" 10
  exit "$rc"
}
lt_on_exit cleanup

lt_build_with_private_doubles "$BUILD" "$OUT" "$DOUBLES_BASE"
DOUBLES_PID=$LT_DOUBLES_PID CONTROL=$LT_CONTROL WEBHOOK_URL=$LT_WEBHOOK_URL
lt_export_provider_env
# Loopback only: the destinations are the doubles. Nothing else private may be reached.
export WAVECOM_WEBHOOK_ALLOW_PRIVATE=0

# Appends to FILE each TCP socket of the API, the worker master and its children whose peer is
# outside 127.0.0.0/8 and ::1, twice a second, until stopped.
watch_connections() { # FILE
  local pids pattern i
  trap - EXIT
  for ((i = 0; i < 36000; i++)); do
    # shellcheck disable=SC2046 # one word per child pid
    pids=$(printf '%s\n' "$LT_API_PID" "$LT_WORKER_PID" $(lt_children "$LT_WORKER_PID") | sed '/^$/d')
    # shellcheck disable=SC2086 # one word per pid
    pattern=$(printf 'pid=%s,|' $pids)
    ss -Htnp 2>/dev/null | grep -E "${pattern%|}" |
      awk '$5 !~ /^(127\.|\[::1\]|\[::ffff:127\.)/' >>"$1" || true
    sleep 0.5
  done
}

# One run: KIND is none (the baseline) or a hostile receiver.
run_one() { # KIND
  local kind=$1 db=${LT_RUN_NAME}_$1 rc=0
  VHOST=$db
  say "run '$kind': database $db, $EVENTS events to 20 endpoints"
  lt_vhost_fresh "$VHOST"
  lt_export_run_env "$MONGODB_URI" "$db" "$VHOST" "$PORT" "$WORKERS"
  curl -fsS -m 10 -o /dev/null -X POST "$CONTROL/_control/reset" || die "could not reset the doubles' counters"
  lt_start_api "$BUILD" "$OUT/runs/$kind-api.log"
  lt_start_worker "$BUILD" "$OUT/runs/$kind-worker.log"
  sleep 2
  ! lt_worker_child_died "$OUT/runs/$kind-worker.log" || die "wavecom-worker children die at start (see $OUT/runs/$kind-worker.log)"
  : >"$OUT/runs/$kind-outside.txt"
  watch_connections "$OUT/runs/$kind-outside.txt" &
  SAMPLER_PID=$!
  lt_tenant_key "$BUILD" "hostile-$kind" admin
  local tenant=$LT_TENANT admin=$LT_KEY sender
  sender=$("$BUILD/ctl/wavecomctl" apikey create --tenant "$tenant" --role sender 2>/dev/null) ||
    die "wavecomctl apikey create failed"
  lt_run_child "$LT_PYTHON" "$LT_ROOT/loadtest/hostile.py" run --api "http://127.0.0.1:$PORT" \
    --admin-key "$admin" --sender-key "$sender" --control "$CONTROL" --webhook "$WEBHOOK_URL" \
    --mongodb-uri "$MONGODB_URI" --db "$db" --tenant "$tenant" --kind "$kind" --events "$EVENTS" \
    --batch "$BATCH" --concurrency "$CONCURRENCY" --timeout "$RUN_TIMEOUT" --tag "$kind-$LT_STAMP" \
    --out "$OUT/runs/$kind.json" 2> >(tee -a "$OUT/runs/$kind-driver.log" >&2) || rc=$?
  ((rc == 0 || rc == 4)) || die "the run '$kind' failed (exit $rc; see $OUT/runs/$kind-driver.log)"
  kill -0 "$LT_WORKER_PID" 2>/dev/null || die "wavecom-worker died during the run '$kind'"
  lt_stop_pid "$SAMPLER_PID" 5
  SAMPLER_PID=
  OUTSIDE+=(--meta "outside_$kind=$(wc -l <"$OUT/runs/$kind-outside.txt")")
  # A drain would wait for the hostile endpoint's requests in flight: the run is over.
  lt_stop_services 15
  LT_API_PID= LT_WORKER_PID=
  lt_vhost_delete "$VHOST"
  VHOST=
  say "the database $db is left in place"
}

OUTSIDE=()
RUN_FILES=()
for kind in none "${KIND_LIST[@]}"; do
  run_one "$kind"
  RUN_FILES+=("$OUT/runs/$kind.json")
  sleep 3
done

dirty=0
[[ -z $(git -C "$LT_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || dirty=1
report_rc=0
"$LT_PYTHON" "$LT_ROOT/loadtest/hostile.py" report --out-json "$RESULTS/hostile.json" \
  --out-md "$RESULTS/hostile.md" "${OUTSIDE[@]}" \
  --meta "command=$COMMAND" --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" --meta "cores=$(nproc)" \
  --meta "workers=$WORKERS" --meta "prefetch=${WAVECOM_WORKER_PREFETCH:-50}" \
  --meta "timeout_ms=${WAVECOM_PROVIDER_TIMEOUT_MS:-10000}" --meta "batch=$BATCH" \
  --meta "concurrency=$CONCURRENCY" \
  --meta "commit=$(git -C "$LT_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --meta "dirty=$dirty" --meta "logs=${OUT#"$LT_ROOT"/}" "${RUN_FILES[@]}" || report_rc=$?
((report_rc == 0 || report_rc == 4)) || die "the report failed (exit $report_rc)"
cp "$RESULTS/hostile.json" "$RESULTS/hostile.md" "$OUT/"
exit "$report_rc"
