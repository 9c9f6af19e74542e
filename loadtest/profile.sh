#!/usr/bin/env bash
# loadtest/profile.sh: where the CPU goes inside the processes that bound the end-to-end rate,
# sampled with perf while loadtest/e2e.sh runs.
#
#   loadtest/profile.sh [--count N] [--seconds S] [--results DIR]    (default 6,000 and 20 s)
#
# It starts loadtest/e2e.sh --private-doubles --count N in the background, waits until the
# pipeline is busy (the first notification SENT, then 5 s more), records S seconds of call-graph
# samples (perf record -F 199 -g) of the whole system, waits for e2e.sh to finish (and fails if
# its reconciliation did), and writes loadtest/results/profile.md and profile.json: CPU samples
# by process name, then the hottest functions of each of the top processes. perf comes from
# Debian's linux-perf (installed with apt-get when missing); it needs root or
# kernel.perf_event_paranoid <= 1.

# shellcheck source=loadtest/lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

COUNT=6000
SECONDS_TO_RECORD=20
RESULTS=$LT_ROOT/loadtest/results
COMMAND="loadtest/profile.sh $*"
lt_parse_options lt_header_help --count=COUNT --seconds=SECONDS_TO_RECORD --results=RESULTS -- "$@"
[[ $COUNT =~ ^[1-9][0-9]*$ && $SECONDS_TO_RECORD =~ ^[1-9][0-9]*$ ]] ||
  die "--count and --seconds must be positive whole numbers"

command -v perf >/dev/null || lt_apt_install linux-perf

RUN=$LT_ROOT/.wavecom/loadtest/profile-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN" "$RESULTS"
E2E_PID=
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  [[ -n $E2E_PID ]] && kill -TERM "$E2E_PID" 2>/dev/null && wait "$E2E_PID" 2>/dev/null
  exit "$rc"
}
lt_on_exit cleanup

"$LT_ROOT/loadtest/e2e.sh" --private-doubles --drop-db --count "$COUNT" --results "$RUN" \
  >"$RUN/e2e.txt" 2>"$RUN/e2e.log" &
E2E_PID=$!

printf '==> waiting for the pipeline to deliver\n' >&2
for ((i = 0; i < 600; i++)); do
  grep -q 'SENT=' "$RUN/e2e.log" 2>/dev/null && break
  grep -q 'submit: ' "$RUN/e2e.log" 2>/dev/null && break
  kill -0 "$E2E_PID" 2>/dev/null || die "e2e.sh ended before the load started (see $RUN/e2e.log)"
  sleep 0.5
done
sleep 5
printf '==> perf record, whole system, %s s\n' "$SECONDS_TO_RECORD" >&2
perf record -F 199 -g -a -o "$RUN/perf.data" -- sleep "$SECONDS_TO_RECORD" >/dev/null 2>"$RUN/perf-record.log" ||
  die "perf record failed (see $RUN/perf-record.log)"
printf '==> waiting for e2e.sh to finish and reconcile\n' >&2
rc=0
wait "$E2E_PID" || rc=$?
E2E_PID=
((rc == 0)) || die "e2e.sh failed with $rc (see $RUN/e2e.log): a profile of a run that lost notifications is not kept"

perf report -i "$RUN/perf.data" --stdio --no-children --sort comm -g none --percent-limit 0.5 \
  >"$RUN/by-comm.txt" 2>/dev/null || die "perf report failed"
perf report -i "$RUN/perf.data" --stdio --no-children --sort comm,dso,sym -g none --percent-limit 0.3 \
  >"$RUN/by-symbol.txt" 2>/dev/null || die "perf report failed"

"$LT_PYTHON" - "$RUN" "$RESULTS" "$COMMAND" "$SECONDS_TO_RECORD" <<'PY'
import json, os, re, subprocess, sys, time
run, results, command, seconds = sys.argv[1:]
line_re = re.compile(r"^\s*([\d.]+)%\s+(.*?)\s*$")
def rows(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = line_re.match(line)
            if m:
                out.append((float(m.group(1)), m.group(2)))
    return out
by_comm = [{"process": name, "percent": p} for p, name in rows(os.path.join(run, "by-comm.txt"))]
symbols = {}
for p, rest in rows(os.path.join(run, "by-symbol.txt")):
    parts = rest.split(None, 2)
    if len(parts) < 3:
        continue
    comm, dso, sym = parts
    symbols.setdefault(comm, []).append({"dso": dso, "symbol": sym, "percent": p})
with open(os.path.join(run, "e2e.json")) as f:
    e2e = json.load(f)
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
# "swapper" is the kernel's idle task: the share of the machine nobody used.
idle = sum(c["percent"] for c in by_comm if c["process"] == "swapper")
by_comm = [c for c in by_comm if c["process"] != "swapper"]
top = [c["process"] for c in by_comm[:4]]
result = {"benchmark": "profile", "meta": {"time": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
          "commit": commit, "command": command.strip(), "seconds": int(seconds)},
          "e2e_lost": e2e["reconciliation"]["lost"], "idle_percent": idle, "by_process": by_comm,
          "hottest": {c: symbols.get(c, [])[:12] for c in top}}
with open(os.path.join(results, "profile.json"), "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
md = [f"### Profile of the end-to-end run, {result['meta']['time']}", "",
      f"`{command.strip()}` — `perf record -F 199 -g -a` for {seconds} s while "
      f"{e2e['reconciliation']['accepted']:,} notifications went through end to end (lost "
      f"{result['e2e_lost']}), commit {commit}. Shares are of all CPU samples of the machine; "
      f"{idle:.1f} % of them found the CPU idle.", "",
      "| process | share of samples |", "|---|---|"]
md += [f"| {c['process']} | {c['percent']:.1f} % |" for c in by_comm[:10]]
for c in top:
    md += ["", f"Hottest in `{c}`:", "", "| share | where | function |", "|---|---|---|"]
    md += [f"| {s['percent']:.1f} % | {s['dso']} | `{s['symbol'][:90]}` |" for s in symbols.get(c, [])[:8]]
md.append("")
with open(os.path.join(results, "profile.md"), "w") as f:
    f.write("\n".join(md))
print(f"profile: idle {idle:.1f}%, " + ", ".join(f"{c['process']} {c['percent']:.1f}%" for c in by_comm[:6]))
PY
