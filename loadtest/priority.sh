#!/usr/bin/env bash
# loadtest/priority.sh: how long CRITICAL notifications take to be SENT while a flood of LOW ones
# is queued ahead of them (scenario `priority`; the WaveCom specification's SLA is < 5 s, our target p99 < 1 s).
#
#   loadtest/priority.sh [--low N] [--critical N] [options]      (--help lists them)
#
# It builds a Release build in build-bench/ (no sanitizers; WAVECOM_BENCH_BUILD_DIR overrides),
# starts provider test doubles of its own (ports 4200-4240: the shared ones are not touched) at
# 200 ms latency and no injected failures, wavecom-api on a fresh database (wc_bench_prio_<time>)
# and a RabbitMQ vhost of its own, creates a tenant and a key, and then:
#   1. submits N LOW notifications (default 20,000) through the batch endpoint, as fast as the
#      intake allows, with the worker pool STOPPED, so that all of them are queued;
#   2. starts wavecom-worker (WAVECOM_WORKER_PROCESSES children, default 2) and lets it work on
#      the LOW backlog for --lead seconds (default 5), so its prefetch and its database steps are
#      full of LOW work;
#   3. submits the CRITICAL notifications (default 200, one per request, 4 in flight);
#   4. waits until every CRITICAL one is terminal, then until every notification is (bounded);
#   5. reports (loadtest/priority_report.py): ONE summary line on stdout, the CRITICAL ones'
#      createdAt -> sentAt p50/p95/p99/max, how many LOW were still waiting when the last CRITICAL
#      was sent, the reconciliation (every accepted id SENT or FAILED), in
#      loadtest/results/priority.json and loadtest/results/priority.md.
# The channel mix is e2e.sh's (SMS, FCM, APNs, webhook, email to the shared SMTP catcher).
# Exit status: 0; 4 when the reconciliation failed; 1 on any other error. Every process it
# started is stopped at exit, and its vhost deleted; the database is left in place unless
# --drop-db. Every WAVECOM_* variable of the API and the worker set when the script starts is
# passed on (e.g. WAVECOM_WORKER_PREFETCH), except those it sets itself.
# Logs and raw outputs: .wavecom/loadtest/priority-<time>/.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

