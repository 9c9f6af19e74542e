#!/usr/bin/env bash
# loadtest/e2e.sh: the end-to-end delivery benchmark: notifications delivered per second with every
# provider answering in 200 ms, created→sent latency, reconciliation and memory per process.
#
#   loadtest/e2e.sh [--count N] [--rate R | --closed] [options]      (--help lists them)
#
# It builds a Release build in build-bench/ (no sanitizers), starts wavecom-api and a
# wavecom-worker pool (WAVECOM_WORKER_PROCESSES children, default 2) against the running local
# services (deploy/stack.sh services) on a fresh database (wc_bench_e2e_<time>) and a RabbitMQ
# vhost of its own, sets every provider test double to 200 ms latency and 5 % transient failures
# (restoring their previous behaviour at exit), creates a tenant and a key, and submits N
# notifications (default 50,000; also bounded by --duration) through POST /api/notifications/batch
# in a mix of SMS, FCM and APNs push, webhooks and email (to the real SMTP catcher), unique
# recipients, in a closed loop (as fast as the intake allows) or an open loop (--rate R/s),
# recording every id that got a 201 (loadtest/e2e_submit.py). It then waits, bounded, until every
# one is SENT or FAILED, samples the memory of the API, the worker master and each child
# (/proc/<pid>/status VmRSS and VmHWM, every second and at the end), and reports
# (loadtest/e2e_report.py): ONE summary line on stdout, loadtest/results/e2e.json and
# loadtest/results/e2e.md. Exit status: 0; 4 when the reconciliation failed (an accepted id lost or
# not terminal); 5 when it held but someone else changed or reset the shared doubles during the run
# (see below); 1 on any other error. Every process it started is stopped at exit.
#
# The provider doubles are shared with everything else that uses the local stack, and tests reset
# and reconfigure them (tests/integration/providers.py): the script watches their settings during
# the run, reports any change made by someone else (the figures of such a run are not to be
# trusted), and restores a double only if it still has the benchmark's settings. --private-doubles
# runs a doubles instance of the benchmark's own instead (ports 4100-4140, fresh credentials under
# the run's log directory), which no one else touches.
#
# Every WAVECOM_* variable of the API and the worker that is set when the script starts is passed
# on (e.g. WAVECOM_API_COMMITTERS, WAVECOM_WORKER_PREFETCH), except those it sets itself: the
# database, the vhost, the API's address and the worker count.
#
# --worker-hosts H starts H worker masters (each with --workers children, its own WAVECOM_WORKER_ID
# and no metrics port but the first's), as H machines would run them; memory is sampled for the
# first. --rabbitmq-nodes N (2 to 5) runs the benchmark against a RabbitMQ cluster of its own
# (loadtest/rabbitmq_cluster.py: N nodes on free loopback ports, removed at exit) instead of the
# local single node, with every node in WAVECOM_AMQP_URL and WAVECOM_QUORUM_GROUP_SIZE=N.
# loadtest/hosts_and_nodes.sh compares these configurations under one load.
#
# The database is left in place (dropping one while other clients work can stall FerretDB's
# PostgreSQL backend); --drop-db drops it at exit. Logs and raw outputs: .wavecom/loadtest/e2e-<time>/.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

