#!/usr/bin/python3
"""loadtest/priority_report.py: the analysis half of loadtest/priority.sh (stdlib + pymongo).

  priority_report.py wait-critical ...  polls until every CRITICAL notification of the run is
                                         terminal (SENT or FAILED), or a time limit; exit 0 when
                                         they are, 3 otherwise.
  priority_report.py report ...         reads the run's documents; prints ONE summary line;
                                         writes the JSON and the Markdown result. Exit 0; 4 when
                                         the reconciliation failed (an accepted id lost, or not
                                         terminal after the drain).

Definitions (also written into the Markdown):
  - CRITICAL latency: sentAt - createdAt of each SENT CRITICAL notification (the documents' own
    timestamps; the API's and the worker's clocks are the same host's).
  - LOW still waiting when the last CRITICAL was sent: LOW notifications that were not SENT or
    FAILED at the last CRITICAL sentAt (terminal later, by their sentAt/failedAt, or never).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_report import (TERMINAL, benchmark_db, fmt_s, lat_summary, mb, ms, percentile,  # noqa: E402
                        rss_peaks, run_subcommand)


def read_ids(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def cmd_wait_critical(args):
    from bson import ObjectId
    coll = benchmark_db(args).notifications
    ids = [ObjectId(i) for i in read_ids(args.ids)]
    start = time.monotonic()
    while True:
        done = coll.count_documents({"_id": {"$in": ids}, "status": {"$in": list(TERMINAL)}})
        if done >= len(ids):
            print(f"  critical: all {len(ids)} terminal after {time.monotonic() - start:.1f} s",
                  file=sys.stderr, flush=True)
            return 0
        if time.monotonic() - start >= args.timeout:
            print(f"  critical: only {done} of {len(ids)} terminal after {args.timeout:.0f} s",
                  file=sys.stderr, flush=True)
            return 3
        time.sleep(args.interval)


def cmd_report(args):
    meta = dict(kv.split("=", 1) for kv in args.meta)
    low_ids = set(read_ids(args.low_ids))
    crit_ids = set(read_ids(args.critical_ids))
    low_submit = json.load(open(args.low_submit))
    crit_submit = json.load(open(args.critical_submit))

    coll = benchmark_db(args).notifications
    projection = {"priority": 1, "status": 1, "createdAt": 1, "sentAt": 1, "failedAt": 1, "retryCount": 1}
    docs = {str(d["_id"]): d for d in coll.find({"tenantId": args.tenant}, projection, batch_size=5000)}

    def done_at(d):
        return ms(d.get("sentAt")) if d.get("status") == "SENT" else (
            ms(d.get("failedAt")) if d.get("status") == "FAILED" else None)

    accepted = low_ids | crit_ids
    missing = sorted(i for i in accepted if i not in docs)
    statuses = {}
    for i in accepted:
        if i in docs:
            statuses[docs[i].get("status")] = statuses.get(docs[i].get("status"), 0) + 1
    not_terminal = {s: n for s, n in statuses.items() if s not in TERMINAL}

    crit = [docs[i] for i in crit_ids if i in docs]
    crit_sent = [d for d in crit if d.get("status") == "SENT" and d.get("sentAt") and d.get("createdAt")]
    crit_lat = lat_summary([ms(d["sentAt"]) - ms(d["createdAt"]) for d in crit_sent])
    crit_failed = sum(1 for d in crit if d.get("status") == "FAILED")
    crit_retried = sum(1 for d in crit if d.get("retryCount"))
    crit_created = sorted(ms(d["createdAt"]) for d in crit if d.get("createdAt"))
    last_crit_sent = max((ms(d["sentAt"]) for d in crit_sent), default=None)

    # Where a CRITICAL notification's time went, from its audit trail (docs/ARCHITECTURE.md §3.2):
    # the group commit, the broker and the worker's claim (createdAt -> PROCESSING, stamped when
    # the claim's findAndModify ran; a document is stored QUEUED at createdAt), the provider
    # (PROCESSING -> sentAt), and the outcome write (sentAt -> the SENT entry, stamped when the
    # write ran; the message is acked after it). The trail is read per notification, by the
    # index on notificationId.
    from bson import ObjectId
    phases = {"queue_and_claim": [], "provider": [], "outcome_write": []}
    trail = coll.database.notification_logs
    for d in crit:
        stamp = {}
        for e in trail.find({"notificationId": ObjectId(d["_id"])}):
            stamp.setdefault(e.get("status"), ms(e.get("timestamp")))
        c, s_ = ms(d.get("createdAt")), ms(d.get("sentAt"))
        p_, w = stamp.get("PROCESSING"), stamp.get("SENT")
        if None not in (c, p_):
            phases["queue_and_claim"].append(p_ - c)
        if None not in (p_, s_):
            phases["provider"].append(s_ - p_)
        if None not in (s_, w):
            phases["outcome_write"].append(w - s_)
    crit_phases = {k: lat_summary(v) for k, v in phases.items()}

    low = [docs[i] for i in low_ids if i in docs]
    low_waiting = low_done_before_first_crit = None
    if last_crit_sent is not None:
        low_waiting = sum(1 for d in low if done_at(d) is None or done_at(d) > last_crit_sent)
    if crit_created:
        low_done_before_first_crit = sum(1 for d in low if done_at(d) is not None and done_at(d) <= crit_created[0])
    low_sent = [d for d in low if d.get("status") == "SENT" and d.get("sentAt")]
    low_rate = None
    if len(low_sent) >= 10:
        s = sorted(ms(d["sentAt"]) for d in low_sent)
        lo, hi = percentile(s, 10), percentile(s, 90)
        if hi > lo:
            low_rate = round(0.8 * len(s) / ((hi - lo) / 1000.0), 1)

    procs, samples = rss_peaks(args.rss) if args.rss else ({}, 0)
    target_ms = args.target_ms
    ok = not missing and not not_terminal and len(crit_ids) > 0 and len(low_ids) > 0
    met = bool(crit_lat) and crit_lat["p99_ms"] < target_ms and len(crit_sent) == len(crit_ids)
    result = {
        "benchmark": "priority",
        "ok": ok,
        "target_p99_ms": target_ms,
        "target_met": met,
        "meta": meta,
        "low": {"accepted": len(low_ids), "submit": low_submit,
                "done_before_first_critical_created": low_done_before_first_crit,
                "still_waiting_when_last_critical_sent": low_waiting,
                "delivered_per_s_middle_80": low_rate},
        "critical": {"accepted": len(crit_ids), "sent": len(crit_sent), "failed": crit_failed,
                     "sent_after_a_retry": crit_retried, "submit": crit_submit,
                     "submit_span_s": round((crit_created[-1] - crit_created[0]) / 1000.0, 3) if crit_created else None,
                     "latency_created_to_sent": crit_lat, "phases": crit_phases},
        "reconciliation": {"accepted": len(accepted), "statuses": statuses, "lost": len(missing),
                           "lost_ids": missing[:20], "not_terminal": not_terminal,
                           "quiescent": args.quiescent},
        "rss": {"samples": samples, "processes": sorted(procs.values(), key=lambda p: (p["role"], p["pid"]))},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out_json)), exist_ok=True)
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=2, default=str)
    with open(args.out_md, "w") as f:
        f.write(markdown(result))

    lat = crit_lat or {}
    verdict = "FAILED" if not ok else ("OK" if met else "OK, TARGET MISSED")
    print(f"priority {verdict}: {len(crit_sent)}/{len(crit_ids)} CRITICAL SENT behind {len(low_ids)} LOW; "
          f"CRITICAL created->sent p50 {fmt_s(lat.get('p50_ms'))} p95 {fmt_s(lat.get('p95_ms'))} "
          f"p99 {fmt_s(lat.get('p99_ms'))} max {fmt_s(lat.get('max_ms'))} (target p99 < {fmt_s(target_ms)}, "
          f"the specification's SLA: 5 s); LOW still waiting when the last CRITICAL was sent: {low_waiting}; "
          f"LOW delivered {low_rate}/s; lost {len(missing)}, not terminal {sum(not_terminal.values())}")
    return 0 if ok else 4


def markdown(r):
    m = r["meta"]
    c = r["critical"]
    lo = r["low"]
    lat = c["latency_created_to_sent"] or {}
    rec = r["reconciliation"]
    out = [f"### CRITICAL behind a LOW flood, {m.get('date', '')}\n",
           f"`{m.get('command', 'loadtest/priority.sh')}` — {m.get('cores', '?')} cores, "
           f"{m.get('workers', '?')} worker children, prefetch {m.get('prefetch', '?')}, "
           f"commit {m.get('commit', '?')}{' (with local changes)' if m.get('dirty') == '1' else ''}; "
           f"provider doubles (private) at {m.get('latency_ms', '?')} ms, "
           f"{m.get('failure_rate', '?')} transient failures.\n",
           "| figure | value |", "|---|---|"]
    rows = [
        ("LOW queued before the CRITICAL ones", f"{lo['accepted']:,} (intake {lo['submit'].get('intake_per_s')}/s, "
                                                 f"worker {'stopped' if m.get('low_with_worker_stopped') == '1' else 'running'})"),
        ("LOW done before the first CRITICAL was created", f"{lo['done_before_first_critical_created']}"),
        ("CRITICAL accepted / SENT / FAILED", f"{c['accepted']} / {c['sent']} / {c['failed']} "
                                              f"(after a retry: {c['sent_after_a_retry']})"),
        ("CRITICAL submission", f"{c['submit'].get('batch')} per request, {c['submit'].get('concurrency')} in flight, "
                                f"createdAt spread {c['submit_span_s']} s"),
        ("**CRITICAL createdAt → sentAt p50 / p95 / p99 / max**",
         " / ".join(fmt_s(lat.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))),
        ("target (p99 < 1 s; the specification's SLA: 5 s)", "met" if r["target_met"] else "**missed**"),
        ("LOW still waiting when the last CRITICAL was sent", f"{lo['still_waiting_when_last_critical_sent']}"),
        ("LOW delivered/s (middle 80 % by sentAt)", f"{lo['delivered_per_s_middle_80']}"),
        ("lost / not terminal", f"{rec['lost']} / {sum(rec['not_terminal'].values())}"),
    ]
    out += [f"| {k} | {v} |" for k, v in rows]
    names = {"queue_and_claim": "createdAt → PROCESSING (group commit, broker, worker's claim)",
             "provider": "PROCESSING → sentAt (provider double)",
             "outcome_write": "sentAt → SENT entry written (outcome write; ack after it)"}
    out += ["", "Where the CRITICAL notifications' time went (their audit trails):", "",
            "| phase | p50 | p95 | p99 | max |", "|---|---|---|---|---|"]
    for k, name in names.items():
        v = c["phases"].get(k) or {}
        out.append(f"| {name} | " + " | ".join(fmt_s(v.get(x)) for x in ("p50_ms", "p95_ms", "p99_ms", "max_ms")) + " |")
    if r["rss"]["processes"]:
        out += ["", "| process | pid | peak RSS (VmHWM) |", "|---|---|---|"]
        out += [f"| {p['role']} | {p['pid']} | {mb(p['peak_kb'])} |" for p in r["rss"]["processes"]]
    out.append("")
    out.append("LOW still waiting: LOW notifications not SENT or FAILED at the moment the last "
               "CRITICAL one was sent. Latencies are the documents' own createdAt → sentAt.\n")
    return "\n".join(out)


def add_arguments(parsers):
    w = parsers["wait-critical"]
    w.add_argument("--ids", required=True)
    w.add_argument("--timeout", type=float, default=300)
    w.add_argument("--interval", type=float, default=1)
    r = parsers["report"]
    r.add_argument("--tenant", required=True)
    r.add_argument("--low-ids", required=True)
    r.add_argument("--critical-ids", required=True)
    r.add_argument("--low-submit", required=True)
    r.add_argument("--critical-submit", required=True)
    r.add_argument("--rss")
    r.add_argument("--quiescent", type=int, default=1)
    r.add_argument("--target-ms", type=float, default=1000)


def main():
    return run_subcommand(__doc__.split("\n\n")[0],
                          {"wait-critical": cmd_wait_critical, "report": cmd_report}, add_arguments)


if __name__ == "__main__":
    sys.exit(main())
