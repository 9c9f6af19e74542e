#!/usr/bin/env bash
# loadtest/reads_cost.sh: the database CPU one request to each status endpoint costs when no cache
# answers it, on a database loadtest/reads.sh filled.
#
#   loadtest/reads_cost.sh --reuse-db DB [--requests N]
#
# Starts wavecom-api from build-bench/ (loadtest/reads.sh builds it) on DB with its statistics and
# list caches off, and runs loadtest/reads_cost.py as tenant 0 (the busy one) and tenant 1: N
# requests per endpoint (default 20), one at a time, nothing else running. Prints the table and
# writes .wavecom/loadtest/reads_cost-<time>.json. Run it under the benchmark lock.
# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
REUSE_DB=
REQUESTS=20
PORT=${WAVECOM_LOADTEST_PORT:-5190}
BUILD=${WAVECOM_LOADTEST_BUILD:-$LT_ROOT/build-bench}
lt_parse_options lt_header_help --reuse-db=REUSE_DB --requests=REQUESTS -- "$@"
lt_need_whole_numbers REQUESTS PORT
[[ $REUSE_DB =~ ^wc_bench_reads_[0-9_]+$ ]] || die "--reuse-db takes a wc_bench_reads_* name"
TENANTS=$LT_ROOT/.wavecom/loadtest/reads-$REUSE_DB.json
[[ -f $TENANTS ]] || die "no $TENANTS: was $REUSE_DB filled by loadtest/reads.sh?"
[[ -x $BUILD/api/wavecom-api ]] || die "no $BUILD/api/wavecom-api: run loadtest/reads.sh first"
lt_port_free "$PORT" || die "port $PORT is in use (WAVECOM_LOADTEST_PORT chooses another)"

STAMP=$(date +%Y%m%d-%H%M%S)
VHOST=wc_bench_reads_cost_${STAMP//-/_}
mkdir -p "$LT_ROOT/.wavecom/loadtest"
lt_vhost_fresh "$VHOST"
export WAVECOM_MONGODB_URI=${WAVECOM_LOADTEST_MONGODB_URI:-mongodb://127.0.0.1:27017}
export WAVECOM_MONGODB_DB=$REUSE_DB
export WAVECOM_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/$VHOST
export WAVECOM_API_HOST=127.0.0.1 WAVECOM_API_PORT=$PORT WAVECOM_LOG_LEVEL=warn
export WAVECOM_API_STATS_CACHE_SECONDS=0 WAVECOM_API_LIST_CACHE_SECONDS=0
lt_export_provider_env
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  lt_stop_services 30
  lt_vhost_delete "$VHOST"
  exit "$rc"
}
lt_on_exit cleanup
lt_start_api "$BUILD" "$LT_ROOT/.wavecom/loadtest/reads_cost-$STAMP.log"
"$LT_PYTHON" "$LT_ROOT/loadtest/reads_cost.py" --url "http://127.0.0.1:$PORT" --tenants "$TENANTS" \
  --api-pid "$LT_API_PID" --requests "$REQUESTS" --out "$LT_ROOT/.wavecom/loadtest/reads_cost-$STAMP.json"
