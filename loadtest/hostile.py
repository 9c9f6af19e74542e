"""One run of loadtest/hostile.sh, and its report.

  hostile.py run ...     registers the endpoints, publishes the events, waits for the healthy
                         deliveries and writes what it measured to one JSON file (--out)
  hostile.py report ...  turns the runs' JSON files into results/hostile.json and hostile.md

A run has ENDPOINTS endpoints subscribed to one event type on the webhook double: all but the last
at http://127.0.0.1:PORT/..., the last at http://localhost:PORT/... — healthy in the baseline,
under /hostile/KIND/ otherwise. The last one has a host name of its own because the worker's
webhook circuit breaker is keyed by the URL's host: in production every customer's endpoint is its
own host, here all of them share one listener, and a hostile endpoint on 127.0.0.1 would open the
breaker of the healthy ones. The baseline gives the same endpoint the same host, so that the two
runs differ only in its behaviour.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
import urllib.request

import pymongo

from e2e_report import ms

EVENT_TYPE = "bench.tick"


def call(url, method="GET", body=None, key=None, timeout=30):
    """(status, parsed JSON or None) of one request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


def percentile(values, p):
    if not values:
        return None
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def create_endpoints(args):
    """[(id, url, role)] with role "healthy" or "last"; the double learns each one's secret."""
    out = []
    port = urllib.parse.urlsplit(args.webhook).port
    for i in range(1, args.endpoints + 1):
        last = i == args.endpoints
        path = f"/hb-{args.tenant}/ep{i}/"
        if last and args.kind != "none":
            path = f"/hostile/{args.kind}{path}"
        host = "localhost" if last else "127.0.0.1"
        url = f"http://{host}:{port}{path}"
        status, body = call(f"{args.api}/api/endpoints", "POST",
                            {"url": url, "eventTypes": [EVENT_TYPE], "description": f"bench {i}"},
                            key=args.admin_key)
        if status != 201:
            sys.exit(f"error: POST /api/endpoints {url}: {status} {body}")
        data = body["data"]
        status, body = call(f"{args.control}/_control/webhook/secrets", "POST",
                            {"prefix": path, "secret": data["secret"]})
        if status != 200:
            sys.exit(f"error: registering the secret of {path}: {status} {body}")
        out.append((data["id"], url, "last" if last else "healthy"))
    return out


