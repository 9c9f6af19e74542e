"""The report of loadtest/hosts_and_nodes.sh: the e2e runs of each configuration side by side.

    hosts_and_nodes_report.py --run NAME=e2e.json [--run ...] --base NAME --command CMD
                              --out-json FILE --out-md FILE

Each --run is one loadtest/e2e.sh result (e2e.json); runs of the same NAME (rounds) are combined by
their median. Prints one summary line; exits 4 when a run's reconciliation failed.
"""
import argparse
import json
import statistics
import sys

PARTS = ("worker", "rabbitmq", "ferretdb", "postgresql", "api", "doubles", "smtp-catcher")


def dig(result, *keys):
    """result[k1][k2]..., or None where a level is missing (a small run has no steady window)."""
    for key in keys:
        if not isinstance(result, dict):
            return None
        result = result.get(key)
    return result


def summary(results):
    """One configuration's figures: the median over its rounds."""
    def median(get):
        values = [v for v in (get(r) for r in results) if v is not None]
        return round(statistics.median(values), 2) if values else None
    cpu = {part: median(lambda r, p=part: dig(r, "cpu_steady", "ms_per_notification", p))
           for part in PARTS}
    return {
        "rounds": len(results),
        "ok": all(r.get("ok") for r in results),
        "accepted": sum(r["reconciliation"]["accepted"] for r in results),
        "lost": sum(r["reconciliation"]["lost"] for r in results),
        "duplicates": sum(r["reconciliation"]["duplicates"] for r in results),
        "steady_per_s": median(lambda r: dig(r, "delivered", "steady_middle_80", "per_s")),
        "whole_run_per_s": median(lambda r: dig(r, "delivered", "whole_run", "per_s")),
        "p50_ms": median(lambda r: dig(r, "latency_created_to_sent", "p50_ms")),
        "p99_ms": median(lambda r: dig(r, "latency_created_to_sent", "p99_ms")),
        "cpu_ms_per_notification": cpu,
        "cpu_ms_total": round(sum(v for v in cpu.values() if v is not None), 2),
        "worker_hosts": results[0]["meta"].get("worker_hosts"),
        "rabbitmq_nodes": results[0]["meta"].get("rabbitmq_nodes"),
        "workers_per_host": results[0]["meta"].get("workers"),
        "dates": [r["meta"].get("date") for r in results],
        "logs": [r["meta"].get("logs") for r in results],
    }


def markdown(report):
    lines = [f"# Worker hosts and RabbitMQ nodes under one load ({report['date']})", "",
             f"`{report['command']}` on {report['cores']} cores; each configuration is "
             f"`loadtest/e2e.sh --count {report['count']}` with its own provider doubles (200 ms, "
             "5 % transient failures); the figures are medians over the rounds.", "",
             "| configuration | hosts x children | nodes | delivered/s (steady 80 %) | vs base "
             "| whole run/s | created->sent p50 / p99 | CPU ms per notification (worker, "
             "rabbitmq, ferretdb+postgresql, all) | lost | duplicates |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    def seconds(ms):
        return "-" if ms is None else f"{ms / 1000:.1f} s"
    for name, s in report["configurations"].items():
        cpu = s["cpu_ms_per_notification"]
        db = (cpu.get("ferretdb") or 0) + (cpu.get("postgresql") or 0)
        lines.append(
            f"| {name} | {s['worker_hosts']} x {s['workers_per_host']} | {s['rabbitmq_nodes']} "
            f"| {s['steady_per_s']} | {s['ratio_to_base']} | {s['whole_run_per_s']} "
            f"| {seconds(s['p50_ms'])} / {seconds(s['p99_ms'])} "
            f"| {cpu.get('worker')}, {cpu.get('rabbitmq')}, {db:.2f}, {s['cpu_ms_total']} "
            f"| {s['lost']} | {s['duplicates']} |")
    lines += ["", "Logs: " + ", ".join(f"`{log}`" for s in report["configurations"].values()
                                       for log in s["logs"]), ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="NAME=path of e2e.json")
    parser.add_argument("--base", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--out-json", required=True)
    parser.add_argument("--out-md", required=True)
    args = parser.parse_args()

    runs = {}
    for spec in args.run:
        name, path = spec.split("=", 1)
        with open(path) as f:
            runs.setdefault(name, []).append(json.load(f))
    if args.base not in runs:
        parser.error(f"no run named {args.base}")
    configurations = {name: summary(results) for name, results in runs.items()}
    base = configurations[args.base]["steady_per_s"]
    for s in configurations.values():
        s["ratio_to_base"] = round(s["steady_per_s"] / base, 2) if base and s["steady_per_s"] else None
    first = runs[args.base][0]
    report = {
        "benchmark": "hosts_and_nodes",
        "command": args.command,
        "date": first["meta"].get("date"),
        "cores": first["meta"].get("cores"),
        "count": first["submit"]["count_target"],
        "ok": all(s["ok"] for s in configurations.values()),
        "configurations": configurations,
    }
    with open(args.out_json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(args.out_md, "w") as f:
        f.write(markdown(report))
    print("hosts_and_nodes: " + "; ".join(
        f"{name} {s['steady_per_s']}/s (x{s['ratio_to_base']}), lost {s['lost']}"
        for name, s in configurations.items()))
    return 0 if report["ok"] else 4


if __name__ == "__main__":
    sys.exit(main())
