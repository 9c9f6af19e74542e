"""One run of loadtest/failover.sh, and its report.

  failover.py run ...     offers the SMS load (loadtest/e2e_submit.py), takes the Twilio double
                          down for the outage, watches the worker's breakers, waits until every
                          accepted notification is SENT or FAILED and writes what it measured to
                          one JSON file (--out)
  failover.py report ...  turns the runs' JSON files into results/failover.json and failover.md

The breaker's state comes from the worker master's GET /metrics (circuit_breaker_state, the
shared-memory breaker every child consults), sampled twice a second: it is the state `route`
reads, not a report derived from it. The audit trail says the same from the other side: a SENT
entry via vonage "(after twilio: ...)" is an attempt Twilio refused and Vonage took at once; one
via vonage without it went past a breaker that refused Twilio.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pymongo
from bson import ObjectId

from e2e_report import lat_summary, ms

HERE = os.path.dirname(os.path.abspath(__file__))
PROVIDERS = ("twilio", "vonage")
STATE_NAMES = {0: "closed", 1: "open", 2: "half-open"}


def call(url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def configure(control, provider, **fields):
    return call(f"{control}/_control/{provider}/config", fields)


class BreakerWatch(threading.Thread):
    """Samples the worker's /metrics: every change of the SMS breakers' states, with its time,
    and the last provider_requests_total seen."""

    SAMPLE = re.compile(r'^\w*circuit_breaker_state\{provider="(twilio|vonage)"\} (\d+)$', re.M)
    REQUESTS = re.compile(r'^\w*provider_requests_total\{provider="(twilio|vonage)",([^}]*)\} (\d+)$',
                          re.M)

    def __init__(self, url, period=0.5, limit_s=3600):
        super().__init__(daemon=True)
        self.url, self.period, self.limit_s = url, period, limit_s
        self.stop = threading.Event()
        self.state = {}
        self.changes = []  # [epoch s, provider, state name]
        self.samples = 0
        self.failed_samples = 0
        self.requests = {}

    def run(self):
        end = time.time() + self.limit_s
        while not self.stop.is_set() and time.time() < end:
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    text = resp.read().decode()
            except (OSError, urllib.error.URLError):
                self.failed_samples += 1
                self.stop.wait(self.period)
                continue
            now = time.time()
            self.samples += 1
            for prov, value in self.SAMPLE.findall(text):
                name = STATE_NAMES.get(int(value), value)
                if self.state.get(prov) != name:
                    self.state[prov] = name
                    self.changes.append([round(now, 3), prov, name])
            self.requests = {f"{p} {labels}": int(n) for p, labels, n in self.REQUESTS.findall(text)}
            self.stop.wait(self.period)


def final_counts(db, ids):
    counts = {}
    for d in db.notifications.aggregate([{"$match": {"_id": {"$in": ids}}},
                                         {"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
        counts[d["_id"]] = d["n"]
    return counts


def trail_summary(db, ids):
    """What the audit trail says about the SMS providers, counted over the run's notifications."""
    out = {"sent_via_vonage_after_twilio": 0, "sent_via_vonage_twilio_skipped": 0,
           "sent_via_twilio": 0, "retrying_attempt_failed": 0, "retrying_breaker_open": 0,
           "failed": 0}
    examples = {}
    for e in db.notification_logs.find({"notificationId": {"$in": ids}},
                                       {"status": 1, "message": 1}):
        msg, st = e.get("message") or "", e.get("status")
        key = None
        if st == "SENT":
            if "provider vonage" in msg:
                key = ("sent_via_vonage_after_twilio" if "(after twilio:" in msg
                       else "sent_via_vonage_twilio_skipped")
            elif "provider twilio" in msg:
                key = "sent_via_twilio"
        elif st == "RETRYING":
            key = "retrying_breaker_open" if msg.startswith("Not attempted") else "retrying_attempt_failed"
        elif st == "FAILED":
            key = "failed"
        if key:
            out[key] += 1
            examples.setdefault(key, msg[:300])
    out["examples"] = examples
    return out


def reconcile(docs, stats):
    """Each notification against the doubles' per-id records: SENT by provider P must have been
    accepted by P; accepted more than once in all is a duplicate."""
    per_id = {p: (stats.get(p) or {}).get("per_id") or {} for p in PROVIDERS}
    r = {"sent_without_record_at_named_provider": 0, "failed_but_delivered": 0,
         "accepted_by_both": 0, "duplicates": 0, "duplicate_ids": [], "sent_without_provider": 0}
    for d in docs:
        i = str(d["_id"])
        n = {p: per_id[p].get(i, 0) for p in PROVIDERS}
        total = sum(n.values())
        if d["status"] == "SENT":
            named = d.get("providerName")
            if named not in PROVIDERS:
                r["sent_without_provider"] += 1
            elif n[named] == 0:
                r["sent_without_record_at_named_provider"] += 1
        elif d["status"] == "FAILED" and total > 0:
            r["failed_but_delivered"] += 1
        if n["twilio"] and n["vonage"]:
            r["accepted_by_both"] += 1
        if total > 1:
            r["duplicates"] += total - 1
            if len(r["duplicate_ids"]) < 20:
                r["duplicate_ids"].append(i)
    r["counters"] = {p: {k: (stats.get(p) or {}).get(k) for k in
                         ("received", "accepted", "failed_transient", "failed_permanent", "rejected",
                          "duplicates", "untracked_ids", "max_in_flight")} for p in PROVIDERS}
    return r


