#!/usr/bin/env bash
# loadtest/hosts_and_nodes.sh: what a second worker host and a 3-node RabbitMQ cluster change, under
# one load, in one run: loadtest/e2e.sh three times back to back with the same options,
#   base         one worker host, the local single RabbitMQ node
#   two-hosts    two worker hosts (separate masters and host ids), the same node
#   cluster      one worker host, a 3-node cluster of the benchmark's own (quorum queues of 3)
# each with provider doubles of its own (--private-doubles) and its database dropped at the end.
#
#   loadtest/hosts_and_nodes.sh [--count N] [--workers N] [--rounds R] [--results DIR]
#
# --count: notifications per configuration (default 5,000); --workers: children per worker host
# (default 2); --rounds: repeat the three R times (default 1), interleaved, so that a slower minute
# of a shared machine falls on every configuration alike. The report (loadtest/hosts_and_nodes_report.py)
# is ONE line on stdout and hosts_and_nodes.{json,md} in --results (default loadtest/results): each configuration's
# delivered rate (steady middle 80 % and whole run), created->sent latency, CPU per notification by
# part, and its ratio to the base. Exit status: 0; 4 when a run's reconciliation failed; 1 on any
# other error. Logs: .wavecom/loadtest/hosts-nodes-<time>/ (each run's own under its e2e folder).

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

COUNT=5000
WORKERS=${WAVECOM_WORKER_PROCESSES:-2}
ROUNDS=1
RESULTS=$LT_ROOT/loadtest/results
lt_parse_options lt_header_help --count=COUNT --workers=WORKERS --rounds=ROUNDS --results=RESULTS -- "$@"
lt_need_whole_numbers COUNT WORKERS ROUNDS
((COUNT >= 1 && WORKERS >= 1 && ROUNDS >= 1 && ROUNDS <= 5)) ||
  die "--count and --workers must be at least 1, --rounds 1 to 5"

lt_name_run hosts_nodes hosts-nodes
mkdir -p "$RESULTS"
# An interrupted run stops the e2e.sh under way, which stops what it started.
# shellcheck disable=SC2317 # reached through the EXIT trap
stop_run() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $LT_CHILD_PID ]] && lt_stop_pid "$LT_CHILD_PID" 120
  exit "$rc"
}
lt_on_exit stop_run
COMMAND="loadtest/hosts_and_nodes.sh $*"
declare -A CONFIG=([base]="--worker-hosts 1 --rabbitmq-nodes 1"
  [two-hosts]="--worker-hosts 2 --rabbitmq-nodes 1" [cluster]="--worker-hosts 1 --rabbitmq-nodes 3")
RUNS=()
worst=0
for ((round = 1; round <= ROUNDS; round++)); do
  for name in base two-hosts cluster; do
    dir=$LT_OUT/$name-$round
    say "round $round, $name: loadtest/e2e.sh --count $COUNT --workers $WORKERS ${CONFIG[$name]}"
    rc=0
    # shellcheck disable=SC2086 # CONFIG holds options, one word each
    lt_run_child "$LT_ROOT/loadtest/e2e.sh" --count "$COUNT" --workers "$WORKERS" --private-doubles \
      --drop-db ${CONFIG[$name]} --results "$dir" >"$LT_OUT/$name-$round.out" || rc=$?
    case $rc in
      0) ;;
      4 | 5) worst=4 ;;
      *) die "loadtest/e2e.sh failed for $name (exit $rc; see $LT_OUT/$name-$round.out)" ;;
    esac
    RUNS+=(--run "$name=$dir/e2e.json")
  done
done

"$LT_PYTHON" "$LT_ROOT/loadtest/hosts_and_nodes_report.py" "${RUNS[@]}" --base base \
  --command "$COMMAND" --out-json "$RESULTS/hosts_and_nodes.json" \
  --out-md "$RESULTS/hosts_and_nodes.md" || die "the report failed"
exit "$worst"