LOW=20000
CRITICAL=200
CRIT_BATCH=1
CRIT_CONCURRENCY=4
LEAD=5
WORKERS=${WAVECOM_WORKER_PROCESSES:-2}
LATENCY_MS=200
FAILURE_RATE=0
DRAIN_TIMEOUT=600
TARGET_MS=1000
PORT=${WAVECOM_PRIORITY_PORT:-5079}
DOUBLES_BASE=${WAVECOM_PRIORITY_DOUBLES_PORT:-4200}
MIX=sms=35,fcm=20,apns=10,webhook=15,email=20
DROP_DB=0
DOUBLES_BIN=${WAVECOM_DOUBLES_BIN:-$LT_ROOT/.wavecom/bin/wavecom-doubles}
RESULTS=$LT_ROOT/loadtest/results
BUILD=${WAVECOM_BENCH_BUILD_DIR:-$LT_ROOT/build-bench}
MONGODB_URI=${WAVECOM_MONGODB_URI:-mongodb://127.0.0.1:27017}
COMMAND="loadtest/priority.sh${*:+ $*}"

# shellcheck disable=SC2317 # called by lt_parse_options for --help
usage() {
  cat <<EOF
Usage: loadtest/priority.sh [options]

  --low N                 LOW notifications queued first, worker stopped (default $LOW)
  --critical N            CRITICAL notifications submitted after them (default $CRITICAL)
  --critical-batch B      CRITICAL notifications per request (default $CRIT_BATCH)
  --critical-concurrency C  CRITICAL requests in flight (default $CRIT_CONCURRENCY)
  --lead S                seconds the worker works on the LOW backlog before the CRITICAL
                          ones are submitted (default $LEAD)
  --workers N             worker children (default \$WAVECOM_WORKER_PROCESSES or 2)
  --latency-ms MS         latency of every provider double (default $LATENCY_MS)
  --failure-rate F        transient failure rate of every provider double (default $FAILURE_RATE)
  --mix SPEC              channel weights (default $MIX)
  --drain-timeout S       wait at most S seconds for every notification to be terminal (default $DRAIN_TIMEOUT)
  --target-ms MS          the CRITICAL p99 target the summary checks (default $TARGET_MS)
  --port P                port of the benchmark's API (default $PORT)
  --doubles-port P        control port of the benchmark's doubles; providers on +10..+40 (default $DOUBLES_BASE)
  --results DIR           where priority.json and priority.md go (default loadtest/results)
  --drop-db               drop the benchmark's database at exit (default: leave it)
  -h, --help              this text
EOF
}

lt_parse_options usage --low=LOW --critical=CRITICAL --critical-batch=CRIT_BATCH \
  --critical-concurrency=CRIT_CONCURRENCY --lead=LEAD --workers=WORKERS --latency-ms=LATENCY_MS \
  --failure-rate=FAILURE_RATE --mix=MIX --drain-timeout=DRAIN_TIMEOUT --target-ms=TARGET_MS \
  --port=PORT --doubles-port=DOUBLES_BASE --results=RESULTS --drop-db=DROP_DB=1 -- "$@"
lt_need_whole_numbers LOW CRITICAL CRIT_BATCH CRIT_CONCURRENCY LEAD WORKERS LATENCY_MS \
  DRAIN_TIMEOUT TARGET_MS PORT DOUBLES_BASE
[[ $FAILURE_RATE =~ ^(0([.][0-9]+)?|1([.]0+)?)$ ]] || die "--failure-rate must be in 0..1"
((LOW >= 1 && CRITICAL >= 1 && WORKERS >= 1 && CRIT_BATCH >= 1 && CRIT_BATCH <= 1000 &&
  CRIT_CONCURRENCY >= 1)) || die "--low, --critical, --workers, --critical-concurrency must be at least 1, --critical-batch 1..1000"

command -v curl >/dev/null || die "curl is not installed"
[[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"
[[ -x $DOUBLES_BIN ]] || die "no $DOUBLES_BIN: deploy/stack.sh install builds it"
"$LT_PYTHON" -c 'import pymongo' 2>/dev/null || die "$LT_PYTHON has no pymongo (apt-get install python3-pymongo)"
for port in "$PORT" "$DOUBLES_BASE" $((DOUBLES_BASE + 10)) $((DOUBLES_BASE + 20)) \
  $((DOUBLES_BASE + 30)) $((DOUBLES_BASE + 40)); do
  lt_port_free "$port" || die "port $port is in use (see --port, --doubles-port)"
done

lt_name_run prio priority
DB=$LT_RUN_NAME VHOST=$LT_RUN_NAME OUT=$LT_OUT
mkdir -p "$RESULTS"
SINCE=$(date +%s)

SAMPLER_PID=
DOUBLES_PID=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $LT_CHILD_PID ]] && lt_stop_pid "$LT_CHILD_PID" 10
  [[ -n $SAMPLER_PID ]] && lt_stop_pid "$SAMPLER_PID" 5
  lt_stop_services 40
  [[ -n $DOUBLES_PID ]] && lt_stop_pid "$DOUBLES_PID" 10
  lt_vhost_delete "$VHOST"
  lt_drop_or_keep_database "$MONGODB_URI" "$DB" "$DROP_DB"
  exit "$rc"
}
lt_on_exit cleanup

say "building $BUILD (Release, no sanitizers)"
lt_build "$BUILD"
say "vhost $VHOST, database $DB, logs in ${OUT#"$LT_ROOT"/}"
lt_vhost_fresh "$VHOST"

lt_export_run_env "$MONGODB_URI" "$DB" "$VHOST" "$PORT" "$WORKERS"

# Provider doubles of the benchmark's own (e2e.sh --private-doubles), with credentials of their own.
lt_start_private_doubles "$DOUBLES_BIN" "$DOUBLES_BASE" "$OUT/doubles"
DOUBLES_PID=$LT_DOUBLES_PID CONTROL=$LT_CONTROL WEBHOOK_URL=$LT_WEBHOOK_URL
lt_export_provider_env
say "doubles at $CONTROL: ${LATENCY_MS} ms latency, $FAILURE_RATE transient failures (503)"
lt_configure_doubles "$CONTROL" "$LATENCY_MS" "$FAILURE_RATE"

say "starting wavecom-api on port $PORT (the worker stays stopped while the LOW flood is queued)"
lt_start_api "$BUILD" "$OUT/api.log"
lt_tenant_key "$BUILD" priority-bench sender
TENANT=$LT_TENANT
lt_register_webhook_secret "$CONTROL" "$MONGODB_URI" "$DB" "$TENANT" "/prio-$TENANT"

# Memory: every second once the worker runs, one line per process of the tree (lt_sample_rss).
RSS_FILE=$OUT/rss.txt

