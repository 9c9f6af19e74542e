#!/usr/bin/env bash
# loadtest/overload.sh: what WaveCom does when offered more than it can carry (scenario
# `overload`): an open loop at FACTOR (default 3) times the measured capacity, then the answers
# counted by code (201 / 429 / 503 / other), whether every refusal carried Retry-After, how
# CRITICAL notifications fared (accepted, delivered, created->sent), the API's RSS, and the
# reconciliation: every accepted notification SENT or FAILED, none lost.
#
#   loadtest/overload.sh [--capacity R] [--factor F] [--duration S] [options]   (--help lists them)
#
# Capacity is the end-to-end delivered rate: --capacity, or else the steady-state figure of the
# last loadtest/e2e.sh run (loadtest/results/e2e.json). The run itself is loadtest/e2e.sh with
# doubles of its own (--private-doubles; 200 ms, 5 % transient failures), in an open loop at
# FACTOR x capacity for S seconds (default 60), its results kept under the run's log directory;
# loadtest/overload_report.py turns them into ONE summary line and loadtest/results/overload.json
# + overload.md. The API runs with its global ceiling (WAVECOM_RATE_GLOBAL_NPS) at the measured
# capacity, as an operator would set it, unless that variable is already set (0 turns it off): over
# the ceiling it sheds non-CRITICAL work with 503 + Retry-After and still takes CRITICAL work. Exit
# status: that of e2e.sh (0; 4 when an accepted notification was lost or not terminal; 1 on other
# errors).

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

CAPACITY=
FACTOR=3
DURATION=60
BATCH=10
DRAIN_TIMEOUT=900
PRIORITIES=CRITICAL=2,HIGH=18,MEDIUM=50,LOW=30
RESULTS=$LT_ROOT/loadtest/results
COMMAND="loadtest/overload.sh${*:+ $*}"

# shellcheck disable=SC2317 # called by lt_parse_options for --help
usage() {
  cat <<EOF
Usage: loadtest/overload.sh [options]

  --capacity R       end-to-end capacity, notifications/s (default: the steady figure of
                     loadtest/results/e2e.json)
  --factor F         offered load = F x capacity (default $FACTOR)
  --duration S       seconds of offered load (default $DURATION)
  --batch B          notifications per request (default $BATCH)
  --priorities SPEC  priority weights (default $PRIORITIES)
  --drain-timeout S  wait at most S seconds for every accepted notification (default $DRAIN_TIMEOUT)
  --results DIR      where overload.json and overload.md go (default loadtest/results)
  -h, --help         this text

Other variables: WAVECOM_E2E_PORT, WAVECOM_E2E_DOUBLES_PORT, WAVECOM_BENCH_BUILD_DIR and every
WAVECOM_* setting of the API and the worker, passed on as loadtest/e2e.sh does.
EOF
}

lt_parse_options usage --capacity=CAPACITY --factor=FACTOR --duration=DURATION --batch=BATCH \
  --priorities=PRIORITIES --drain-timeout=DRAIN_TIMEOUT --results=RESULTS -- "$@"
if [[ -z $CAPACITY ]]; then
  [[ -f $RESULTS/e2e.json ]] || die "no --capacity and no $RESULTS/e2e.json (run loadtest/e2e.sh first)"
  CAPACITY=$("$LT_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["delivered"]["steady_middle_80"]["per_s"])' \
    "$RESULTS/e2e.json") || die "no steady delivered rate in $RESULTS/e2e.json; pass --capacity"
fi
for v in CAPACITY FACTOR; do
  [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--${v,,} must be a number, not '${!v}'"
done
lt_need_whole_numbers DURATION BATCH DRAIN_TIMEOUT
# The ceiling the API sheds at: the capacity, unless the caller chose one.
CEILING=${WAVECOM_RATE_GLOBAL_NPS:-$(printf '%.0f' "$CAPACITY")}
[[ $CEILING =~ ^[0-9]+$ ]] || die "WAVECOM_RATE_GLOBAL_NPS must be a whole number, not '$CEILING'"
export WAVECOM_RATE_GLOBAL_NPS=$CEILING
RATE=$("$LT_PYTHON" -c 'import sys; print(round(float(sys.argv[1]) * float(sys.argv[2]), 1))' "$CAPACITY" "$FACTOR")
COUNT=$("$LT_PYTHON" -c 'import math,sys; print(math.ceil(float(sys.argv[1]) * int(sys.argv[2])))' "$RATE" "$DURATION")

STAMP=$(date +%Y%m%d-%H%M%S)
RUN=$LT_ROOT/.wavecom/loadtest/overload-$STAMP
mkdir -p "$RUN" "$RESULTS"
printf '==> overload: capacity %s/s x %s = %s/s offered for %s s (%s notifications, %s per request)\n' \
  "$CAPACITY" "$FACTOR" "$RATE" "$DURATION" "$COUNT" "$BATCH" >&2

rc=0
"$LT_ROOT/loadtest/e2e.sh" --private-doubles --drop-db --rate "$RATE" --count "$COUNT" --batch "$BATCH" \
  --concurrency 64 --duration "$DURATION" --drain-timeout "$DRAIN_TIMEOUT" --priorities "$PRIORITIES" \
  --results "$RUN" >"$RUN/e2e-summary.txt" || rc=$?
cat "$RUN/e2e-summary.txt" >&2
[[ -f $RUN/e2e.json ]] || die "loadtest/e2e.sh produced no result (exit $rc)"
"$LT_PYTHON" "$LT_ROOT/loadtest/overload_report.py" --e2e "$RUN/e2e.json" --capacity "$CAPACITY" \
  --factor "$FACTOR" --ceiling "$CEILING" --command "$COMMAND" --out-json "$RESULTS/overload.json" --out-md "$RESULTS/overload.md" ||
  die "the overload report failed"
cp "$RESULTS/overload.json" "$RESULTS/overload.md" "$RUN/"
printf '==> results: %s, %s (raw: %s)\n' "${RESULTS#"$LT_ROOT"/}/overload.json" \
  "${RESULTS#"$LT_ROOT"/}/overload.md" "${RUN#"$LT_ROOT"/}" >&2
exit "$rc"
