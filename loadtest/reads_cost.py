#!/usr/bin/python3
"""loadtest/reads_cost.py: what one request to each status endpoint costs, one at a time.

    /usr/bin/python3 loadtest/reads_cost.py --url http://127.0.0.1:PORT --tenants FILL.json \
        --api-pid PID [--tenant I ...] [--requests N] [--out FILE.json]

For each endpoint the dashboard and an operator use (the same paths as loadtest/reads_poll.py), it
sends one unmeasured request and then N more (default 20) one after the other, without
If-None-Match, as the key of each tenant given (indexes into the tenants of the FILL.json that
loadtest/reads_fill.py printed; default 0, the busy tenant, and 1, an ordinary one). It reports
each endpoint's median latency and the CPU milliseconds per request of FerretDB, PostgreSQL and
the API (the --api-pid process), from /proc before and after the N requests. Run it against an
API started with its caches off (WAVECOM_API_STATS_CACHE_SECONDS=0,
WAVECOM_API_LIST_CACHE_SECONDS=0) and nothing else working, as loadtest/reads_cost.sh does: the
figures are then what a cache miss costs. Stdlib only.
"""
import argparse
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_snapshot  # noqa: E402

PAGE = "/api/notifications"
ENDPOINTS = [
    ("stats/system", f"{PAGE}/stats/system"),
    ("stats/throughput", f"{PAGE}/stats/throughput"),
    ("list page 1", PAGE),
    ("list page 50", f"{PAGE}?page=50"),
    ("list page 2000", f"{PAGE}?page=2000"),
    ("list status=FAILED", f"{PAGE}?status=FAILED"),
    ("list status=SENT&type=EMAIL", f"{PAGE}?status=SENT&type=EMAIL"),
    ("list type=SMS&priority=HIGH", f"{PAGE}?type=SMS&priority=HIGH"),
    ("list status=FAILED&type=WEBHOOK&priority=CRITICAL",
     f"{PAGE}?status=FAILED&type=WEBHOOK&priority=CRITICAL"),
    ("get by id", None),
    ("dlq list", "/api/dlq"),
    ("audit list", "/api/audit"),
]


def cpu_ms(api_pid):
    """CPU milliseconds used so far by FerretDB, PostgreSQL and the API process."""
    procs = cpu_snapshot.processes()
    out = {role: 1000 * sum(cpu for comm, _, cpu in procs.values() if comm in names)
           for role, names in cpu_snapshot.BY_NAME.items() if role in ("ferretdb", "postgresql")}
    out["api"] = 1000 * procs.get(api_pid, (None, None, 0))[2]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--tenants", required=True, help="the JSON reads_fill.py printed")
    ap.add_argument("--api-pid", type=int, required=True)
    ap.add_argument("--tenant", type=int, action="append")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--out")
    args = ap.parse_args()
    url = urllib.parse.urlsplit(args.url)
    if url.hostname is None or not url.hostname.startswith("127."):
        ap.error("--url must be a loopback address")
    if not 1 <= args.requests <= 1000:
        ap.error("--requests must be 1 to 1000")
    with open(args.tenants) as f:
        tenants = json.load(f)["tenants"]
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=120)
    results = {}
    for index in args.tenant or [0, 1]:
        key = tenants[index]["key"]

        def get(path):
            started = time.monotonic()
            conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, body, time.monotonic() - started

        _, body, _ = get(f"{PAGE}?limit=20")
        ids = [n["_id"] for n in json.loads(body)["data"].get("notifications", [])]
        rows = {}
        for name, path in ENDPOINTS:
            path = path or (f"{PAGE}/{ids[0]}" if ids else None)
            if path is None:
                continue
            get(path)
            before, times, codes = cpu_ms(args.api_pid), [], set()
            for _ in range(args.requests):
                status, _, seconds = get(path)
                times.append(seconds * 1000)
                codes.add(status)
            after = cpu_ms(args.api_pid)
            times.sort()
            rows[name] = {"p50_ms": round(times[len(times) // 2], 1),
                          "statuses": sorted(codes),
                          **{f"{k}_cpu_ms": round((after[k] - before[k]) / args.requests, 2)
                             for k in after}}
        results[str(index)] = rows
        print(f"tenant {index}{' (busy)' if index == 0 else ''}: ms per request, one at a time")
        print(f"  {'endpoint':52} {'p50':>7} {'FerretDB':>9} {'PostgreSQL':>10} {'API':>6}")
        for name, r in rows.items():
            print(f"  {name:52} {r['p50_ms']:7.1f} {r['ferretdb_cpu_ms']:9.2f} "
                  f"{r['postgresql_cpu_ms']:10.2f} {r['api_cpu_ms']:6.2f}  {r['statuses']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"requests": args.requests, "tenants": results}, f, indent=1)


if __name__ == "__main__":
    main()
