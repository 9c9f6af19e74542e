#!/usr/bin/env bash
# loadtest/memory.sh: the resident memory of the API, the worker master and each worker child at
# idle and under the end-to-end load, against the WaveCom specification's plan of 100 MB per worker.
#
#   loadtest/memory.sh [--count N] [--results DIR]        (default 10,000 notifications)
#
# It runs loadtest/e2e.sh --private-doubles --count N (every figure of that run is kept under
# .wavecom/loadtest/memory-<time>/), which samples /proc/<pid>/status of every process once before
# the first request (idle) and every second under load, and writes the memory figures to
# loadtest/results/memory.json and memory.md. Prints ONE summary line. Fails when e2e.sh's
# reconciliation fails: a memory figure of a run that lost notifications is worth nothing.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

COUNT=10000
RESULTS=$LT_ROOT/loadtest/results
COMMAND="loadtest/memory.sh $*"
lt_parse_options lt_header_help --count=COUNT --results=RESULTS -- "$@"
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "--count must be a positive whole number, not '$COUNT'"

RUN=$LT_ROOT/.wavecom/loadtest/memory-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN" "$RESULTS"
"$LT_ROOT/loadtest/e2e.sh" --private-doubles --drop-db --count "$COUNT" --results "$RUN" >"$RUN/e2e.txt" ||
  die "the e2e run failed (exit $?; see $RUN/e2e.txt and $RUN/e2e.md)"

"$LT_PYTHON" - "$RUN/e2e.json" "$RESULTS" "$COMMAND" <<'PY'
import json, os, sys
e2e_path, results, command = sys.argv[1:]
with open(e2e_path) as f:
    e2e = json.load(f)
procs = e2e["rss"]["processes"]
def mb(kb):
    return round(kb / 1024, 1) if kb else None
rows = [{"role": p["role"], "pid": p["pid"], "idle_mb": mb(p.get("idle_rss_kb")),
         "peak_mb": mb(p["peak_kb"]), "end_mb": mb(p["last_rss_kb"])} for p in procs]
worst = {role: max((r["peak_mb"] for r in rows if r["role"] == role), default=None)
         for role in ("api", "worker-master", "worker-child")}
result = {"benchmark": "memory", "meta": {**e2e["meta"], "command": command.strip()},
          "under_load": f"{e2e['reconciliation']['accepted']} notifications end to end",
          "processes": rows, "peak_mb_by_role": worst,
          "targets_mb": {"api": 50, "worker": 30}, "specification_plan_mb_per_worker": 100}
with open(os.path.join(results, "memory.json"), "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
md = [f"### Memory at idle and under load, {e2e['meta'].get('date', '')}", "",
      f"`{command.strip()}` — resident set (VmRSS) sampled from /proc once before the first request "
      f"and every second while {result['under_load']} went through; peak is the kernel's VmHWM.", "",
      "| process | idle | peak under load | at the end |", "|---|---|---|---|"]
for r in rows:
    md.append(f"| {r['role']} (pid {r['pid']}) | {r['idle_mb']} MB | {r['peak_mb']} MB | {r['end_mb']} MB |")
md += ["", "Targets: API ≤ 50 MB, each worker process ≤ 30 MB; the WaveCom specification plans 100 MB per worker.", ""]
with open(os.path.join(results, "memory.md"), "w") as f:
    f.write("\n".join(md))
print(f"memory: peak API {worst['api']} MB, worker master {worst['worker-master']} MB, "
      f"worker child {worst['worker-child']} MB (idle: " +
      ", ".join(f"{r['role']} {r['idle_mb']} MB" for r in rows) + ")")
PY
