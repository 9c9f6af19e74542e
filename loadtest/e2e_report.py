#!/usr/bin/python3
"""loadtest/e2e_report.py: the analysis half of loadtest/e2e.sh (stdlib + pymongo).

  e2e_report.py wait   ...   polls the database until every notification of the benchmark's
                             tenant is terminal (SENT or FAILED), or a time limit; exit 0 when
                             quiescent, 3 when the limit passed first.
  e2e_report.py report ...   reads the notification documents, the provider doubles' per-id
                             records, the SMTP catcher's Maildir and the memory samples; prints
                             ONE summary line; writes the JSON and a Markdown fragment. Exit 0;
                             4 when the reconciliation failed (an accepted id lost, or not
                             terminal); 5 when it held but the doubles were disturbed during
                             the run (their settings changed by someone else, or their counters
                             reset), so that their figures cannot be trusted.

Definitions (also written into the Markdown fragment):
  - delivered/s, whole run: SENT / (last sentAt - first createdAt), over the benchmark's tenant.
  - delivered/s, steady state: the middle 80 % of the deliveries by sentAt: 0.8 * SENT divided by
    the time between the 10th and the 90th percentile of sentAt; the ramp-up and the tail of
    retries (the 5 s / 25 s / 125 s tiers) fall outside it.
  - latency: sentAt - createdAt of each SENT notification, as the documents record them
    (milliseconds, the API's and the worker's clocks: the same host).
  - duplicates: deliveries beyond the first of one notification, counted by the test doubles per
    message id (Twilio and FCM: the notification id; APNs: the apns-id derived from it; webhook:
    webhook-id) and, for email, by the Maildir files carrying X-WaveCom-Notification-Id.
"""
import argparse
import datetime
import json
import os
import re
import sys
import time
import urllib.request

import pymongo
from bson import ObjectId

TERMINAL = ("SENT", "FAILED")
EPOCH = datetime.datetime(1970, 1, 1)


def ms(dt):
    """Epoch milliseconds of a naive-UTC datetime from pymongo (None stays None)."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.replace(tzinfo=None) - dt.utcoffset()
    return (dt - EPOCH).total_seconds() * 1000.0


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def lat_summary(values):
    """Count, p50, p95, p99 and max of latencies in milliseconds; None for none."""
    values = sorted(values)
    if not values:
        return None
    return {"n": len(values), "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
            "p99_ms": percentile(values, 99), "max_ms": values[-1]}


def benchmark_db(args):
    """The benchmark's database, named by the --mongodb-uri and --db every subcommand takes."""
    return pymongo.MongoClient(args.mongodb_uri, serverSelectionTimeoutMS=10000)[args.db]


def run_subcommand(description, commands, add_arguments):
    """The main() of a report script: parses the command line into one of `commands` ({name:
    function(args) returning the exit status}) and runs it. Each subcommand reads the benchmark's
    database (--mongodb-uri, --db); `report` also writes its results (--out-json, --out-md, and
    --meta key=value pairs for them); add_arguments(parsers by name) adds the rest."""
    ap = argparse.ArgumentParser(description=description)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, command in commands.items():
        p = sub.add_parser(name)
        p.set_defaults(command=command)
        p.add_argument("--mongodb-uri", required=True)
        p.add_argument("--db", required=True)
    report = sub.choices["report"]
    report.add_argument("--out-json", required=True)
    report.add_argument("--out-md", required=True)
    report.add_argument("--meta", action="append", default=[])
    add_arguments(sub.choices)
    args = ap.parse_args()
    return args.command(args)


