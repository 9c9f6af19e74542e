#!/usr/bin/python3
"""loadtest/reads_report.py: the analysis half of loadtest/reads.sh (stdlib only).

Reads the run's directory (fill.json, gin.json, poll.json, the four CPU snapshots, submit.json)
and writes RESULTS/reads.json and RESULTS/reads.md: the fill's timing, p50/p95/p99 per endpoint
against the goal (p99 < 100 ms), and the CPU of each process in the write-only phase and with the
dashboards polling, the difference being what the readers cost.
"""
import argparse
import json
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_P99_MS = 100
GOAL_CPU_SHARE = 0.10


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def cpu_delta(before, after, seconds):
    """{process: cores used on average} between two snapshots."""
    return {k: round((after.get(k, 0) - before.get(k, 0)) / seconds, 3)
            for k in sorted(set(before) | set(after)) if k in after}


GOAL_PAGE_MS = 1000


def page_loads(d):
    """{tenant index: dashboard_load.cjs's summary per page and mode}, for the tenants measured."""
    found = {}
    for t in range(10):
        run = load(os.path.join(d, f"pages_tenant{t}.json"))
        if run:
            found[str(t)] = {"chromium": run.get("chromium"), "stoppedEarly": run.get("stoppedEarly"),
                             "pages": {page: {mode: {k: s.get(k) for k in
                                                     ("n", "failed", "missing", "p50Ms", "maxMs",
                                                      "valuesMs", "failures")}
                                              for mode, s in modes.items()}
                                       for page, modes in run.get("pages", {}).items()}}
    return found


