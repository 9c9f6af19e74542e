#!/usr/bin/python3
"""loadtest/report.py: writes loadtest/RESULTS.md from the scenarios' results.

    /usr/bin/python3 loadtest/report.py [--results DIR] [--out FILE]

Reads DIR/*.json (default loadtest/results: intake, e2e, priority, overload, memory,
rabbitmq_ceiling, db_ceiling, profile, reads, hostile, failover; a missing one is reported as not measured), states this machine,
sets each figure beside the WaveCom specification's plan and our goal, and appends each scenario's own Markdown and
loadtest/ANALYSIS.md (what bounds the figures, written by hand). It measures nothing itself:
loadtest/all.sh reruns every scenario and then this.
"""
import argparse
import json
import os
import platform
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = ("intake", "e2e", "priority", "overload", "memory", "rabbitmq_ceiling", "db_ceiling",
             "profile", "reads", "hostile", "failover")
COMMANDS = {
    "intake": "loadtest/intake.sh",
    "e2e": "loadtest/e2e.sh --count 20000 --private-doubles",
    "priority": "loadtest/priority.sh",
    "overload": "loadtest/overload.sh",
    "memory": "loadtest/memory.sh",
    "rabbitmq_ceiling": "loadtest/rabbitmq_ceiling.sh",
    "db_ceiling": "/usr/bin/python3 loadtest/db_write_cost.py --results loadtest/results",
    "profile": "loadtest/profile.sh",
    "reads": "loadtest/reads.sh",
    "hostile": "loadtest/hostile.sh --events 400 --concurrency 4",
    "failover": "loadtest/failover.sh",
}


def load(results):
    found = {}
    for name in SCENARIOS:
        path = os.path.join(results, f"{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                found[name] = json.load(f)
    return found


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        mem_kb = 0
    distro = "unknown"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB, {distro}, "
            f"Linux {platform.release()}")


def commit_of(result):
    meta = result.get("meta") or {}
    commit = meta.get("commit") or result.get("commit") or "?"
    dirty = str(meta.get("dirty", result.get("dirty", "0"))) == "1"
    return commit + (" (with local changes)" if dirty else "")


def fmt(value, unit="", digits=0):
    if value is None:
        return "not measured"
    return f"{value:,.{digits}f}{unit}"


def verdict(value, goal, higher_is_better=True):
    if value is None:
        return "—"
    met = value >= goal if higher_is_better else value <= goal
    return "met" if met else "**not met**"


