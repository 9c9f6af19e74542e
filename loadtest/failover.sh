#!/usr/bin/env bash
# loadtest/failover.sh: SMS provider failover under a real outage. The Twilio double answers 503
# for 60 s while 2,000 SMS arrive; with WAVECOM_SMS_PROVIDERS=twilio,vonage every notification
# should end SENT, Twilio's breaker open and Vonage deliver during the outage. The same run with
# twilio alone is the comparison: its notifications wait in the retry tiers instead.
#
#   loadtest/failover.sh [--count N] [--rate R] [--outage S] [--modes "failover no-failover"]   (--help)
#
# It builds a Release build in build-perf/ (no sanitizers), builds the provider doubles from
# loadtest/doubles/ and runs an instance of its own (ports 4300-4350: no one else resets its
# counters or takes its Twilio down), then makes one run per mode. Each run has a fresh database
# and RabbitMQ vhost, its own wavecom-api and wavecom-worker pool (2 children), Vonage configured
# in both (only WAVECOM_SMS_PROVIDERS differs), the Twilio and Vonage doubles at --latency ms
# (default 200) with no random failures. loadtest/failover.py offers N SMS (default 2,000) at R/s
# (default 27, so about 75 s) through POST /api/notifications/batch (loadtest/e2e_submit.py, open
# loop), takes the Twilio double down (503) --outage-start s after the load begins (default 5) for
# --outage s (default 60), samples the worker's /metrics for the breakers, and waits until every
# accepted notification is SENT or FAILED, at most --run-timeout s after the last submission
# (default 600: without failover the last retry tier is 125 s).
#
# Measured per run: final status counts, SENT by providerName, created→sent p50/p95/p99/max, SENT
# during the outage by provider, the Twilio breaker's transitions, the audit trail's account, and
# reconciliation against the doubles' per-id records (each SENT notification accepted by the
# provider its document names, none lost, duplicates by message id). Writes
# loadtest/results/failover.json and failover.md and prints one line. Exit status 0; 4 when a run
# did not finish, lost a notification or disagrees with the doubles, or the failover run did not
# end all SENT; 1 on any other error.
#
# Options: --count N, --rate R, --latency MS, --outage S, --outage-start S, --modes LIST,
# --workers N, --run-timeout S, --port P (the API, default 5081), --results DIR. The worker's
# metrics are served on 9181. Any WAVECOM_* variable of the API and the worker set when the script
# starts is passed on (e.g. WAVECOM_BREAKER_THRESHOLD). Logs and raw outputs:
# .wavecom/loadtest/failover-<time>/; the databases are left in place.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