def by_status(coll, tenant):
    pipeline = [{"$match": {"tenantId": tenant}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
    return {d["_id"]: d["n"] for d in coll.aggregate(pipeline)}


# What a notification can be in before it is final.
OPEN = ("SCHEDULED", "PENDING", "QUEUED", "PROCESSING", "RETRYING")


def open_by_status(coll, tenant):
    """The tenant's notifications not yet final, by status: a count for the statuses a run holds
    few of, and for QUEUED (the whole backlog when the intake outruns delivery) only whether one
    is left, which reads a single document. (Grouping every document by status on each poll made
    the benchmark's own polling a visible part of the database's work.)"""
    counts = {s: coll.count_documents({"tenantId": tenant, "status": s})
              for s in OPEN if s != "QUEUED"}
    if coll.find_one({"tenantId": tenant, "status": "QUEUED"}, {"_id": 1}) is not None:
        counts["QUEUED(some)"] = 1
    return {s: n for s, n in counts.items() if n}


def open_by_counters(db, tenant):
    """The tenant's notifications not yet final, by status, from the stats counters the API keeps
    (docs/READS.md): one small document, whatever the backlog. None when there are none."""
    doc = db.notification_counters.find_one({"_id": tenant})
    if doc is None or not isinstance(doc.get("c"), dict):
        return None
    counts = {}
    for cell, n in doc["c"].items():
        status = cell.split(":", 1)[0]
        if status in OPEN and n:
            counts[status] = counts.get(status, 0) + n
    return counts


def cmd_wait(args):
    db = benchmark_db(args)
    coll = db.notifications
    start = time.monotonic()
    last_print = 0.0
    last_counts, last_change = None, start
    while True:
        counts = open_by_counters(db, args.tenant)
        if counts is None:
            counts = open_by_status(coll, args.tenant)
        open_ = sum(counts.values())
        if open_ == 0:
            counts = by_status(coll, args.tenant)  # then check the documents themselves
            open_ = total_open = sum(n for st, n in counts.items() if st not in TERMINAL)
            if total_open:
                counts = {st: n for st, n in counts.items() if st not in TERMINAL}
        total = sum(counts.values()) if open_ == 0 else args.expected
        now = time.monotonic()
        done = total >= args.expected and open_ == 0
        if done or now - last_print >= 10:
            last_print = now
            shown = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
            print(f"  drain: {now - start:6.1f} s  {shown}  (not terminal: {open_})",
                  file=sys.stderr, flush=True)
        if done:
            return 0
        if counts != last_counts:
            last_counts, last_change = counts, now
        if now - start >= args.timeout:
            print(f"  drain: not quiescent after {args.timeout:.0f} s", file=sys.stderr, flush=True)
            return 3
        if now - last_change >= args.stall:
            # Nothing moved for longer than the longest retry tier: waiting on would not help.
            print(f"  drain: no notification changed status for {args.stall:.0f} s; giving up",
                  file=sys.stderr, flush=True)
            return 3
        time.sleep(args.interval)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def doubles_stats(control, ids):
    url = control.rstrip("/") + "/_control/stats" + ("?ids=1" if ids else "")
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def apns_id_for(nid):
    """The apns-id the worker derives from a notification id (worker/providers/apns.c)."""
    return f"00000000-{nid[0:4]}-{nid[4:8]}-{nid[8:12]}-{nid[12:24]}"


def provider_of(doc):
    if doc.get("type") == "SMS":
        return "twilio"
    if doc.get("type") == "PUSH":
        return "apns" if doc.get("platform") == "apns" else "fcm"
    if doc.get("type") == "WEBHOOK":
        return "webhook"
    return "email"


def channel_of(doc):
    p = provider_of(doc)
    return {"twilio": "sms", "email": "email", "webhook": "webhook"}.get(p, p)


def maildir_ids(maildir, since, wanted):
    """{notification id: number of mails} among `wanted`, from Maildir files delivered since
    `since` (epoch seconds; the catcher names each file after its delivery time)."""
    counts = {}
    for sub in ("new", "cur"):
        folder = os.path.join(maildir, sub)
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            head = name.split(".", 1)[0]
            if head.isdigit() and int(head) < since:
                continue
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    for raw in f:
                        if raw in (b"\n", b"\r\n"):
                            break
                        if raw[:26].lower() == b"x-wavecom-notification-id:":
                            nid = raw[26:].strip().decode("ascii", "replace")
                            if nid in wanted:
                                counts[nid] = counts.get(nid, 0) + 1
                            break
            except OSError:
                continue
    return counts


CHILD_EXIT_RE = re.compile(r"^worker (\d+) \(pid (\d+)\) (killed by signal \d+|exited with code \d+)")


def child_deaths(path):
    """The worker children's unexpected exits, as the master reported them in its log."""
    deaths = {}
    if not path or not os.path.exists(path):
        return deaths
    with open(path, errors="replace") as f:
        for raw in f:
            if '"worker-master"' not in raw:
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            m = CHILD_EXIT_RE.match(line.get("msg", ""))
            if m and "while draining" not in line["msg"] and "rolling restart" not in line["msg"]:
                deaths[m.group(3)] = deaths.get(m.group(3), 0) + 1
    return deaths


def rss_peaks(path):
    """From lines `epoch role pid VmRSS_kB VmHWM_kB`: per process, its peak (the largest VmHWM
    seen, which the kernel keeps as the high-water mark) and the last VmRSS sampled."""
    procs = {}
    samples = 0
    if not os.path.exists(path):
        return procs, samples
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5 or not parts[3].isdigit() or not parts[4].isdigit():
                continue
            samples += 1
            _, role, pid, rss, hwm = parts
            p = procs.setdefault(pid, {"role": role, "pid": int(pid), "peak_kb": 0, "last_rss_kb": 0,
                                       "max_rss_kb": 0})
            p["peak_kb"] = max(p["peak_kb"], int(hwm))
            p["max_rss_kb"] = max(p["max_rss_kb"], int(rss))
            p["last_rss_kb"] = int(rss)
    return procs, samples


def cpu_by_part(before_path, after_path, notifications):
    """CPU seconds each part of the system used between two cpu_snapshot.py outputs, and per
    notification: where the cores went, i.e. what bounds the run."""
    try:
        with open(before_path) as f:
            before = json.load(f)
        with open(after_path) as f:
            after = json.load(f)
    except (OSError, ValueError):
        return None
    parts = {k: round(after[k] - before.get(k, 0.0), 2) for k in after}
    total = sum(parts.values())
    return {"seconds": parts, "total_seconds": round(total, 2),
            "ms_per_notification": ({k: round(v * 1000 / notifications, 2) for k, v in parts.items()}
                                    if notifications else None)}


def cpu_in_window(samples_path, lo_ms, hi_ms, notifications):
    """CPU ms per notification of each part between two instants (epoch ms), from the run's
    periodic CPU samples: the samples nearest to either end bound the window, and the
    notifications delivered in it are scaled to the window the samples actually cover."""
    try:
        with open(samples_path) as f:
            samples = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError, TypeError):
        return None
    samples = [s for s in samples if s.get("cpu")]
    if len(samples) < 2 or hi_ms <= lo_ms:
        return None
    first = min(samples, key=lambda s: abs(s["t"] - lo_ms))
    last = min(samples, key=lambda s: abs(s["t"] - hi_ms))
    if last["t"] <= first["t"]:
        return None
    covered = notifications * (last["t"] - first["t"]) / (hi_ms - lo_ms)
    parts = {k: last["cpu"][k] - first["cpu"].get(k, 0.0) for k in last["cpu"]}
    return {"window_s": round((last["t"] - first["t"]) / 1000.0, 1),
            "notifications": round(covered),
            "ms_per_notification": {k: round(v * 1000 / covered, 2) for k, v in parts.items()}}


def db_writes(before_path, after_path, notifications):
    """What the database engine wrote between two db_writes.py snapshots, per collection and per
    notification: rows inserted, rows updated (each a single-document read-modify-write), rows
    deleted, and WAL bytes."""
    try:
        with open(before_path) as f:
            before = json.load(f)
        with open(after_path) as f:
            after = json.load(f)
    except (OSError, ValueError, TypeError):
        return None
    per_coll = {}
    for name, counts in after["tables"].items():
        was = before["tables"].get(name, {})
        delta = {k: v - was.get(k, 0) for k, v in counts.items()}
        if any(delta.values()):
            per_coll[name] = delta
    totals = {k: sum(c[k] for c in per_coll.values())
              for k in ("n_tup_ins", "n_tup_upd", "n_tup_hot_upd", "n_tup_del")}
    wal = after["wal_bytes"] - before["wal_bytes"]
    n = notifications or 1
    return {"collections": per_coll, "totals": totals, "wal_bytes": wal,
            "per_notification": {"inserted": round(totals["n_tup_ins"] / n, 2),
                                 "updated": round(totals["n_tup_upd"] / n, 2),
                                 "deleted": round(totals["n_tup_del"] / n, 2),
                                 "wal_bytes": round(wal / n)}}


def fmt_s(value_ms):
    if value_ms is None:
        return "n/a"
    return f"{value_ms / 1000:.2f} s" if value_ms >= 1000 else f"{value_ms:.0f} ms"


def mb(kb):
    return f"{kb / 1024:.1f} MB"


def cmd_report(args):
    meta = dict(kv.split("=", 1) for kv in args.meta)
    submit = read_json(args.submit_stats)
    with open(args.ids) as f:
        accepted = [line.strip() for line in f if line.strip()]
    accepted_set = set(accepted)
    repeated_ids = len(accepted) - len(accepted_set)

    coll = benchmark_db(args).notifications
    projection = {"type": 1, "platform": 1, "priority": 1, "status": 1, "createdAt": 1,
                  "sentAt": 1, "failedAt": 1, "retryCount": 1, "error": 1}
    docs = {}
    for d in coll.find({"tenantId": args.tenant}, projection, batch_size=5000):
        docs[str(d["_id"])] = d

    # Reconciliation: every accepted id is a document, and terminal.
    missing = [i for i in accepted_set if i not in docs]
    statuses = {}
    for nid in accepted_set:
        if nid in docs:
            s = docs[nid].get("status")
            statuses[s] = statuses.get(s, 0) + 1
    sent_ids = [i for i in accepted_set if i in docs and docs[i].get("status") == "SENT"]
    failed_ids = [i for i in accepted_set if i in docs and docs[i].get("status") == "FAILED"]
    not_terminal = {s: n for s, n in statuses.items() if s not in TERMINAL}
    unacknowledged = [i for i in docs if i not in accepted_set]  # stored, no 201 seen by us
    failure_reasons = {}
    for i in failed_ids:
        reason = (docs[i].get("error") or "")[:120]
        failure_reasons[reason] = failure_reasons.get(reason, 0) + 1

    # Throughput and latency, from the documents' own timestamps.
    created = sorted(ms(docs[i]["createdAt"]) for i in accepted_set if i in docs and docs[i].get("createdAt"))
    sent_at = sorted(ms(docs[i]["sentAt"]) for i in sent_ids if docs[i].get("sentAt"))
    latencies = sorted(ms(docs[i]["sentAt"]) - ms(docs[i]["createdAt"]) for i in sent_ids
                       if docs[i].get("sentAt") and docs[i].get("createdAt"))
    whole = steady = None
    if created and sent_at and sent_at[-1] > created[0]:
        window_s = (sent_at[-1] - created[0]) / 1000.0
        whole = {"per_s": round(len(sent_at) / window_s, 1), "per_min": round(len(sent_at) / window_s * 60),
                 "window_s": round(window_s, 3)}
    to_p99 = None
    if created and len(sent_at) >= 100 and percentile(sent_at, 99) > created[0]:
        window_s = (percentile(sent_at, 99) - created[0]) / 1000.0
        to_p99 = {"per_s": round(0.99 * len(sent_at) / window_s, 1), "window_s": round(window_s, 3)}
    if len(sent_at) >= 10:
        lo, hi = percentile(sent_at, 10), percentile(sent_at, 90)
        if hi > lo:
            n = 0.8 * len(sent_at)
            steady = {"per_s": round(n / ((hi - lo) / 1000.0), 1),
                      "per_min": round(n / ((hi - lo) / 1000.0) * 60),
                      "window_s": round((hi - lo) / 1000.0, 3)}

    per_channel = {}
    per_priority = {}
    retried = 0
    for i in sent_ids:
        d = docs[i]
        if d.get("retryCount"):
            retried += 1
        if d.get("sentAt") and d.get("createdAt"):
            v = ms(d["sentAt"]) - ms(d["createdAt"])
            per_channel.setdefault(channel_of(d), []).append(v)
            per_priority.setdefault(d.get("priority", "?"), []).append(v)
    mix = {}
    for i in accepted_set:
        if i in docs:
            c = channel_of(docs[i])
            mix[c] = mix.get(c, 0) + 1

    # Duplicates and provider records, from the doubles' own per-id counts.
    after = doubles_stats(args.doubles, ids=True)
    before = read_json(args.doubles_before) if args.doubles_before else {}
    providers = {}
    for prov in ("twilio", "fcm", "apns", "webhook"):
        per_id = after.get(prov, {}).get("per_id", {})
        mine = [i for i in accepted_set if i in docs and provider_of(docs[i]) == prov]
        dup = 0
        dup_ids = []
        no_record = 0
        delivered_but_failed = 0
        for i in mine:
            n = per_id.get(apns_id_for(i) if prov == "apns" else i, 0)
            status = docs[i].get("status")
            if n > 1:
                dup += n - 1
                dup_ids.append(i)
            if status == "SENT" and n == 0:
                no_record += 1
            if status == "FAILED" and n > 0:
                delivered_but_failed += 1
        counters = {}
        for k in ("received", "accepted", "failed_transient", "failed_permanent", "rejected", "untracked_ids"):
            counters[k] = after.get(prov, {}).get(k, 0) - before.get(prov, {}).get(k, 0)
        providers[prov] = {"notifications": len(mine), "duplicates": dup, "duplicate_ids": dup_ids[:20],
                           "sent_without_provider_record": no_record,
                           "failed_but_delivered": delivered_but_failed,
                           "counters_delta": counters,
                           "max_in_flight": after.get(prov, {}).get("max_in_flight")}

    email_ids = {i for i in accepted_set if i in docs and provider_of(docs[i]) == "email"}
    mails = maildir_ids(args.maildir, args.since - 5, email_ids)
    email_sent = [i for i in email_ids if docs[i].get("status") == "SENT"]
    providers["email"] = {
        "notifications": len(email_ids),
        "duplicates": sum(n - 1 for n in mails.values() if n > 1),
        "duplicate_ids": [i for i, n in mails.items() if n > 1][:20],
        "sent_without_provider_record": sum(1 for i in email_sent if i not in mails),
        "failed_but_delivered": sum(1 for i in email_ids if docs[i].get("status") == "FAILED" and i in mails),
    }
    duplicates = sum(p["duplicates"] for p in providers.values())
    no_record = sum(p["sent_without_provider_record"] for p in providers.values())

    # A duplicate is explained when its trail shows a lease takeover (two PROCESSING owners).
    dup_trails = {}
    for p in providers.values():
        for i in p["duplicate_ids"]:
            trail = coll.database.notification_logs.find({"notificationId": ObjectId(i)})
            owners = [e.get("actor") for e in trail if e.get("status") == "PROCESSING"]
            dup_trails[i] = owners

    # Another client of shared doubles may have changed their settings or reset their counters
    # during the run: the latency and failures were then not what the benchmark set, and the
    # per-id records (duplicates) are incomplete.
    drift = []
    if args.doubles_drift and os.path.exists(args.doubles_drift):
        with open(args.doubles_drift) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 2)
                last = [d for d in drift if len(parts) == 3 and d["provider"] == parts[1]][-1:]
                if len(parts) == 3 and not (last and last[0]["settings"] == parts[2]):
                    drift.append({"at": int(parts[0]), "provider": parts[1], "settings": parts[2]})
    resets = sorted(prov for prov, p in providers.items()
                    if any(v < 0 for v in p.get("counters_delta", {}).values()))
    disturbed = []
    if drift:
        disturbed.append(f"settings changed {len(drift)}x ({', '.join(sorted({d['provider'] for d in drift}))})")
    if resets:
        disturbed.append(f"counters reset ({', '.join(resets)})")
    if no_record:
        disturbed.append(f"{no_record} SENT without a provider record")

    deaths = child_deaths(args.worker_log)
    procs, samples = rss_peaks(args.rss)
    idle, _ = rss_peaks(args.rss_idle)
    for pid, p in procs.items():
        p["idle_rss_kb"] = idle[pid]["last_rss_kb"] if pid in idle else None
    rss = {"samples": samples, "processes": sorted(procs.values(), key=lambda p: (p["role"], p["pid"]))}
    cpu = cpu_by_part(args.cpu_before, args.cpu_after, len(accepted_set))
    writes = db_writes(args.db_before, args.db_after, len(accepted_set)) if args.db_before else None
    steady_cpu = None
    if args.cpu_samples and steady:
        lo, hi = percentile(sent_at, 10), percentile(sent_at, 90)
        steady_cpu = cpu_in_window(args.cpu_samples, lo, hi, 0.8 * len(sent_at))

    lost = len(missing)
    ok = lost == 0 and not not_terminal and repeated_ids == 0
    result = {
        "benchmark": "e2e",
        "ok": ok,
        "meta": meta,
        "config": {k: submit.get(k) for k in ("mode", "rate_target", "batch", "concurrency", "count_target",
                                               "duration_limit_s", "mix", "priorities")},
        "submit": submit,
        "quiescent": args.quiescent,
        "reconciliation": {
            "accepted": len(accepted_set), "sent": len(sent_ids), "failed": len(failed_ids),
            "not_terminal": not_terminal, "lost": lost, "lost_ids": missing[:20],
            "accepted_equals_sent_plus_failed": len(accepted_set) == len(sent_ids) + len(failed_ids),
            "ids_answered_twice": repeated_ids,
            "stored_without_known_201": len(unacknowledged),
            "failure_reasons": failure_reasons,
            "sent_after_a_retry": retried,
            "duplicates": duplicates, "sent_without_provider_record": no_record,
        },
        "mix": mix,
        "delivered": {"whole_run": whole, "steady_middle_80": steady, "first_99_percent": to_p99},
        "latency_created_to_sent": lat_summary(latencies),
        "latency_by_channel": {c: lat_summary(v) for c, v in sorted(per_channel.items())},
        "latency_by_priority": {c: lat_summary(v) for c, v in sorted(per_priority.items())},
        "providers": providers,
        "duplicate_trails": dup_trails,
        "worker_child_deaths": deaths,
        "doubles_disturbed": disturbed,
        "doubles_drift": drift[:50],
        "rss": rss,
        "cpu": cpu,
        "cpu_steady": steady_cpu,
        "db_writes": writes,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out_json)), exist_ok=True)
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=2, default=str)
    with open(args.out_md, "w") as f:
        f.write(markdown(result))

    # The one summary line.
    lat = result["latency_created_to_sent"] or {}
    roles = {}
    for p in rss["processes"]:
        roles.setdefault(p["role"], []).append(mb(p["peak_kb"]))
    rss_text = ", ".join(f"{r} {'/'.join(v)}" for r, v in sorted(roles.items())) or "n/a"
    verdict = "FAILED" if not ok else ("DISTURBED (" + "; ".join(disturbed) + ")" if disturbed else "OK")
    print(f"e2e {verdict}: {len(accepted_set)} accepted "
          f"({submit['mode']} loop, intake {submit.get('intake_per_s')}/s) = {len(sent_ids)} SENT + "
          f"{len(failed_ids)} FAILED, lost {lost}, not terminal {sum(not_terminal.values())}, "
          f"duplicates {duplicates}, worker child deaths {sum(deaths.values())}; delivered {whole['per_s'] if whole else 'n/a'}/s "
          f"({whole['per_min'] if whole else 'n/a'}/min) first created->last sent, steady "
          f"{steady['per_s'] if steady else 'n/a'}/s (middle 80%); created->sent p50 "
          f"{fmt_s(lat.get('p50_ms'))} p95 {fmt_s(lat.get('p95_ms'))} p99 {fmt_s(lat.get('p99_ms'))}; "
          f"peak RSS {rss_text}")
    return 4 if not ok else (5 if disturbed else 0)