COUNT=50000
RATE=0
BATCH=0
CONCURRENCY=0
DURATION=600
DRAIN_TIMEOUT=600
WORKERS=${WAVECOM_WORKER_PROCESSES:-2}
LATENCY_MS=200
FAILURE_RATE=0.05
PORT=${WAVECOM_E2E_PORT:-5078}
MIX=sms=35,fcm=20,apns=10,webhook=15,email=20
PRIORITIES=CRITICAL=2,HIGH=18,MEDIUM=50,LOW=30
SAMPLE_INTERVAL=1
DROP_DB=0
PRIVATE_DOUBLES=0
WORKER_HOSTS=1
RABBITMQ_NODES=1
PRIVATE_DOUBLES_BASE=${WAVECOM_E2E_DOUBLES_PORT:-4100}
DOUBLES_BIN=${WAVECOM_DOUBLES_BIN:-$LT_ROOT/.wavecom/bin/wavecom-doubles}
RESULTS=$LT_ROOT/loadtest/results
BUILD=${WAVECOM_BENCH_BUILD_DIR:-$LT_ROOT/build-bench}
CONTROL=${WAVECOM_DOUBLES_CONTROL:-http://127.0.0.1:4000}
WEBHOOK_URL=${WAVECOM_DOUBLES_WEBHOOK:-http://127.0.0.1:4040}
MAILDIR=${WAVECOM_MAILDIR:-$LT_ROOT/.wavecom/maildir}
MONGODB_URI=${WAVECOM_MONGODB_URI:-mongodb://127.0.0.1:27017}
COMMAND="loadtest/e2e.sh $*"

# shellcheck disable=SC2317 # called by lt_parse_options for --help
usage() {
  cat <<EOF
Usage: loadtest/e2e.sh [options]

  --count N            notifications to submit (default $COUNT)
  --rate R             open loop: offer R notifications per second on a fixed schedule
  --closed             closed loop (the default): as fast as the intake allows
  --batch B            notifications per request, 1..1000 (default: 500 closed, R/10 open)
  --concurrency C      requests in flight (default: 4 closed, at most 32 open)
  --duration S         stop submitting after S seconds (default $DURATION)
  --drain-timeout S    wait at most S seconds for every notification to be terminal (default $DRAIN_TIMEOUT)
  --workers N          worker children (default \$WAVECOM_WORKER_PROCESSES or 2)
  --latency-ms MS      latency of every provider double (default $LATENCY_MS)
  --failure-rate F     transient failure rate of every provider double (default $FAILURE_RATE)
  --mix SPEC           channel weights (default $MIX)
  --priorities SPEC    priority weights (default $PRIORITIES)
  --port P             port of the benchmark's API (default $PORT)
  --results DIR        where e2e.json and e2e.md go (default loadtest/results)
  --private-doubles    run provider doubles of the benchmark's own (control port $PRIVATE_DOUBLES_BASE, the
                       providers on +10..+40) instead of the shared ones at $CONTROL
  --worker-hosts H     worker masters, each with --workers children and a host id of its own (default 1)
  --rabbitmq-nodes N   1: the local RabbitMQ node (default); 2..5: a cluster of N nodes of the
                       benchmark's own on loopback, removed at exit
  --drop-db            drop the benchmark's database at exit (default: leave it)
  -h, --help           this text
EOF
}

lt_parse_options usage --count=COUNT --rate=RATE --closed=RATE=0 --batch=BATCH \
  --concurrency=CONCURRENCY --duration=DURATION --drain-timeout=DRAIN_TIMEOUT --workers=WORKERS \
  --latency-ms=LATENCY_MS --failure-rate=FAILURE_RATE --mix=MIX --priorities=PRIORITIES \
  --port=PORT --results=RESULTS --drop-db=DROP_DB=1 --private-doubles=PRIVATE_DOUBLES=1 \
  --worker-hosts=WORKER_HOSTS --rabbitmq-nodes=RABBITMQ_NODES -- "$@"
lt_need_whole_numbers COUNT BATCH CONCURRENCY DURATION DRAIN_TIMEOUT WORKERS LATENCY_MS PORT \
  WORKER_HOSTS RABBITMQ_NODES
((WORKER_HOSTS >= 1 && WORKER_HOSTS <= 8)) || die "--worker-hosts must be 1 to 8"
((RABBITMQ_NODES >= 1 && RABBITMQ_NODES <= 5)) || die "--rabbitmq-nodes must be 1 to 5"
[[ $RATE =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--rate must be a number, not '$RATE'"
[[ $FAILURE_RATE =~ ^(0([.][0-9]+)?|1([.]0+)?)$ ]] || die "--failure-rate must be in 0..1"
((COUNT >= 1 && WORKERS >= 1 && BATCH <= 1000)) || die "--count and --workers must be at least 1, --batch at most 1000"

command -v curl >/dev/null || die "curl is not installed"
[[ -x $LT_RABBITMQCTL ]] || die "no $LT_RABBITMQCTL: run deploy/stack.sh services first"
if ((PRIVATE_DOUBLES)); then
  [[ -x $DOUBLES_BIN ]] || die "no $DOUBLES_BIN: deploy/stack.sh install builds it"
  for port in "$PRIVATE_DOUBLES_BASE" $((PRIVATE_DOUBLES_BASE + 10)) $((PRIVATE_DOUBLES_BASE + 20)) \
    $((PRIVATE_DOUBLES_BASE + 30)) $((PRIVATE_DOUBLES_BASE + 40)); do
    lt_port_free "$port" || die "port $port is in use (the private doubles need it)"
  done
else
  curl -fsS -m 5 -o /dev/null "$CONTROL/_control/info" ||
    die "the provider test doubles do not answer at $CONTROL (deploy/stack.sh services starts them)"
fi
"$LT_PYTHON" -c 'import pymongo' 2>/dev/null || die "$LT_PYTHON has no pymongo (apt-get install python3-pymongo)"

lt_port_free "$PORT" || die "port $PORT is in use; choose another with --port"

lt_name_run e2e e2e
DB=$LT_RUN_NAME VHOST=$LT_RUN_NAME OUT=$LT_OUT
mkdir -p "$RESULTS"
SINCE=$(date +%s)

# --- everything this script changes is undone by cleanup, whatever happens from here on

SAMPLER_PID=
DOUBLES_PID=
CLUSTER_PID=
EXTRA_WORKER_PIDS=()
DOUBLES_SAVED=0
declare -A DOUBLES_SET=() # provider -> the settings the benchmark gave it, as the double echoed them
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $LT_CHILD_PID ]] && lt_stop_pid "$LT_CHILD_PID" 10
  [[ -n $SAMPLER_PID ]] && lt_stop_pid "$SAMPLER_PID" 5
  local pid
  for pid in ${EXTRA_WORKER_PIDS[@]+"${EXTRA_WORKER_PIDS[@]}"}; do lt_stop_pid "$pid" 40; done
  lt_stop_services 40
  [[ -n $CLUSTER_PID ]] && lt_stop_pid "$CLUSTER_PID" 60
  if [[ -n $DOUBLES_PID ]]; then
    lt_stop_pid "$DOUBLES_PID" 10
  elif ((DOUBLES_SAVED)); then
    restore_doubles
  fi
  ((RABBITMQ_NODES > 1)) || lt_vhost_delete "$VHOST"
  lt_drop_or_keep_database "$MONGODB_URI" "$DB" "$DROP_DB"
  exit "$rc"
}
# Puts each shared double back as it was, unless someone else changed it since the benchmark did:
# their newer settings win.
# shellcheck disable=SC2317 # reached through the EXIT trap
restore_doubles() {
  local p now
  for p in twilio fcm apns webhook; do
    [[ -n ${DOUBLES_SET[$p]:-} ]] || continue
    now=$(curl -fsS -m 10 "$CONTROL/_control/$p/config") || now=
    if [[ $now != "${DOUBLES_SET[$p]}" ]]; then
      printf 'warning: the %s double was changed by someone else during the run; left as they set it\n' "$p" >&2
      continue
    fi
    curl -fsS -m 10 -o /dev/null -X POST --data-binary "@$OUT/doubles-config-$p.json" \
      "$CONTROL/_control/$p/config" ||
      printf 'warning: could not restore the %s double; its saved settings: %s\n' "$p" \
        "$OUT/doubles-config-$p.json" >&2
  done
}
lt_on_exit cleanup

say "building $BUILD (Release, no sanitizers)"
lt_build "$BUILD"
say "vhost $VHOST, database $DB, logs in ${OUT#"$LT_ROOT"/}"
((RABBITMQ_NODES > 1)) || lt_vhost_fresh "$VHOST"

lt_export_run_env "$MONGODB_URI" "$DB" "$VHOST" "$PORT" "$WORKERS"
if ((RABBITMQ_NODES > 1)); then
  # A fresh cluster: its default vhost is the benchmark's alone.
  say "starting a RabbitMQ cluster of $RABBITMQ_NODES nodes (loadtest/rabbitmq_cluster.py)"
  "$LT_PYTHON" "$LT_ROOT/loadtest/rabbitmq_cluster.py" --nodes "$RABBITMQ_NODES" \
    --url-out "$OUT/cluster-url" >>"$OUT/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for ((i = 0; i < 300; i++)); do
    [[ -s $OUT/cluster-url ]] && break
    kill -0 "$CLUSTER_PID" 2>/dev/null || die "the RabbitMQ cluster did not start (see $OUT/cluster.log)"
    sleep 0.5
  done
  [[ -s $OUT/cluster-url ]] || die "the RabbitMQ cluster did not start within 150 s (see $OUT/cluster.log)"
  WAVECOM_AMQP_URL=$(<"$OUT/cluster-url")
  export WAVECOM_AMQP_URL WAVECOM_QUORUM_GROUP_SIZE=$RABBITMQ_NODES
fi
if ((PRIVATE_DOUBLES)); then
  lt_start_private_doubles "$DOUBLES_BIN" "$PRIVATE_DOUBLES_BASE" "$OUT/doubles"
  DOUBLES_PID=$LT_DOUBLES_PID CONTROL=$LT_CONTROL WEBHOOK_URL=$LT_WEBHOOK_URL
fi
lt_export_provider_env

# Shared doubles: save each one's behaviour, change only what the benchmark needs, put it back at
# exit. Their counters are not reset (others may be counting); the report reads the per-id
# records of this run's ids and the counters' deltas.
say "provider doubles at $CONTROL: ${LATENCY_MS} ms latency, $FAILURE_RATE transient failures (503)"
for p in twilio fcm apns webhook; do
  curl -fsS -m 10 -o "$OUT/doubles-config-$p.json" "$CONTROL/_control/$p/config" ||
    die "could not read the $p double's settings"
done
DOUBLES_SAVED=1
for p in twilio fcm apns webhook; do
  body="{\"latency_ms\":$LATENCY_MS,\"latency_jitter_ms\":0,\"failure_rate\":$FAILURE_RATE,"
  body+="\"failure_kind\":\"503\",\"down\":false,\"fail_first_n\":0,\"retry_after_s\":1"
  # A new worker signs a new APNs provider token per child: let the key introduce them.
  [[ $p == apns ]] && body+=",\"max_token_updates\":0"
  DOUBLES_SET[$p]=$(curl -fsS -m 10 -X POST --data-binary "$body}" "$CONTROL/_control/$p/config") ||
    die "could not configure the $p double"
done
curl -fsS -m 30 -o "$OUT/doubles-stats-before.json" "$CONTROL/_control/stats" ||
  die "could not read the doubles' counters"

say "starting wavecom-api on port $PORT and $WORKER_HOSTS wavecom-worker host(s) with $WORKERS children each"
lt_start_api "$BUILD" "$OUT/api.log"
# Several hosts: each master has a host id of its own; only the first serves metrics.
((WORKER_HOSTS == 1)) || export WAVECOM_WORKER_ID=e2e-host-1
lt_start_worker "$BUILD" "$OUT/worker.log"
WORKER_LOGS=("$OUT/worker.log")
for ((h = 2; h <= WORKER_HOSTS; h++)); do
  WAVECOM_WORKER_ID=e2e-host-$h WAVECOM_WORKER_METRICS_PORT=0 \
    "$BUILD/worker/wavecom-worker" >>"$OUT/worker-$h.log" 2>&1 &
  EXTRA_WORKER_PIDS+=($!)
  WORKER_LOGS+=("$OUT/worker-$h.log")
done
# A pool whose children die at start (a broken build) would only make the drain wait in vain.
for ((i = 0; i < 15; i++)); do
  sleep 0.2
  for log in "${WORKER_LOGS[@]}"; do
    if lt_worker_child_died "$log"; then
      tail -n 5 "$log" >&2
      die "wavecom-worker children die at start (see $log)"
    fi
  done
done
lt_tenant_key "$BUILD" e2e-bench sender
TENANT=$LT_TENANT
# The tenant's webhooks are signed with its secret: the webhook double needs it for their path.
lt_register_webhook_secret "$CONTROL" "$MONGODB_URI" "$DB" "$TENANT" "/e2e-$TENANT"

# Memory: every SAMPLE_INTERVAL seconds, one line per process of the tree (lt_sample_rss).
RSS_FILE=$OUT/rss.txt

# CPU by part of the system (loadtest/cpu_snapshot.py), before the first request and after the
# last delivery: where the machine's two cores went.
cpu_snapshot() { # FILE
  local smtp_pid=
  [[ -f $LT_ROOT/.wavecom/run/smtp-catcher.pid ]] && smtp_pid=$(<"$LT_ROOT/.wavecom/run/smtp-catcher.pid")
  # Every worker host's master and children count as "worker" (--worker-hosts above 1).
  local extra=() pid
  for pid in ${EXTRA_WORKER_PIDS[@]+"${EXTRA_WORKER_PIDS[@]}"}; do extra+=(--pid "worker=$pid"); done
  "$LT_PYTHON" "$LT_ROOT/loadtest/cpu_snapshot.py" --pid "api=$LT_API_PID" --pid "worker=$LT_WORKER_PID" \
    ${extra[@]+"${extra[@]}"} ${DOUBLES_PID:+--pid "doubles=$DOUBLES_PID"} \
    ${smtp_pid:+--pid "smtp-catcher=$smtp_pid"} >"$1" ||
    printf '{}\n' >"$1"
}
# CPU snapshots every SAMPLE_INTERVAL seconds, one JSON line each with its time: the report takes
# the CPU spent between the 10th and the 90th percentile of sentAt, so that the figure per
# notification is the steady state's, not diluted by the idle tail of the last retries.
CPU_SAMPLES=$OUT/cpu-samples.jsonl
: >"$CPU_SAMPLES"
cpu_sample() {
  cpu_snapshot "$OUT/cpu-sample.json"
  printf '{"t": %s, "cpu": %s}\n' "$(date +%s%3N)" "$(<"$OUT/cpu-sample.json")" >>"$CPU_SAMPLES"
}
# The doubles' settings, every SAMPLE_INTERVAL seconds: each change from what the benchmark set
# (by another client of shared doubles) is a line `epoch provider settings` for the report.
DRIFT_FILE=$OUT/doubles-drift.txt
: >"$DRIFT_FILE"
watch_doubles() {
  local p now
  for p in twilio fcm apns webhook; do
    now=$(curl -fsS -m 5 "$CONTROL/_control/$p/config" 2>/dev/null) || now=unreachable
    if [[ $now != "${DOUBLES_SEEN[$p]}" ]]; then
      DOUBLES_SEEN[$p]=$now
      printf '%s %s %s\n' "$(date +%s)" "$p" "$now" >>"$DRIFT_FILE"
    fi
  done
}
(
  trap - EXIT
  declare -A DOUBLES_SEEN=()
  for p in twilio fcm apns webhook; do DOUBLES_SEEN[$p]=${DOUBLES_SET[$p]}; done
  while sleep "$SAMPLE_INTERVAL"; do
    lt_sample_rss "$RSS_FILE"
    watch_doubles
    cpu_sample
  done
) &
SAMPLER_PID=$!

# Memory at idle: the processes up, connected and waiting, before the first request.
sleep 3
lt_sample_rss "$OUT/rss-idle.txt"
cpu_snapshot "$OUT/cpu-before.json"
# What the database engine wrote (loadtest/db_writes.py): only on our own FerretDB+PostgreSQL.
db_snapshot() { # FILE
  "$LT_PYTHON" "$LT_ROOT/loadtest/db_writes.py" --db "$DB" >"$1" 2>>"$OUT/db_writes.err" || rm -f "$1"
}
db_snapshot "$OUT/db-before.json"

if [[ $RATE == 0 ]]; then mode="closed loop"; else mode="open loop at $RATE/s"; fi
say "submitting $COUNT notifications ($mode, at most ${DURATION} s)"
submit_rc=0
WAVECOM_E2E_KEY=$LT_KEY lt_run_child "$LT_PYTHON" "$LT_ROOT/loadtest/e2e_submit.py" \
  --url "http://127.0.0.1:$PORT" --count "$COUNT" --rate "$RATE" --batch "$BATCH" \
  --concurrency "$CONCURRENCY" --duration "$DURATION" --mix "$MIX" --priorities "$PRIORITIES" \
  --webhook-base "$WEBHOOK_URL/e2e-$TENANT" --tag "$SINCE" \
  --ids-out "$OUT/ids.txt" --stats-out "$OUT/submit.json" || submit_rc=$?
((submit_rc == 0)) || die "the submitter failed (exit $submit_rc): no notification was accepted? see $OUT/api.log"
accepted=$(wc -l <"$OUT/ids.txt")

say "waiting for $accepted notifications to be SENT or FAILED (at most ${DRAIN_TIMEOUT} s)"
quiescent=1
# Each poll groups the tenant's documents by status: poll a big run less often.
interval=2
((accepted <= 10000)) || interval=5
lt_run_child "$LT_PYTHON" "$LT_ROOT/loadtest/e2e_report.py" wait --mongodb-uri "$MONGODB_URI" --db "$DB" \
  --tenant "$TENANT" --expected "$accepted" --timeout "$DRAIN_TIMEOUT" --interval "$interval" ||
  quiescent=0
kill -0 "$LT_WORKER_PID" 2>/dev/null || die "wavecom-worker died during the run (see $OUT/worker.log)"
for pid in ${EXTRA_WORKER_PIDS[@]+"${EXTRA_WORKER_PIDS[@]}"}; do
  kill -0 "$pid" 2>/dev/null || die "a second wavecom-worker host died during the run (see $OUT/worker-*.log)"
done
kill -0 "$LT_API_PID" 2>/dev/null || die "wavecom-api died during the run (see $OUT/api.log)"
lt_sample_rss "$RSS_FILE" # the end state, after the last delivery
cpu_snapshot "$OUT/cpu-after.json"
sleep 1 # PostgreSQL's statistics reach its view within a second
db_snapshot "$OUT/db-after.json"
watch_doubles_final() { # the settings now, for changes the last sample missed
  local p now
  for p in twilio fcm apns webhook; do
    now=$(curl -fsS -m 5 "$CONTROL/_control/$p/config" 2>/dev/null) || now=unreachable
    [[ $now == "${DOUBLES_SET[$p]}" ]] || printf '%s %s %s\n' "$(date +%s)" "$p" "$now" >>"$DRIFT_FILE"
  done
}
watch_doubles_final

DB_WRITES_ARGS=()
[[ -f $OUT/db-before.json && -f $OUT/db-after.json ]] &&
  DB_WRITES_ARGS=(--db-before "$OUT/db-before.json" --db-after "$OUT/db-after.json")
dirty=0
[[ -z $(git -C "$LT_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || dirty=1
report_rc=0
"$LT_PYTHON" "$LT_ROOT/loadtest/e2e_report.py" report --mongodb-uri "$MONGODB_URI" --db "$DB" \
  --tenant "$TENANT" --ids "$OUT/ids.txt" --submit-stats "$OUT/submit.json" --rss "$RSS_FILE" --rss-idle "$OUT/rss-idle.txt" \
  --cpu-before "$OUT/cpu-before.json" --cpu-after "$OUT/cpu-after.json" --cpu-samples "$CPU_SAMPLES" \
  ${DB_WRITES_ARGS[@]+"${DB_WRITES_ARGS[@]}"} \
  --doubles "$CONTROL" --doubles-before "$OUT/doubles-stats-before.json" --maildir "$MAILDIR" \
  --since "$SINCE" --quiescent "$quiescent" --doubles-drift "$DRIFT_FILE" --worker-log "$OUT/worker.log" \
  --out-json "$RESULTS/e2e.json" --out-md "$RESULTS/e2e.md" \
  --meta "command=$COMMAND" --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" --meta "cores=$(nproc)" \
  --meta "workers=$WORKERS" --meta "worker_hosts=$WORKER_HOSTS" --meta "rabbitmq_nodes=$RABBITMQ_NODES" \
  --meta "latency_ms=$LATENCY_MS" --meta "failure_rate=$FAILURE_RATE" \
  --meta "commit=$(git -C "$LT_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --meta "dirty=$dirty" --meta "database=$DB" --meta "logs=${OUT#"$LT_ROOT"/}" \
  --meta "doubles=$( ((PRIVATE_DOUBLES)) && echo private || echo shared) $CONTROL" || report_rc=$?
((report_rc == 0 || report_rc == 4 || report_rc == 5)) || die "the report failed (exit $report_rc)"
cp "$RESULTS/e2e.json" "$RESULTS/e2e.md" "$OUT/" # the run's own copy, kept with its logs
say "results: ${RESULTS#"$LT_ROOT"/}/e2e.json, ${RESULTS#"$LT_ROOT"/}/e2e.md"
exit "$report_rc"
