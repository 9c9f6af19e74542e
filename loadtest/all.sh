#!/usr/bin/env bash
# loadtest/all.sh: reruns every scenario at its documented size, one after the other, then
# regenerates loadtest/RESULTS.md (loadtest/report.py). Needs the local services running
# (deploy/stack.sh services) and nothing else loading the machine; takes about 25 minutes.
# Each scenario writes its own loadtest/results/<name>.json and .md; a scenario that fails stops
# the run (the report is not regenerated from a partial set).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

run() {
  printf '\n==> %s\n' "$*" >&2
  "$@"
}
run loadtest/rabbitmq_ceiling.sh
run /usr/bin/python3 loadtest/db_write_cost.py --results loadtest/results
run loadtest/intake.sh
run loadtest/e2e.sh --count 20000 --private-doubles --drop-db
run loadtest/priority.sh --drop-db
run loadtest/overload.sh
run loadtest/memory.sh
run loadtest/profile.sh
run /usr/bin/python3 loadtest/report.py