def markdown(r):
    m = r["meta"]
    s = r["submit"]
    rec = r["reconciliation"]
    lat = r["latency_created_to_sent"] or {}
    whole = r["delivered"]["whole_run"] or {}
    steady = r["delivered"]["steady_middle_80"] or {}
    out = []
    out.append(f"### End-to-end delivery, {m.get('date', '')}\n")
    out.append(f"`{m.get('command', 'loadtest/e2e.sh')}` — {m.get('cores', '?')} cores, "
               f"{m.get('workers', '?')} worker children, commit {m.get('commit', '?')}"
               f"{' (with local changes)' if m.get('dirty') == '1' else ''}; doubles at "
               f"{m.get('latency_ms', '?')} ms latency, {m.get('failure_rate', '?')} transient failures; "
               f"{s['mode']} loop"
               + (f" at {s['rate_target']:g}/s" if s.get("rate_target") else "")
               + f", {s['batch']} per request, {s['concurrency']} in flight.\n")
    if r["doubles_disturbed"]:
        out.append("**Not to be trusted**: the provider doubles were disturbed during the run by "
                   "another client: " + "; ".join(r["doubles_disturbed"]) + ".\n")
    out.append("| figure | value |\n|---|---|")
    rows = [
        ("accepted (201) / offered", f"{s['accepted']:,} / {s['offered']:,} "
                                     f"(refused {sum(s['refused_by_code'].values()):,}, unknown {s['unknown_in_transit']:,})"),
        ("intake", f"{s.get('intake_per_s')}/s over {s['submit_seconds']} s; batch request p50 "
                   f"{fmt_s(s['request_latency_ms']['p50'])}, p99 {fmt_s(s['request_latency_ms']['p99'])}"),
        ("delivered, first createdAt → last sentAt", f"{whole.get('per_s', 'n/a')}/s "
                                                     f"({whole.get('per_min', 'n/a')}/min) over {whole.get('window_s', 'n/a')} s"),
        ("delivered, first createdAt → 99th percentile sentAt",
         f"{(r['delivered']['first_99_percent'] or {}).get('per_s', 'n/a')}/s over "
         f"{(r['delivered']['first_99_percent'] or {}).get('window_s', 'n/a')} s"),
        ("delivered, steady state (middle 80 % by sentAt)", f"{steady.get('per_s', 'n/a')}/s "
                                                             f"({steady.get('per_min', 'n/a')}/min)"),
        ("createdAt → sentAt p50 / p95 / p99 / max", " / ".join(fmt_s(lat.get(k)) for k in
                                                              ("p50_ms", "p95_ms", "p99_ms", "max_ms"))),
        ("SENT + FAILED = accepted", f"{rec['sent']:,} + {rec['failed']:,} = {rec['sent'] + rec['failed']:,} "
                                     f"of {rec['accepted']:,} ({'yes' if rec['accepted_equals_sent_plus_failed'] else 'NO'})"),
        ("lost / not terminal", f"{rec['lost']} / {sum(rec['not_terminal'].values())}"),
        ("duplicates (doubles' per-id records, Maildir)", f"{rec['duplicates']}"),
        ("SENT without a provider record", f"{rec['sent_without_provider_record']}"),
        ("sent after at least one retry", f"{rec['sent_after_a_retry']:,}"),
        ("worker children that died (master's log)", ", ".join(f"{n} {how}" for how, n in
                                                          r["worker_child_deaths"].items()) or "0"),
    ]
    for k, v in rows:
        out.append(f"| {k} | {v} |")
    out.append("")
    out.append("| channel | notifications | duplicates | p50 | p99 | injected transient failures |")
    out.append("|---|---|---|---|---|---|")
    for prov, p in r["providers"].items():
        ch = {"twilio": "sms"}.get(prov, prov)
        l = r["latency_by_channel"].get(ch) or {}
        inj = p.get("counters_delta", {}).get("failed_transient", "—")
        out.append(f"| {ch} | {p['notifications']:,} | {p['duplicates']} | {fmt_s(l.get('p50_ms'))} | "
                   f"{fmt_s(l.get('p99_ms'))} | {inj} |")
    out.append("")
    out.append("| process | pid | RSS at idle | peak RSS (VmHWM) | RSS at the end |")
    out.append("|---|---|---|---|---|")
    for p in r["rss"]["processes"]:
        idle = mb(p["idle_rss_kb"]) if p.get("idle_rss_kb") else "—"
        out.append(f"| {p['role']} | {p['pid']} | {idle} | {mb(p['peak_kb'])} | {mb(p['last_rss_kb'])} |")
    cpu = r.get("cpu")
    if cpu and cpu["total_seconds"] > 0:
        out.append("")
        out.append("| part of the system | CPU seconds | share | CPU ms per notification |")
        out.append("|---|---|---|---|")
        for part, sec in sorted(cpu["seconds"].items(), key=lambda kv: -kv[1]):
            per = (cpu["ms_per_notification"] or {}).get(part)
            out.append(f"| {part} | {sec:.1f} | {sec / cpu['total_seconds']:.0%} | "
                       f"{per if per is not None else '—'} |")
    sc = r.get("cpu_steady")
    if sc:
        per = sc["ms_per_notification"]
        db = sum(v for k, v in per.items() if k in ("postgresql", "ferretdb"))
        out.append("")
        out.append(f"In the steady state (the {sc['window_s']} s between the 10th and 90th "
                   f"percentile of sentAt, about {sc['notifications']:,} deliveries): "
                   + ", ".join(f"{k} {v}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
                   + f" CPU ms per notification; the database {db:.2f} ms, everything else "
                   f"{sum(per.values()) - db:.2f} ms.")
    writes = r.get("db_writes")
    if writes:
        per = writes["per_notification"]
        out.append("")
        out.append("| what the database wrote (PostgreSQL's counters) | rows inserted | rows updated "
                   "(read-modify-writes) | rows deleted |")
        out.append("|---|---|---|---|")
        for name, c in sorted(writes["collections"].items()):
            out.append(f"| {name} | {c['n_tup_ins']:,} | {c['n_tup_upd']:,} | {c['n_tup_del']:,} |")
        out.append(f"| **per notification** | {per['inserted']} | {per['updated']} | {per['deleted']} |")
        out.append(f"\nWAL written: {writes['wal_bytes'] / 1e6:.1f} MB, {per['wal_bytes']:,} bytes "
                   "per notification (the whole cluster's log, so anything else running adds to it).")
    out.append("")
    out.append("Delivered/s (whole run) is SENT over first createdAt → last sentAt, so the tail of "
               "retries counts against it; the steady state is 0.8·SENT over the 10th → 90th "
               "percentile of sentAt. Latencies are the documents' own createdAt → sentAt. "
               "Duplicates come from the provider doubles' per-id counts and the Maildir. "
               "Injected failures are the doubles' counter deltas over the run (other clients of "
               "the doubles would add to them).\n")
    return "\n".join(out)


def add_arguments(parsers):
    for p in parsers.values():
        p.add_argument("--tenant", required=True)
    w = parsers["wait"]
    w.add_argument("--expected", type=int, required=True)
    w.add_argument("--timeout", type=float, default=600)
    w.add_argument("--interval", type=float, default=2)
    w.add_argument("--stall", type=float, default=200,
                   help="give up when no status changed for this long (the longest retry tier is 125 s)")
    r = parsers["report"]
    r.add_argument("--ids", required=True)
    r.add_argument("--submit-stats", required=True)
    r.add_argument("--rss", required=True)
    r.add_argument("--rss-idle", required=True, help="one sample per process before the load")
    r.add_argument("--cpu-before", required=True, help="cpu_snapshot.py before the first request")
    r.add_argument("--cpu-after", required=True, help="cpu_snapshot.py after the last delivery")
    r.add_argument("--cpu-samples", help="the run's periodic CPU snapshots (JSON lines)")
    r.add_argument("--db-before", help="db_writes.py before the first request")
    r.add_argument("--db-after", help="db_writes.py after the last delivery")
    r.add_argument("--doubles", required=True)
    r.add_argument("--doubles-before")
    r.add_argument("--maildir", required=True)
    r.add_argument("--since", type=float, required=True)
    r.add_argument("--quiescent", type=int, default=1)
    r.add_argument("--doubles-drift")
    r.add_argument("--worker-log")


def main():
    return run_subcommand(__doc__.split("\n\n")[0], {"wait": cmd_wait, "report": cmd_report},
                          add_arguments)


if __name__ == "__main__":
    sys.exit(main())