def figures(r):
    """Rows: figure, the specification's plan, our goal, measured, met?, scenario."""
    intake, e2e, prio = r.get("intake"), r.get("e2e"), r.get("priority")
    over, mem = r.get("overload"), r.get("memory")
    ceiling = (r.get("rabbitmq_ceiling") or {}).get("published_per_s")
    rows = []
    single = intake["best_single"] if intake else None
    rows.append(("intake, single requests (durable 201/s)", "5 API × 50 req/s = 250/s",
                 "≥ 5,000/s", fmt(single, "/s", 1), verdict(single, 5000), "intake"))
    batch = intake["batch"]["accepted_per_s"] if intake and intake.get("batch") else None
    goal = f"≥ 50 % of RabbitMQ's {ceiling:,}/s" if ceiling else "≥ 50 % of RabbitMQ's ceiling"
    share = f" ({batch / ceiling:.1%} of it)" if batch and ceiling else ""
    rows.append(("intake, batch endpoint (notifications/s)", "—", goal, fmt(batch, "/s", 1) + share,
                 verdict(batch, ceiling / 2) if ceiling else "—", "intake"))
    paced = intake["paced"] if intake else None
    p99 = paced["latency_ms"].get("p99") if paced else None
    share = (f" at {paced['rate_201_per_s'] / intake['best_single']:.0%} of the best rate"
             if paced else "")
    rows.append(("intake p99 at half the best single-request rate", "—", "< 50 ms",
                 fmt(p99, " ms", 1) + share, verdict(p99, 50, False), "intake"))
    steady = e2e["delivered"]["steady_middle_80"]["per_s"] if e2e else None
    rows.append(("end to end, delivered/s with 200 ms providers", "833/s (50,000/min)", "≥ 2,500/s",
                 fmt(steady, "/s", 1) + " steady", verdict(steady, 2500), "e2e"))
    crit = prio["critical"]["latency_created_to_sent"]["p99_ms"] if prio else None
    rows.append(("CRITICAL created→sent p99 behind 20,000 LOW", "< 5 s (SLA)", "< 1 s",
                 fmt(crit, " ms"), verdict(crit, 1000, False), "priority"))
    child = mem["peak_mb_by_role"]["worker-child"] if mem else None
    master = mem["peak_mb_by_role"]["worker-master"] if mem else None
    worst_worker = max(v for v in (child, master) if v is not None) if mem else None
    rows.append(("RSS per worker process under load", "100 MB per worker", "≤ 30 MB",
                 f"child {fmt(child, ' MB', 1)}, master {fmt(master, ' MB', 1)}",
                 verdict(worst_worker, 30, False), "memory"))
    api = mem["peak_mb_by_role"]["api"] if mem else None
    rows.append(("API RSS under load", "—", "≤ 50 MB", fmt(api, " MB", 1), verdict(api, 50, False),
                 "memory"))
    if over:
        crit_over = over["by_priority"].get("CRITICAL", {})
        refused = sum(v for k, v in over["answers_by_code"].items() if k not in ("200", "201"))
        rows.append(("overload at 3× capacity", "degrade gracefully",
                     "shed with 429/503 + Retry-After, CRITICAL admitted, nothing lost",
                     f"{refused:,} refused; CRITICAL {crit_over.get('accepted', 0):,} of "
                     f"{crit_over.get('offered', 0):,} accepted; lost {over['reconciliation']['lost']}",
                     "met" if refused and over["reconciliation"]["lost"] == 0 else "**not met**",
                     "overload"))
    reads = r.get("reads")
    worst = reads["worst_p99_ms"] if reads else None
    at = f" at {reads['notifications']:,} notifications" if reads else ""
    rows.append(("status endpoints, worst p99 over every endpoint", "—", "< 100 ms",
                 fmt(worst, " ms", 1) + at, verdict(worst, 100, False), "reads"))
    share = reads["readers_share_of_machine"] * 100 if reads else None
    rows.append(("50 dashboards polling every 5 s", "—", "< 10 % of the machine's CPU",
                 fmt(share, " %", 1), verdict(share, 10, False), "reads"))
    hostile = r.get("hostile")
    ratios = [run["ratio"]["deliveries_per_s"] for run in hostile["runs"]
              if run["kind"] != "none"] if hostile else []
    worst = min(ratios) if ratios and None not in ratios else None
    rows.append(("one hostile endpoint among 20: healthy deliveries/s against none, worst kind",
                 "—", "≥ 0.9", fmt(worst, "", 3), verdict(worst, 0.9), "hostile"))
    fo = r.get("failover")
    runs = {run["mode"]: run for run in fo["runs"]} if fo else {}
    with_fo, without = runs.get("failover"), runs.get("no-failover")

    def p99_of(run):
        return ((run or {}).get("latency_created_to_sent") or {}).get("p99_ms")
    measured = "not measured"
    if with_fo:
        sent = with_fo["status"].get("SENT", 0)
        measured = (f"{sent:,} of {with_fo['accepted']:,} SENT, p99 {fmt(p99_of(with_fo), ' ms')}"
                    + (f" (without failover {without['status'].get('SENT', 0):,} SENT, p99 "
                       f"{fmt(p99_of(without), ' ms')})" if without else ""))
    rows.append(("SMS under a 60 s Twilio outage: every notification SENT through failover",
                 "—", "all SENT", measured,
                 ("met" if fo.get("failover_all_sent") else "**not met**") if with_fo else "—",
                 "failover"))
    lost = []
    for name in ("intake", "e2e", "priority", "overload"):
        if name in r:
            res = r[name]
            n = res["lost"] if name == "intake" else res["reconciliation"]["lost"]
            lost.append(f"{name} {n}")
    rows.append(("lost notifications", "—", "0 in every scenario", ", ".join(lost) or "not measured",
                 "met" if lost and all(x.endswith(" 0") for x in lost) else "**not met**", "all"))
    return rows