def run(args):
    db = pymongo.MongoClient(args.mongodb_uri, serverSelectionTimeoutMS=10000)[args.db]
    for p in PROVIDERS:
        configure(args.control, p, latency_ms=args.latency, latency_jitter_ms=0, failure_rate=0,
                  failure_kind="503", down=False, fail_first_n=0, retry_after_s=1)
    watch = BreakerWatch(args.metrics, limit_s=args.timeout + 600)
    watch.start()
    ids_path, stats_path = f"{args.out}.ids", f"{args.out}.submit.json"
    submit_duration = args.count / args.rate + 30
    env = dict(os.environ, WAVECOM_E2E_KEY=args.key)
    submitter = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "e2e_submit.py"), "--url", args.api,
         "--count", str(args.count), "--rate", str(args.rate), "--duration", str(submit_duration),
         "--mix", "sms=1", "--priorities", "MEDIUM=1", "--webhook-base", "http://127.0.0.1:9/none",
         "--tag", args.tag, "--ids-out", ids_path, "--stats-out", stats_path], env=env)
    t0 = time.time()
    outage = {}
    try:
        time.sleep(max(0.0, t0 + args.outage_start - time.time()))
        configure(args.control, "twilio", down=True)
        outage["down_at"] = time.time()
        print(f"twilio double down at +{outage['down_at'] - t0:.1f} s", file=sys.stderr)
        time.sleep(max(0.0, outage["down_at"] + args.outage - time.time()))
    finally:
        # Whatever happened, the double must not stay down for the next run.
        configure(args.control, "twilio", down=False)
        outage["up_at"] = time.time()
    print(f"twilio double up again at +{outage['up_at'] - t0:.1f} s "
          f"({outage['up_at'] - outage['down_at']:.1f} s down)", file=sys.stderr)
    try:
        submitter.wait(timeout=submit_duration + 150)
    except subprocess.TimeoutExpired:
        submitter.kill()
        sys.exit("error: the submitter did not finish in time")
    submitted_at = time.time()
    with open(ids_path) as f:
        # The API answers the id as hex; the documents' _id (and the trail's notificationId) is
        # the ObjectId.
        ids = [ObjectId(x) if ObjectId.is_valid(x) else x for x in
               (line.strip() for line in f) if x]
    with open(stats_path) as f:
        submit = json.load(f)
    print(f"submitted {len(ids)} of {args.count} in {submit['submit_seconds']} s", file=sys.stderr)

    deadline = submitted_at + args.timeout
    counts, last_print = {}, 0.0
    while True:
        counts = final_counts(db, ids)
        done = counts.get("SENT", 0) + counts.get("FAILED", 0)
        if done >= len(ids) or time.time() >= deadline:
            break
        if time.time() - last_print >= 10:
            last_print = time.time()
            print(f"  +{time.time() - t0:5.0f} s: {counts}", file=sys.stderr, flush=True)
        time.sleep(1)
    finished = counts.get("SENT", 0) + counts.get("FAILED", 0) >= len(ids)
    ended_at = time.time()
    time.sleep(1.5)  # one more breaker sample after the last outcome
    watch.stop.set()
    watch.join(10)
    print(f"{'all ended' if finished else 'TIMED OUT'} after {ended_at - submitted_at:.0f} s of "
          f"waiting: {counts}", file=sys.stderr)

    docs = list(db.notifications.find(
        {"_id": {"$in": ids}},
        {"status": 1, "createdAt": 1, "sentAt": 1, "providerName": 1, "retryCount": 1, "error": 1}))
    sent = [d for d in docs if d["status"] == "SENT" and d.get("sentAt") and d.get("createdAt")]
    by_provider = {}
    for d in docs:
        if d["status"] == "SENT":
            p = d.get("providerName") or "none"
            by_provider[p] = by_provider.get(p, 0) + 1
    lo, hi = outage["down_at"] * 1000, outage["up_at"] * 1000
    in_outage = {}
    for d in sent:
        if lo <= ms(d["sentAt"]) <= hi:
            p = d.get("providerName") or "none"
            in_outage[p] = in_outage.get(p, 0) + 1
    retries = {}
    for d in docs:
        k = str(int(d.get("retryCount") or 0))
        retries[k] = retries.get(k, 0) + 1
    errors = {}
    for d in docs:
        if d["status"] == "FAILED":
            e = (d.get("error") or "")[:120]
            errors[e] = errors.get(e, 0) + 1
    created = [ms(d["createdAt"]) for d in docs if d.get("createdAt")]
    created_in_outage = sum(1 for c in created if lo <= c <= hi)

    changes = [[round(c[0] - t0, 1), c[1], c[2]] for c in watch.changes]
    opened = [c for c in changes if c[1] == "twilio" and c[2] == "open"]
    stats = call(f"{args.control}/_control/stats?ids=1", timeout=60)
    out = {
        "mode": args.mode,
        "sms_providers": args.sms_providers,
        "submit": {k: submit.get(k) for k in ("offered", "accepted", "refused_by_code",
                                              "unknown_in_transit", "submit_seconds",
                                              "intake_per_s", "rate_target", "batch",
                                              "open_loop_lag_ms")},
        "outage": {"start_s": round(outage["down_at"] - t0, 2),
                   "end_s": round(outage["up_at"] - t0, 2),
                   "seconds": round(outage["up_at"] - outage["down_at"], 2),
                   "created_during": created_in_outage},
        "finished": finished,
        "waited_after_submit_s": round(ended_at - submitted_at, 1),
        "last_outcome_s": round(max((ms(d["sentAt"]) for d in sent), default=t0 * 1000) / 1000 - t0, 1),
        "status": counts,
        "by_provider": by_provider,
        "sent_during_outage_by_provider": in_outage,
        "retry_count": retries,
        "failed_errors": errors,
        "latency_created_to_sent": lat_summary([ms(d["sentAt"]) - ms(d["createdAt"]) for d in sent]),
        "breaker": {"twilio_opened": bool(opened), "twilio_open_transitions": len(opened),
                    "first_open_s": opened[0][0] if opened else None,
                    "changes": changes, "samples": watch.samples,
                    "failed_samples": watch.failed_samples,
                    "sample_period_s": watch.period},
        "worker_provider_requests": watch.requests,
        "trail": trail_summary(db, ids),
        "reconciliation": reconcile(docs, stats),
        "accepted": len(ids),
        "stored": len(docs),
    }
    out["reconciliation"]["lost"] = len(ids) - len(docs)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2, default=str)
    return 0 if finished else 4