def publish(args):
    """Publishes args.events events in batches, args.concurrency requests in flight; returns the
    submitter's figures."""
    host, port = urllib.parse.urlsplit(args.api).hostname, urllib.parse.urlsplit(args.api).port
    headers = {"Authorization": f"Bearer {args.sender_key}", "Content-Type": "application/json"}
    batches = [list(range(s, min(s + args.batch, args.events)))
               for s in range(0, args.events, args.batch)]
    lock = threading.Lock()
    state = {"next": 0, "published": 0, "refused": 0, "errors": [], "deliveries": 0}

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while True:
            with lock:
                if state["next"] >= len(batches):
                    break
                batch = batches[state["next"]]
                state["next"] += 1
            body = {"events": [{"type": EVENT_TYPE, "eventId": f"{args.tag}-{n}",
                                "payload": {"n": n, "run": args.tag}} for n in batch]}
            try:
                conn.request("POST", "/api/events/batch", body=json.dumps(body), headers=headers)
                resp = conn.getresponse()
                answer = json.loads(resp.read() or b"null")
            except (OSError, http.client.HTTPException, ValueError) as e:
                conn.close()
                with lock:
                    state["errors"].append(type(e).__name__)
                    state["refused"] += len(batch)
                continue
            with lock:
                results = (answer or {}).get("data") or []
                # A result per event: {"status": 201, "event": {..., "fanout", "deliveries"}}.
                ok = [r["event"] for r in results if isinstance(r, dict) and r.get("status") == 201
                      and isinstance(r.get("event"), dict) and r["event"].get("fanout") == "done"]
                state["published"] += len(ok)
                state["deliveries"] += sum(int(e.get("deliveries") or 0) for e in ok)
                state["refused"] += len(batch) - len(ok)
                if resp.status not in (200, 201) and len(state["errors"]) < 5:
                    state["errors"].append(f"{resp.status} {json.dumps(answer)[:200]}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.time() - start
    return {"events": args.events, "published": state["published"], "refused": state["refused"],
            "deliveries_answered": state["deliveries"], "errors": state["errors"][:5],
            "seconds": round(seconds, 3),
            "events_per_s": round(state["published"] / seconds, 1) if seconds > 0 else None,
            "started": start}


def run(args):
    endpoints = create_endpoints(args)
    healthy = [e[0] for e in endpoints if e[2] == "healthy"]
    last = [e[0] for e in endpoints if e[2] == "last"][0]
    db = pymongo.MongoClient(args.mongodb_uri)[args.db]
    pub = publish(args)
    print(f"published {pub['published']} of {args.events} events in {pub['seconds']} s "
          f"({pub['events_per_s']}/s)", file=sys.stderr)
    want = pub["published"] * len(healthy)
    deadline = time.time() + args.timeout
    sent = 0
    while time.time() < deadline:
        sent = db.notifications.count_documents(
            {"tenantId": args.tenant, "endpointId": {"$in": healthy}, "status": "SENT"})
        if sent >= want:
            break
        time.sleep(1)
    drained = sent >= want
    waited = round(time.time() - pub["started"] - pub["seconds"], 1)
    print(f"healthy deliveries SENT: {sent} of {want} ({'all' if drained else 'TIMED OUT'}, "
          f"{waited} s after the last publish)", file=sys.stderr)

    docs = list(db.notifications.find(
        {"tenantId": args.tenant},
        {"endpointId": 1, "status": 1, "createdAt": 1, "sentAt": 1, "retryCount": 1, "error": 1}))
    healthy_set = set(healthy)
    h_docs = [d for d in docs if d.get("endpointId") in healthy_set]
    l_docs = [d for d in docs if d.get("endpointId") == last]
    h_status, l_status, l_retries, l_errors = {}, {}, {}, {}
    for d in h_docs:
        h_status[d["status"]] = h_status.get(d["status"], 0) + 1
    for d in l_docs:
        l_status[d["status"]] = l_status.get(d["status"], 0) + 1
        r = int(d.get("retryCount") or 0)
        l_retries[str(r)] = l_retries.get(str(r), 0) + 1
        e = (d.get("error") or "")[:100]
        if e:
            l_errors[e] = l_errors.get(e, 0) + 1
    h_sent = [d for d in h_docs if d["status"] == "SENT" and d.get("sentAt")]
    first_created = min((ms(d["createdAt"]) for d in h_docs if d.get("createdAt")), default=None)
    last_sent = max((ms(d["sentAt"]) for d in h_sent), default=None)
    span = (last_sent - first_created) / 1000.0 if first_created and last_sent else None
    latencies = sorted(ms(d["sentAt"]) - ms(d["createdAt"]) for d in h_sent if d.get("createdAt"))

    # What the double saw of each healthy delivery: its webhook-id is the notification's id.
    _, stats = call(f"{args.control}/_control/stats?ids=1", timeout=60)
    per_id = stats["webhook"].get("per_id") or {}
    received = [per_id.get(str(d["_id"]), 0) for d in h_docs]
    l_received = [per_id.get(str(d["_id"]), 0) for d in l_docs]
    _, health = call(f"{args.api}/api/endpoints/{last}/health", key=args.admin_key)
    health = (health or {}).get("data", health) or {}

    out = {
        "kind": args.kind,
        "endpoints": len(endpoints),
        "publish": {k: v for k, v in pub.items() if k != "started"},
        "healthy": {
            "endpoints": len(healthy), "expected": want, "stored": len(h_docs), "status": h_status,
            "drained": drained,
            "first_created_to_last_sent_s": round(span, 3) if span else None,
            "deliveries_per_s": round(len(h_sent) / span, 1) if span else None,
            "latency_ms": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                           "max": latencies[-1] if latencies else None},
            "received_once": sum(1 for n in received if n == 1),
            "never_received": sum(1 for n in received if n == 0),
            "received_twice_or_more": sum(1 for n in received if n > 1),
        },
        "last_endpoint": {
            "url": [e[1] for e in endpoints if e[2] == "last"][0],
            "deliveries": len(l_docs), "status": l_status, "retry_count": l_retries,
            "errors": dict(sorted(l_errors.items(), key=lambda kv: -kv[1])[:4]),
            "accepted_by_double": sum(1 for n in l_received if n >= 1),
            "health": {k: health.get(k) for k in ("attempts", "delivered", "failed", "lastError",
                                                  "failingSince")},
        },
        "double": {k: v for k, v in stats["webhook"].items() if k != "per_id"},
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2, default=str)
    return 0 if drained else 4


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def report(args):
    runs = []
    for name in args.runs:
        with open(name) as f:
            runs.append(json.load(f))
    meta = dict(m.split("=", 1) for m in args.meta)
    base = next((r for r in runs if r["kind"] == "none"), None)
    if base is None:
        sys.exit("error: no baseline run among the runs")
    for r in runs:
        r["ratio"] = {
            "events_per_s": ratio(r["publish"]["events_per_s"], base["publish"]["events_per_s"]),
            "deliveries_per_s": ratio(r["healthy"]["deliveries_per_s"],
                                      base["healthy"]["deliveries_per_s"]),
        }
        r["non_loopback_connections"] = int(meta.get(f"outside_{r['kind']}", "-1"))
    ok = all(r["healthy"]["drained"] and r["healthy"]["never_received"] == 0
             and r["healthy"]["received_twice_or_more"] == 0
             and r["non_loopback_connections"] == 0 for r in runs)
    with open(args.out_json, "w") as f:
        json.dump({"meta": meta, "runs": runs, "reconciled": ok}, f, indent=2)

    def st(d):
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"

    lines = [
        "## One hostile endpoint among twenty (`loadtest/hostile.sh`)",
        "",
        f"`{meta.get('command', 'loadtest/hostile.sh')}` on {meta.get('date', '?')}, commit "
        f"{meta.get('commit', '?')}{' (uncommitted changes)' if meta.get('dirty') == '1' else ''}, "
        f"{meta.get('cores', '?')} cores, {meta.get('workers', '?')} worker children, "
        f"prefetch {meta.get('prefetch', '?')}, provider timeout {meta.get('timeout_ms', '?')} ms. "
        f"Each run: a fresh database, {base['endpoints']} endpoints subscribed to one event type, "
        f"{base['publish']['events']} events published through `POST /api/events/batch` "
        f"({meta.get('batch', '?')} a request, {meta.get('concurrency', '?')} in flight); the "
        "baseline has all endpoints healthy, each other run makes the last one hostile. "
        "Deliveries/s: the 19 healthy endpoints' deliveries over first createdAt → last sentAt.",
        "",
        "| Run | events/s | ratio | healthy deliveries/s | ratio | healthy: SENT once / lost / twice | "
        "healthy p99 created→sent | hostile endpoint's deliveries at the end | its attempts "
        "(worker) | connections outside 127.0.0.0/8 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        h, l = r["healthy"], r["last_endpoint"]
        p99 = h["latency_ms"]["p99"]
        name = "baseline (20 healthy)" if r["kind"] == "none" else f"`{r['kind']}`"
        lines.append(
            f"| {name} | {r['publish']['events_per_s']} | {r['ratio']['events_per_s']} | "
            f"{h['deliveries_per_s']} | {r['ratio']['deliveries_per_s']} | "
            f"{h['received_once']} / {h['never_received']} / {h['received_twice_or_more']}"
            f"{'' if h['drained'] else ' (not drained)'} | "
            f"{round(p99 / 1000, 2) if p99 is not None else 'n/a'} s | {st(l['status'])} | "
            f"{l['health'].get('attempts')} | {r['non_loopback_connections']} |")
    lines += ["", "What the hostile endpoint's deliveries met (the worker's recorded error, first "
              "of each kind):", ""]
    for r in runs:
        if r["kind"] == "none":
            continue
        l = r["last_endpoint"]
        errs = "; ".join(f"{n}× `{e}`" for e, n in l["errors"].items()) or "none"
        lines.append(f"- `{r['kind']}`: {l['url']} — retries {st(l['retry_count'])}; errors: "
                     f"{errs}; the double served it {r['double'].get('hostile_' + r['kind'], 0)} "
                     "times")
    lines += ["", "Reconciliation: " + (
        "every healthy delivery was received exactly once by webhook-id, in every run, and no "
        "process of the benchmark had a TCP connection outside 127.0.0.0/8." if ok else
        "FAILED (see the table)."), ""]
    with open(args.out_md, "w") as f:
        f.write("\n".join(lines))
    worst = min((r["ratio"]["deliveries_per_s"] or 0) for r in runs if r["kind"] != "none") \
        if len(runs) > 1 else None
    print(f"hostile: baseline {base['publish']['events_per_s']} events/s, "
          f"{base['healthy']['deliveries_per_s']} deliveries/s; worst ratio {worst}; "
          f"reconciled {'yes' if ok else 'NO'}")
    return 0 if ok else 4


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--api", required=True)
    r.add_argument("--admin-key", required=True)
    r.add_argument("--sender-key", required=True)
    r.add_argument("--control", required=True)
    r.add_argument("--webhook", required=True)
    r.add_argument("--mongodb-uri", required=True)
    r.add_argument("--db", required=True)
    r.add_argument("--tenant", required=True)
    r.add_argument("--kind", required=True, choices=["none", "slow", "huge", "redirect", "hang"])
    r.add_argument("--endpoints", type=int, default=20)
    r.add_argument("--events", type=int, default=400)
    r.add_argument("--batch", type=int, default=100)
    r.add_argument("--concurrency", type=int, default=2)
    r.add_argument("--timeout", type=int, default=300)
    r.add_argument("--tag", required=True)
    r.add_argument("--out", required=True)
    q = sub.add_parser("report")
    q.add_argument("--out-json", required=True)
    q.add_argument("--out-md", required=True)
    q.add_argument("--meta", action="append", default=[])
    q.add_argument("runs", nargs="+")
    args = p.parse_args()
    if args.cmd == "run":
        if not (2 <= args.endpoints <= 100 and 1 <= args.batch <= 100 and args.events >= 1):
            sys.exit("error: --endpoints 2..100, --batch 1..100, --events at least 1")
        return run(args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