submit() { # COUNT PRIORITY TAG BATCH CONCURRENCY NAME
  WAVECOM_E2E_KEY=$LT_KEY lt_run_child "$LT_PYTHON" "$LT_ROOT/loadtest/e2e_submit.py" \
    --url "http://127.0.0.1:$PORT" --count "$1" --rate 0 --batch "$4" --concurrency "$5" \
    --duration 600 --mix "$MIX" --priorities "$2=1" --webhook-base "$WEBHOOK_URL/prio-$TENANT" \
    --tag "$3" --ids-out "$OUT/$6-ids.txt" --stats-out "$OUT/$6-submit.json"
}

say "submitting $LOW LOW notifications (closed loop, worker stopped)"
submit "$LOW" LOW "$SINCE" 500 4 low || die "the LOW submission failed (see $OUT/api.log)"
low_accepted=$(wc -l <"$OUT/low-ids.txt")
((low_accepted == LOW)) || say "note: only $low_accepted of $LOW LOW notifications were accepted"

say "starting wavecom-worker with $WORKERS children; CRITICAL ones follow in $LEAD s"
lt_start_worker "$BUILD" "$OUT/worker.log"
(
  trap - EXIT
  while sleep 1; do lt_sample_rss "$RSS_FILE"; done
) &
SAMPLER_PID=$!
sleep "$LEAD"
kill -0 "$LT_WORKER_PID" 2>/dev/null || die "wavecom-worker exited at start (see $OUT/worker.log)"
if lt_worker_child_died "$OUT/worker.log"; then
  die "wavecom-worker children die (see $OUT/worker.log)"
fi

say "submitting $CRITICAL CRITICAL notifications ($CRIT_BATCH per request, $CRIT_CONCURRENCY in flight)"
submit "$CRITICAL" CRITICAL "$((SINCE + 1))" "$CRIT_BATCH" "$CRIT_CONCURRENCY" critical ||
  die "the CRITICAL submission failed (see $OUT/api.log)"

lt_run_child "$LT_PYTHON" "$LT_ROOT/loadtest/priority_report.py" wait-critical --mongodb-uri "$MONGODB_URI" \
  --db "$DB" --ids "$OUT/critical-ids.txt" --timeout 300 --interval 1 ||
  say "not every CRITICAL notification is terminal; reporting what there is"

accepted=$((low_accepted + $(wc -l <"$OUT/critical-ids.txt")))
say "waiting for all $accepted notifications to be SENT or FAILED (at most ${DRAIN_TIMEOUT} s)"
quiescent=1
lt_run_child "$LT_PYTHON" "$LT_ROOT/loadtest/e2e_report.py" wait --mongodb-uri "$MONGODB_URI" --db "$DB" \
  --tenant "$TENANT" --expected "$accepted" --timeout "$DRAIN_TIMEOUT" --interval 5 || quiescent=0
kill -0 "$LT_WORKER_PID" 2>/dev/null || die "wavecom-worker died during the run (see $OUT/worker.log)"
lt_sample_rss "$RSS_FILE"

dirty=0
[[ -z $(git -C "$LT_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || dirty=1
report_rc=0
"$LT_PYTHON" "$LT_ROOT/loadtest/priority_report.py" report --mongodb-uri "$MONGODB_URI" --db "$DB" \
  --tenant "$TENANT" --low-ids "$OUT/low-ids.txt" --critical-ids "$OUT/critical-ids.txt" \
  --low-submit "$OUT/low-submit.json" --critical-submit "$OUT/critical-submit.json" \
  --rss "$RSS_FILE" --quiescent "$quiescent" --target-ms "$TARGET_MS" \
  --out-json "$RESULTS/priority.json" --out-md "$RESULTS/priority.md" \
  --meta "command=$COMMAND" --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" --meta "cores=$(nproc)" \
  --meta "workers=$WORKERS" --meta "prefetch=${WAVECOM_WORKER_PREFETCH:-50}" \
  --meta "store_threads=${WAVECOM_WORKER_STORE_THREADS:-4}" --meta "latency_ms=$LATENCY_MS" \
  --meta "failure_rate=$FAILURE_RATE" --meta "low_with_worker_stopped=1" --meta "lead_s=$LEAD" \
  --meta "commit=$(git -C "$LT_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --meta "dirty=$dirty" --meta "database=$DB" --meta "logs=${OUT#"$LT_ROOT"/}" || report_rc=$?
((report_rc == 0 || report_rc == 4)) || die "the report failed (exit $report_rc)"
cp "$RESULTS/priority.json" "$RESULTS/priority.md" "$OUT/"
say "results: ${RESULTS#"$LT_ROOT"/}/priority.json, ${RESULTS#"$LT_ROOT"/}/priority.md"
exit "$report_rc"