def page_lines(loads):
    """The page loads as a markdown table, with the goal (< 1 s) judged on each one's max."""
    if not loads:
        return []
    chromium = next(iter(loads.values())).get("chromium")
    md = [f"Dashboard pages in Chromium {chromium} (loadtest/dashboard_load.cjs), under the write "
          "load, from navigation until the data is drawn:", "",
          "| tenant | page | mode | loads | p50 | max | failed | < 1 s |", "|---|---|---|---|---|---|---|---|"]
    for tenant, run in loads.items():
        who = f"{tenant} (busy)" if tenant == "0" else tenant
        for page, modes in run["pages"].items():
            for mode, s in modes.items():
                ok = s["failed"] == 0 and not s["missing"] and s["maxMs"] is not None and \
                    s["maxMs"] < GOAL_PAGE_MS
                md.append(f"| {who} | {page} | {mode} | {s['n']} | {s['p50Ms']} ms | {s['maxMs']} ms | "
                          f"{s['failed']} | {'met' if ok else '**not met**'} |")
    return md + [""]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--write-rate", type=int, required=True)
    ap.add_argument("--duration", type=int, required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--before", help="lines 'STATUS SECONDS PATH': the same reads, one each, "
                                     "by the API before the counters, on the same database")
    ap.add_argument("--before-command", default="")
    ap.add_argument("--commit", help="the commit measured, when reporting again later")
    args = ap.parse_args()
    d = args.out_dir
    fill = load(os.path.join(d, "fill.json"), {})
    fill.pop("tenants", None)
    poll = load(os.path.join(d, "poll.json"), {})
    snaps = {n: load(os.path.join(d, f"cpu_{n}.json"), {}) for n in
             ("write_0", "write_1", "read_0", "read_1")}
    cores = os.cpu_count() or 1
    write_cpu = cpu_delta(snaps["write_0"], snaps["write_1"], args.duration)
    read_cpu = cpu_delta(snaps["read_0"], snaps["read_1"], poll.get("duration_s") or args.duration)
    added = {k: round(read_cpu.get(k, 0) - write_cpu.get(k, 0), 3) for k in read_cpu}
    readers_cores = sum(added.values())
    submit = load(os.path.join(d, "submit.json"), {})
    commit = args.commit or subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True).stdout.strip()
    dirty = not args.commit and bool(subprocess.run(
        ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
        text=True).stdout.strip())
    endpoints = poll.get("endpoints", {})
    worst = max((e["p99_ms"] for e in endpoints.values()), default=None)
    result = {
        "meta": {"commit": commit, "dirty": "1" if dirty else "0", "database": args.db,
                 "logs": os.path.relpath(d, ROOT), "command": args.command,
                 "at": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(os.path.getmtime(
                     os.path.join(d, "poll.json")) if os.path.exists(os.path.join(d, "poll.json"))
                     else time.time())), "cores": cores},
        "notifications": args.count,
        "fill": fill,
        "gin": load(os.path.join(d, "gin.json")),
        "in_flight_at_start": load(os.path.join(d, "inflight.json")),
        "write_load": {"rate_per_s": args.write_rate,
                       "accepted": (submit.get("accepted") if isinstance(submit, dict) else None)},
        "pollers": poll.get("pollers"), "poll_interval_s": poll.get("interval_s"),
        "requests": poll.get("requests"), "requests_per_s": poll.get("requests_per_s"),
        "endpoints": endpoints,
        "worst_p99_ms": worst,
        "cpu_cores_write_phase": write_cpu,
        "cpu_cores_read_phase": read_cpu,
        "cpu_cores_added_by_readers": added,
        "readers_share_of_machine": round(readers_cores / cores, 3),
        "page_loads": page_loads(d),
    }
    before = []
    if args.before:
        with open(args.before) as f:
            for line in f:
                parts = line.split(None, 2)
                if len(parts) == 3:
                    before.append({"path": parts[2].strip(), "status": parts[0],
                                   "ms": round(float(parts[1]) * 1000, 1)})
    result["before"] = {"requests": before, "command": args.before_command} if before else None
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "reads.json"), "w") as f:
        json.dump(result, f, indent=1)

    md = [f"### Reads at scale, {result['meta']['at']}", "",
          f"`{args.command}` — {cores} cores, commit {commit}{' (with local changes)' if dirty else ''}; "
          f"{args.count:,} notifications in 10 tenants over 30 days; a write load of "
          f"{args.write_rate}/s (half the end-to-end capacity) into one tenant throughout; "
          f"{poll.get('pollers')} dashboards polling every {poll.get('interval_s')} s for "
          f"{poll.get('duration_s')} s with ETags ({poll.get('requests_per_s')} requests/s).", ""]
    if fill:
        md.append(f"Fill: {fill.get('notifications', 0):,} notifications by insert_many in "
                  f"{fill.get('notificationsSeconds')} s ({fill.get('notificationsPerSecond', 0):,}/s), "
                  f"then {fill.get('counterDocuments', 0):,} counter documents in "
                  f"{fill.get('countersSeconds')} s"
                  + (f"; GIN indexes on listBucket and scope built in "
                     f"{result['gin']['gin_seconds']:.1f} s" if result["gin"] else "") + ".")
        md.append("")
    left = result["in_flight_at_start"]
    if left and sum(left.values()):
        md.append(f"**Not comparable with a run on a fresh fill:** {sum(left.values()):,} "
                  "notifications were left in flight by earlier runs on this database ("
                  + ", ".join(f"{k} {v:,}" for k, v in left.items() if v) + "); the sweepers "
                  "queue them again as lost, and their deliveries are counted in the write "
                  "load's CPU.")
        md.append("")
    md += ["| endpoint | requests | p50 | p95 | p99 | max | answers | p99 < 100 ms |",
           "|---|---|---|---|---|---|---|---|"]
    for name, e in endpoints.items():
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(e["codes"].items()))
        md.append(f"| {name} | {e['count']:,} | {e['p50_ms']} ms | {e['p95_ms']} ms | "
                  f"{e['p99_ms']} ms | {e['max_ms']} ms | {codes} | "
                  f"{'met' if e['p99_ms'] < GOAL_P99_MS else '**not met**'} |")
    md += ["", "CPU, in cores used on average (of " + str(cores) + "):", "",
           "| process | write load only | write load + dashboards | the dashboards' share |",
           "|---|---|---|---|"]
    for k in read_cpu:
        md.append(f"| {k} | {write_cpu.get(k, 0):.3f} | {read_cpu[k]:.3f} | {added[k]:+.3f} |")
    md += ["", f"The {poll.get('pollers')} dashboards cost {readers_cores:.3f} cores, "
           f"**{result['readers_share_of_machine']:.1%} of the machine** (goal < 10 %: "
           f"{'met' if result['readers_share_of_machine'] < GOAL_CPU_SHARE else '**not met**'}).",
           ""]
    md += page_lines(result["page_loads"])
    if before:
        md += ["**Before** (the API at the base commit, listing and counting with sorted finds and "
               "`$group` over the documents, on the same database, nothing else running, one "
               f"request each, tenant 3; `{args.before_command}`):", "",
               "| request | answer | time |", "|---|---|---|"]
        for b in before:
            status = "timed out" if b["status"] == "000" else b["status"]
            md.append(f"| `GET {b['path']}` | {status} | {b['ms']:,.0f} ms |")
        md.append("")
    with open(os.path.join(args.results, "reads.md"), "w") as f:
        f.write("\n".join(md))
    print(f"reads: worst p99 {worst} ms; dashboards cost {result['readers_share_of_machine']:.1%} "
          f"of the machine; wrote {os.path.relpath(os.path.join(args.results, 'reads.json'), ROOT)}")


if __name__ == "__main__":
    main()
