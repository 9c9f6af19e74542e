#!/usr/bin/python3
"""loadtest/intake_report.py: turns the raw outputs of loadtest/intake.sh into intake.json,
intake.md and ONE summary line on stdout. Run by intake.sh; reads only files it wrote."""
import argparse
import json
import os
import subprocess
import time


def wrk_values(path):
    """The "name value" lines loadtest/intake.lua printed at the end of a wrk run."""
    values = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("created_201", "other_answers", "socket_errors",
                                                "rate_201", "p50_ms", "p90_ms", "p95_ms",
                                                "p99_ms", "p99.9_ms", "max_ms"):
                values[parts[0]] = float(parts[1])
                if parts[0] == "other_answers":
                    values["other_statuses"] = " ".join(parts[2:])
    return values


def reconciled(path):
    with open(path) as f:
        recorded, stored, pending = (int(v) for v in f.read().split())
    return {"ids_recorded": recorded, "stored": stored, "still_pending": pending,
            "lost": recorded - stored}


def wrk_run(out, name, connections):
    v = wrk_values(os.path.join(out, f"{name}.txt"))
    run = {"connections": connections, "created_201": int(v["created_201"]),
           "rate_201_per_s": v["rate_201"], "other_answers": int(v.get("other_answers", 0)),
           "socket_errors": int(v.get("socket_errors", 0)),
           "latency_ms": {k[:-3]: v[k] for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")
                          if k in v}}
    run.update(reconciled(os.path.join(out, f"{name}.reconciled")))
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--connections", required=True)
    ap.add_argument("--duration", type=int, required=True)
    ap.add_argument("--batch-duration", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--api-hwm-kb", type=int, required=True)
    args = ap.parse_args()

    conns = [int(c) for c in args.connections.split()]
    single = [wrk_run(args.out, f"single-c{c}", c) for c in conns]
    best = max(single, key=lambda r: r["rate_201_per_s"])
    paced = wrk_run(args.out, "paced", best["connections"])
    batch = None
    if args.batch_duration > 0:
        with open(os.path.join(args.out, "batch.json")) as f:
            stats = json.load(f)
        batch = {"per_request": stats["batch"], "in_flight": stats["concurrency"],
                 "accepted": stats["accepted"], "seconds": stats["submit_seconds"],
                 "accepted_per_s": stats["intake_per_s"],
                 "request_latency_ms": stats["request_latency_ms"],
                 "refused": stats.get("refused_by_code") or {}, "unknown": stats.get("unknown", 0)}
        batch.update(reconciled(os.path.join(args.out, "batch.reconciled")))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result = {
        "benchmark": "intake",
        "meta": {"time": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "commit": commit,
                 "command": args.command.strip(), "cpus": os.cpu_count(),
                 "worker_children": args.workers, "seconds_per_run": args.duration},
        "single": single, "best_single": best["rate_201_per_s"], "paced": paced,
        "batch": batch, "api_peak_rss_kb": args.api_hwm_kb,
        "lost": sum(r["lost"] for r in single + [paced] + ([batch] if batch else [])),
    }
    with open(os.path.join(args.results, "intake.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    def ms(run, k):
        return f"{run['latency_ms'].get(k, 0):.1f} ms"
    md = [f"### Intake: durable 201s per second, {result['meta']['time']}", "",
          f"`{result['meta']['command']}` — {os.cpu_count()} cores, {args.workers} worker children "
          f"delivering at the same time, commit {commit}; {args.duration} s per wrk run.", "",
          "| run | connections | 201/s | p50 | p95 | p99 | max | other answers | ids stored / recorded |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in single + [paced]:
        name = (f"paced ({paced['rate_201_per_s'] / best['rate_201_per_s']:.0%} of the best)"
                if r is paced else "single requests, closed loop")
        md.append(f"| {name} | {r['connections']} | {r['rate_201_per_s']:,.1f} | {ms(r, 'p50')} | "
                  f"{ms(r, 'p95')} | {ms(r, 'p99')} | {ms(r, 'max')} | {r['other_answers']} | "
                  f"{r['stored']:,} / {r['ids_recorded']:,} |")
    if batch:
        lat = batch["request_latency_ms"]
        md += ["", f"Batch endpoint ({batch['per_request']} per request, {batch['in_flight']} in flight, "
               f"{args.batch_duration} s): **{batch['accepted_per_s']:,} notifications/s** accepted "
               f"({batch['accepted']:,} in {batch['seconds']} s), request p50 {lat.get('p50')} ms, "
               f"p99 {lat.get('p99')} ms; stored {batch['stored']:,} of {batch['ids_recorded']:,} "
               f"recorded ids."]
    md += ["", f"API peak RSS (VmHWM): {args.api_hwm_kb / 1024:.1f} MB. Every id a 201 returned was "
           f"looked up afterwards: lost {result['lost']}; none may be PENDING (each was confirmed "
           f"by the broker before its 201).", ""]
    with open(os.path.join(args.results, "intake.md"), "w") as f:
        f.write("\n".join(md))

    line = (f"intake: best {best['rate_201_per_s']:,.1f} 201/s single ({best['connections']} conns, "
            f"p99 {best['latency_ms'].get('p99', 0):.0f} ms); paced at "
            f"{paced['rate_201_per_s'] / best['rate_201_per_s']:.0%}: {paced['rate_201_per_s']:,.1f}/s "
            f"p99 {paced['latency_ms'].get('p99', 0):.0f} ms")
    if batch:
        line += f"; batch {batch['accepted_per_s']:,}/s"
    line += f"; API peak RSS {args.api_hwm_kb / 1024:.1f} MB; lost {result['lost']}"
    print(line)


if __name__ == "__main__":
    main()