DATABASE_PARTS = ("postgresql", "ferretdb")


def cost_of(run):
    """CPU ms per notification (database, the rest, all) and the engine's writes per notification
    of one e2e run's results (None for what it did not measure)."""
    def split(per):
        if not per:
            return None, None
        return (sum(v for k, v in per.items() if k in DATABASE_PARTS),
                sum(v for k, v in per.items() if k not in DATABASE_PARTS))
    whole_db, whole_rest = split((run.get("cpu") or {}).get("ms_per_notification"))
    db, rest = split((run.get("cpu_steady") or {}).get("ms_per_notification"))
    writes = (run.get("db_writes") or {}).get("per_notification")
    return {"db_ms": db, "rest_ms": rest, "whole_db_ms": whole_db, "whole_rest_ms": whole_rest,
            "writes": writes,
            "steady": run["delivered"]["steady_middle_80"]["per_s"],
            "commit": commit_of(run)}


def cost_section(r, results):
    """What one delivered notification costs, before and after the write path of
    docs/ARCHITECTURE.md §3.2, and the physical ceiling it implies on this machine."""
    e2e = r.get("e2e")
    if not e2e:
        return []
    before_path = os.path.join(results, "e2e_before_write_path.json")
    before = None
    if os.path.exists(before_path):
        with open(before_path) as f:
            before = json.load(f)
    runs = ([("before", cost_of(before))] if before else []) + [("now", cost_of(e2e))]
    out = ["## What one notification costs (e2e runs)", "",
           "Database CPU from the e2e run's CPU table (PostgreSQL + FerretDB); writes from "
           "PostgreSQL's own row counters for the run's database (`loadtest/db_writes.py`): a row "
           "updated is one single-document read-modify-write (a findAndModify or an update), a "
           "row inserted is one document of a bulk insert (notifications, trail entries, outbox "
           "records). The counts do not depend on the engine: MongoDB would do the same writes.",
           "CPU is per delivered notification in the steady state (between the 10th and 90th "
           "percentile of sentAt) and, in brackets, over the whole run including its idle tail.",
           "", "| run | commit | database CPU ms | everything else CPU ms | read-modify-writes "
           "| documents inserted | rows deleted | WAL bytes | steady delivered/s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for label, c in runs:
        w = c["writes"] or {}
        out.append(f"| {label} | {c['commit']} | {fmt(c['db_ms'], '', 2)} "
                   f"({fmt(c['whole_db_ms'], '', 2)}) | {fmt(c['rest_ms'], '', 2)} "
                   f"({fmt(c['whole_rest_ms'], '', 2)}) | {w.get('updated', 'n/a')} | "
                   f"{w.get('inserted', 'n/a')} | {w.get('deleted', 'n/a')} | "
                   f"{fmt(w.get('wal_bytes'))} | {fmt(c['steady'], '', 1)} |")
    now = dict(runs[-1][1])
    if now["db_ms"] is None:
        now["db_ms"], now["rest_ms"] = now["whole_db_ms"], now["whole_rest_ms"]
    if now["db_ms"] and now["rest_ms"]:
        cores_ms = (os.cpu_count() or 2) * 1000
        out += ["", f"On {os.cpu_count()} cores a notification that costs "
                f"{now['db_ms'] + now['rest_ms']:.2f} ms of CPU in all can be delivered at most "
                f"{cores_ms / (now['db_ms'] + now['rest_ms']):,.0f} times a second, and "
                f"{cores_ms / now['rest_ms']:,.0f} times a second if the database cost nothing: "
                "WaveCom, RabbitMQ, the provider doubles and the load generator alone "
                f"({now['rest_ms']:.2f} ms). The steady rate measured is "
                f"{now['steady'] / (cores_ms / (now['db_ms'] + now['rest_ms'])):.0%} of the "
                "first figure."]
    return out + [""]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=os.path.join(ROOT, "loadtest", "results"))
    ap.add_argument("--out", default=os.path.join(ROOT, "loadtest", "RESULTS.md"))
    args = ap.parse_args()
    r = load(args.results)
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()

    out = ["# WaveCom on one machine: measured capacity", "",
           "Generated by `/usr/bin/python3 loadtest/report.py` from `loadtest/results/*.json` "
           f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, repository at {head}). "
           "`loadtest/all.sh` reruns every scenario and then regenerates this page. Each figure "
           "below names the commit it was measured at.", "",
           f"**Machine:** {machine()}. Everything runs on it at once: the load generator, "
           "wavecom-api, the wavecom-worker master and its 2 children, RabbitMQ 3.10 (quorum "
           "queues, publisher confirms), the MongoDB-protocol database (FerretDB 1.24 on "
           "PostgreSQL 15; MongoDB itself is not installable here), the SMTP catcher and the "
           "provider test doubles (200 ms per call, 5 % transient failures unless stated).", "",
           "## Against the WaveCom specification's plan and our goals", "",
           "| figure | specification's plan | our goal | measured | goal | scenario |",
           "|---|---|---|---|---|---|"]
    for row in figures(r):
        out.append("| " + " | ".join(row) + " |")
    out.append("")

    out += ["## The infrastructure's own ceilings", ""]
    rc, db = r.get("rabbitmq_ceiling"), r.get("db_ceiling")
    if rc:
        out.append(f"- **RabbitMQ alone** ({commit_of(rc)}): {rc['published_per_s']:,} persistent "
                   f"{rc['config']['message_bytes']}-byte messages/s published and confirmed into "
                   f"one quorum queue ({rc['config']['producers']} producer, 1 consumer).")
    if db:
        out.append(f"- **The database alone** ({commit_of(db)}): {db['find_and_modify_per_s']:,.0f} "
                   f"findAndModify/s by _id; {db['bulk_insert_docs_per_s']:,.0f} documents/s by "
                   f"insert_many; {db['cpu_ms_per_notification']:.2f} ms of database CPU per "
                   f"notification (one insert, two findAndModify), so **at most "
                   f"{db['ceiling_notifications_per_s']:,.0f} notifications/s** with both cores "
                   "given to the database and nothing else running.")
    e2e = r.get("e2e")
    if e2e and db:
        steady = e2e["delivered"]["steady_middle_80"]["per_s"]
        out.append(f"- End to end we deliver {steady:,.1f}/s: "
                   f"{steady / db['ceiling_notifications_per_s']:.0%} of the database's "
                   "ceiling, with the API, RabbitMQ, the worker and the doubles sharing the same "
                   "two cores.")
    out.append("")

    out += cost_section(r, args.results)

    out += ["## Each scenario", ""]
    for name in SCENARIOS:
        md = os.path.join(args.results, f"{name}.md")
        if name not in r or not os.path.exists(md):
            out += [f"### {name}", "", f"Not measured yet: `{COMMANDS[name]}`.", ""]
            continue
        with open(md) as f:
            out += [f.read().rstrip("\n"), ""]

    analysis = os.path.join(ROOT, "loadtest", "ANALYSIS.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            out += [f.read().rstrip("\n"), ""]
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    print(f"wrote {os.path.relpath(args.out, ROOT)} from {len(r)} of {len(SCENARIOS)} results")


if __name__ == "__main__":
    main()