COUNT=2000
RATE=27
LATENCY=200
OUTAGE=60
OUTAGE_START=5
MODES="failover no-failover"
WORKERS=${WAVECOM_WORKER_PROCESSES:-2}
RUN_TIMEOUT=600
PORT=${WAVECOM_FAILOVER_PORT:-5081}
METRICS_PORT=${WAVECOM_FAILOVER_METRICS_PORT:-9181}
DOUBLES_BASE=${WAVECOM_FAILOVER_DOUBLES_PORT:-4300}
RESULTS=$LT_ROOT/loadtest/results
BUILD=${WAVECOM_PERF_BUILD_DIR:-$LT_ROOT/build-perf}
MONGODB_URI=${WAVECOM_MONGODB_URI:-mongodb://127.0.0.1:27017}
COMMAND="loadtest/failover.sh $*"

lt_parse_options lt_header_help --count=COUNT --rate=RATE --latency=LATENCY --outage=OUTAGE \
  --outage-start=OUTAGE_START --modes=MODES --workers=WORKERS --run-timeout=RUN_TIMEOUT \
  --port=PORT --results=RESULTS -- "$@"
lt_need_whole_numbers COUNT RATE LATENCY OUTAGE OUTAGE_START WORKERS RUN_TIMEOUT PORT
((COUNT >= 1 && COUNT <= 20000)) || die "--count must be 1 to 20000"
((RATE >= 1 && RATE <= 1000)) || die "--rate must be 1 to 1000"
((OUTAGE >= 1 && OUTAGE <= 600 && LATENCY <= 10000)) || die "--outage 1..600, --latency at most 10000"
((WORKERS >= 1)) || die "--workers must be at least 1"
((RUN_TIMEOUT >= 10 && RUN_TIMEOUT <= 1800)) || die "--run-timeout must be 10 to 1800 seconds"
read -r -a MODE_LIST <<<"$MODES"
((${#MODE_LIST[@]} >= 1)) || die "--modes names no run"
for m in "${MODE_LIST[@]}"; do
  [[ $m == failover || $m == no-failover ]] || die "--modes: '$m' is not failover or no-failover"
done

command -v curl >/dev/null || die "curl is not installed"
command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]] || die "go is not installed (deploy/stack.sh install)"
[[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"
"$LT_PYTHON" -c 'import pymongo' 2>/dev/null || die "$LT_PYTHON has no pymongo (apt-get install python3-pymongo)"
lt_port_free "$PORT" || die "port $PORT is in use; choose another with --port"
lt_port_free "$METRICS_PORT" || die "port $METRICS_PORT (the worker's metrics) is in use"
for ((p = DOUBLES_BASE; p <= DOUBLES_BASE + 50; p += 10)); do
  lt_port_free "$p" || die "port $p is in use (the benchmark's doubles need $DOUBLES_BASE-$((DOUBLES_BASE + 50)))"
done

lt_name_run failover failover
OUT=$LT_OUT
mkdir -p "$RESULTS" "$OUT/runs"

DOUBLES_PID=
VHOST=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $LT_CHILD_PID ]] && lt_stop_pid "$LT_CHILD_PID" 10
  lt_stop_services 40
  [[ -n $VHOST ]] && lt_vhost_delete "$VHOST"
  [[ -n $DOUBLES_PID ]] && lt_stop_pid "$DOUBLES_PID" 10
  exit "$rc"
}
lt_on_exit cleanup

lt_build_with_private_doubles "$BUILD" "$OUT" "$DOUBLES_BASE"
DOUBLES_PID=$LT_DOUBLES_PID CONTROL=$LT_CONTROL
lt_export_provider_env
# The doubles' own Vonage credentials (loadtest/doubles/doubles.go); both runs configure Vonage
# so that WAVECOM_SMS_PROVIDERS is the only difference between them.
export WAVECOM_VONAGE_API_KEY=${WAVECOM_VONAGE_API_KEY:-abcd1234}
export WAVECOM_VONAGE_API_SECRET=${WAVECOM_VONAGE_API_SECRET:-0123456789abcdef}
export WAVECOM_VONAGE_FROM=${WAVECOM_VONAGE_FROM:-WaveCom}
export WAVECOM_WORKER_METRICS_HOST=127.0.0.1
export WAVECOM_WORKER_METRICS_PORT=$METRICS_PORT

run_one() { # MODE
  local mode=$1 db=${LT_RUN_NAME}_${1//-/_} rc=0 providers=twilio,vonage
  [[ $mode == no-failover ]] && providers=twilio
  VHOST=$db
  say "run '$mode' (WAVECOM_SMS_PROVIDERS=$providers): database $db, $COUNT SMS at $RATE/s"
  lt_vhost_fresh "$VHOST"
  lt_export_run_env "$MONGODB_URI" "$db" "$VHOST" "$PORT" "$WORKERS"
  export WAVECOM_SMS_PROVIDERS=$providers
  curl -fsS -m 10 -o /dev/null -X POST "$CONTROL/_control/reset?config=1" ||
    die "could not reset the doubles"
  lt_start_api "$BUILD" "$OUT/runs/$mode-api.log"
  lt_start_worker "$BUILD" "$OUT/runs/$mode-worker.log"
  sleep 2
  ! lt_worker_child_died "$OUT/runs/$mode-worker.log" || die "wavecom-worker children die at start (see $OUT/runs/$mode-worker.log)"
  curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics" ||
    die "the worker's metrics do not answer on $METRICS_PORT"
  lt_tenant_key "$BUILD" "failover-$mode" sender
  lt_run_child "$LT_PYTHON" "$LT_ROOT/loadtest/failover.py" run --api "http://127.0.0.1:$PORT" \
    --key "$LT_KEY" --control "$CONTROL" --metrics "http://127.0.0.1:$METRICS_PORT/metrics" \
    --mongodb-uri "$MONGODB_URI" --db "$db" --mode "$mode" --sms-providers "$providers" \
    --count "$COUNT" --rate "$RATE" --latency "$LATENCY" --outage-start "$OUTAGE_START" \
    --outage "$OUTAGE" --timeout "$RUN_TIMEOUT" --tag "${LT_STAMP//-/}${#RUN_FILES[@]}" \
    --out "$OUT/runs/$mode.json" 2> >(tee -a "$OUT/runs/$mode-driver.log" >&2) || rc=$?
  ((rc == 0 || rc == 4)) || die "the run '$mode' failed (exit $rc; see $OUT/runs/$mode-driver.log)"
  kill -0 "$LT_WORKER_PID" 2>/dev/null || die "wavecom-worker died during the run '$mode'"
  lt_stop_services 30
  LT_API_PID= LT_WORKER_PID=
  lt_vhost_delete "$VHOST"
  VHOST=
  say "the database $db is left in place"
}

RUN_FILES=()
for mode in "${MODE_LIST[@]}"; do
  run_one "$mode"
  RUN_FILES+=("$OUT/runs/$mode.json")
  sleep 3
done

dirty=0
[[ -z $(git -C "$LT_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || dirty=1
report_rc=0
"$LT_PYTHON" "$LT_ROOT/loadtest/failover.py" report --out-json "$RESULTS/failover.json" \
  --out-md "$RESULTS/failover.md" \
  --meta "command=$COMMAND" --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" --meta "cores=$(nproc)" \
  --meta "workers=$WORKERS" --meta "latency_ms=$LATENCY" \
  --meta "breaker_threshold=${WAVECOM_BREAKER_THRESHOLD:-10}" \
  --meta "breaker_open_s=${WAVECOM_BREAKER_OPEN_SECONDS:-30}" \
  --meta "max_retries=${WAVECOM_MAX_RETRIES:-3}" \
  --meta "commit=$(git -C "$LT_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --meta "dirty=$dirty" --meta "logs=${OUT#"$LT_ROOT"/}" "${RUN_FILES[@]}" || report_rc=$?
((report_rc == 0 || report_rc == 4)) || die "the report failed (exit $report_rc)"
cp "$RESULTS/failover.json" "$RESULTS/failover.md" "$OUT/"
exit "$report_rc"