def run_ok(r):
    rec = r["reconciliation"]
    return (r["finished"] and rec["lost"] == 0 and rec["sent_without_record_at_named_provider"] == 0
            and rec["failed_but_delivered"] == 0 and rec["sent_without_provider"] == 0)


def fmt_s(v):
    return "n/a" if v is None else f"{v / 1000:.2f} s"


def report(args):
    runs = []
    for name in args.runs:
        with open(name) as f:
            runs.append(json.load(f))
    meta = dict(m.split("=", 1) for m in args.meta)
    ok = all(run_ok(r) for r in runs)
    fo = next((r for r in runs if r["mode"] == "failover"), None)
    all_sent_failover = bool(fo) and fo["finished"] and fo["status"].get("SENT", 0) == fo["accepted"]
    with open(args.out_json, "w") as f:
        json.dump({"meta": meta, "runs": runs, "reconciled": ok,
                   "failover_all_sent": all_sent_failover}, f, indent=2)

    def kv(d, sep=" "):
        return ", ".join(f"{k}{sep}{v:,}" for k, v in sorted(d.items())) or "none"

    first = runs[0]
    lines = [
        "## SMS failover under a 60-second outage (`loadtest/failover.sh`)",
        "",
        f"`{meta.get('command', 'loadtest/failover.sh')}` on {meta.get('date', '?')}, commit "
        f"{meta.get('commit', '?')}{' (uncommitted changes)' if meta.get('dirty') == '1' else ''}, "
        f"{meta.get('cores', '?')} cores, {meta.get('workers', '?')} worker children. Each run: a "
        f"fresh database and vhost, {first['submit']['accepted']:,} SMS offered at "
        f"{first['submit']['rate_target']}/s through `POST /api/notifications/batch` "
        f"({first['submit']['batch']} a request), the Twilio and Vonage doubles at "
        f"{meta.get('latency_ms', '?')} ms and no random failures; the Twilio double answers 503 "
        f"for {first['outage']['seconds']:.0f} s from +{first['outage']['start_s']:.0f} s. Breaker: "
        f"{meta.get('breaker_threshold', '?')} consecutive failures open it for "
        f"{meta.get('breaker_open_s', '?')} s; retries {meta.get('max_retries', '?')}. Breaker "
        "state from the worker's `/metrics` sampled every 0.5 s; latency from each document's "
        "createdAt → sentAt.",
        "",
        "| Run | SMS providers | ended | all SENT? | created→sent p50 / p95 / p99 / max | SENT by "
        "provider | SENT during the outage | Twilio breaker | retries (retryCount) | lost / "
        "duplicates / named provider without a record |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lat = r["latency_created_to_sent"] or {}
        rec = r["reconciliation"]
        b = r["breaker"]
        breaker = (f"opened {b['twilio_open_transitions']}× (first at +{b['first_open_s']} s)"
                   if b["twilio_opened"] else "never opened")
        all_sent = r["status"].get("SENT", 0) == r["accepted"]
        lines.append(
            f"| {r['mode']} | `{r['sms_providers']}` | "
            f"{'all' if r['finished'] else 'NOT all (timed out)'} at +{r['last_outcome_s']} s | "
            f"{'yes' if all_sent else 'no'}: {kv(r['status'])} | "
            f"{fmt_s(lat.get('p50_ms'))} / {fmt_s(lat.get('p95_ms'))} / {fmt_s(lat.get('p99_ms'))} / "
            f"{fmt_s(lat.get('max_ms'))} | {kv(r['by_provider'])} | "
            f"{kv(r['sent_during_outage_by_provider'])} | {breaker} | {kv(r['retry_count'], ': ')} | "
            f"{rec['lost']} / {rec['duplicates']} / {rec['sent_without_record_at_named_provider']} |")
    lines += ["", "What the audit trail and the doubles recorded:", ""]
    for r in runs:
        t, c = r["trail"], r["reconciliation"]["counters"]
        lines.append(
            f"- {r['mode']}: SENT via twilio {t['sent_via_twilio']:,}; via vonage right after a "
            f"Twilio 503 {t['sent_via_vonage_after_twilio']:,}; via vonage with Twilio's breaker "
            f"refusing {t['sent_via_vonage_twilio_skipped']:,}; RETRYING after a failed attempt "
            f"{t['retrying_attempt_failed']:,}, not attempted (breaker open) "
            f"{t['retrying_breaker_open']:,}; FAILED {t['failed']:,}. Twilio double: "
            f"{c['twilio']['received']:,} requests, {c['twilio']['accepted']:,} accepted, "
            f"{c['twilio']['failed_transient']:,} answered 503; Vonage double: "
            f"{c['vonage']['received']:,} requests, {c['vonage']['accepted']:,} accepted. "
            f"Breaker changes (s after the load began, provider, state): "
            + ", ".join(f"{x[0]} {x[1]} {x[2]}" for x in r["breaker"]["changes"]) + ".")
        if r["failed_errors"]:
            lines.append("  FAILED with: " + "; ".join(f"{n}× `{e}`" for e, n in
                                                       r["failed_errors"].items()))
    lines += ["", "Reconciliation: " + (
        "every accepted notification was stored and ended; each SENT one was accepted by the "
        "provider its document names (the doubles' per-id records)." if ok else
        "FAILED (see the table)."), ""]
    with open(args.out_md, "w") as f:
        f.write("\n".join(lines))
    summary = "; ".join(
        f"{r['mode']}: {kv(r['status'])}, p99 {fmt_s((r['latency_created_to_sent'] or {}).get('p99_ms'))}, "
        f"{kv(r['by_provider'])}" for r in runs)
    print(f"failover: {summary}; reconciled {'yes' if ok else 'NO'}")
    return 0 if ok and all_sent_failover else 4


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--api", required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--control", required=True)
    r.add_argument("--metrics", required=True, help="the worker master's /metrics URL")
    r.add_argument("--mongodb-uri", required=True)
    r.add_argument("--db", required=True)
    r.add_argument("--mode", required=True, choices=["failover", "no-failover"])
    r.add_argument("--sms-providers", required=True)
    r.add_argument("--count", type=int, default=2000)
    r.add_argument("--rate", type=float, default=27.0)
    r.add_argument("--latency", type=int, default=200)
    r.add_argument("--outage-start", type=float, default=5.0)
    r.add_argument("--outage", type=float, default=60.0)
    r.add_argument("--timeout", type=int, default=600)
    r.add_argument("--tag", required=True)
    r.add_argument("--out", required=True)
    q = sub.add_parser("report")
    q.add_argument("--out-json", required=True)
    q.add_argument("--out-md", required=True)
    q.add_argument("--meta", action="append", default=[])
    q.add_argument("runs", nargs="+")
    args = p.parse_args()
    if args.cmd == "run":
        if not (1 <= args.count <= 20000 and 0 < args.rate <= 1000 and args.outage > 0
                and args.tag.isdigit()):
            sys.exit("error: --count 1..20000, --rate 0..1000, --outage > 0, --tag digits")
        return run(args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
