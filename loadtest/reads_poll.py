#!/usr/bin/python3
"""loadtest/reads_poll.py: N dashboards polling the status endpoints, for loadtest/reads.sh.

Each poller is one open dashboard of one tenant (round robin over the tenants of --tenants, the
JSON reads_fill.py printed). Every --interval seconds it does what the dashboard's Overview and
Notifications pages do: GET stats/system, stats/throughput and the first page of the list, each
with the ETag it got last time in If-None-Match (as the browser does), and then --extra of the
reads an operator clicks through, in turn: a deep page, every filter the Notifications page
offers, the next page by cursor, one notification by id, the dead-letter list and the audit list.

Every request's latency is recorded by endpoint; the output (--out, JSON) has count, p50, p95,
p99 and max per endpoint, the answers by status code, and 304s. Bounded by --duration; every
request has a --timeout. Stdlib only.
"""
import argparse
import gzip
import http.client
import json
import random
import threading
import time
import urllib.parse

PAGE = "/api/notifications"


def extras(deep_page):
    """The clicks a poller makes in turn after each refresh: (endpoint name, path or callable)."""
    return [
        ("list page 50", f"{PAGE}?page=50"),
        (f"list page {deep_page}", f"{PAGE}?page={deep_page}"),
        ("list status=FAILED", f"{PAGE}?status=FAILED"),
        ("list status=SENT&type=EMAIL", f"{PAGE}?status=SENT&type=EMAIL"),
        ("list type=SMS&priority=HIGH", f"{PAGE}?type=SMS&priority=HIGH"),
        ("list priority=CRITICAL", f"{PAGE}?priority=CRITICAL"),
        ("list status=FAILED&type=WEBHOOK&priority=CRITICAL",
         f"{PAGE}?status=FAILED&type=WEBHOOK&priority=CRITICAL"),
        ("list last 24 h", None),  # from/to, built at the time
        ("list next page (cursor)", None),
        ("list page 2 of FAILED (cursor)", None),
        ("get by id", None),
        ("dlq list", "/api/dlq"),
        ("audit list", "/api/audit"),
    ]


def percentile(sorted_values, pct):
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return sorted_values[int(rank) - 1]


def page_before(list_path, cursor):
    """The list page after the one that returned `cursor` (a query string may be on `list_path`),
    or None when there was no cursor to follow."""
    if not cursor:
        return None
    separator = "&" if "?" in list_path else "?"
    return f"{list_path}{separator}before={urllib.parse.quote(cursor)}"


class Poller(threading.Thread):
    def __init__(self, args, key, index, deadline, results, lock):
        super().__init__(daemon=True)
        self.args, self.key, self.index, self.deadline = args, key, index, deadline
        self.results, self.lock = results, lock
        url = urllib.parse.urlsplit(args.url)
        self.host, self.port = url.hostname, url.port or 80
        self.conn = None
        self.etags = {}
        self.state = {}
        self.clicks = extras(args.deep_page)
        self.next_click = index % len(self.clicks)
        self.rng = random.Random(index)

    def request(self, name, path, use_etag=True):
        headers = {"Authorization": f"Bearer {self.key}", "Accept-Encoding": "gzip"}
        if use_etag and self.args.etag and path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        started = time.monotonic()
        status, body = None, None
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=self.args.timeout)
            self.conn.request("GET", path, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            status = resp.status
            if resp.getheader("ETag"):
                self.etags[path] = resp.getheader("ETag")
            if status == 200 and resp.getheader("Content-Encoding") != "gzip":
                body = json.loads(raw)
            elif status == 200:
                body = json.loads(gzip.decompress(raw))
        except (OSError, http.client.HTTPException, ValueError):
            status = "error"
            if self.conn is not None:
                self.conn.close()
            self.conn = None
        ms = (time.monotonic() - started) * 1000
        with self.lock:
            r = self.results.setdefault(name, {"ms": [], "codes": {}})
            r["ms"].append(ms)
            r["codes"][str(status)] = r["codes"].get(str(status), 0) + 1
        return status, body

    def click(self):
        name, path = self.clicks[self.next_click]
        self.next_click = (self.next_click + 1) % len(self.clicks)
        if name == "list last 24 h":
            now = time.time()
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            frm = time.strftime(fmt, time.gmtime(now - 86400))
            to = time.strftime(fmt, time.gmtime(now))
            path = f"{PAGE}?from={frm}&to={to}"
        elif name == "list next page (cursor)":
            path = page_before(PAGE, self.state.get("next"))
        elif name == "list page 2 of FAILED (cursor)":
            status, body = self.request("list status=FAILED", f"{PAGE}?status=FAILED",
                                        use_etag=False)
            cursor = (body or {}).get("data", {}).get("pagination", {}).get("nextCursor")
            path = page_before(f"{PAGE}?status=FAILED", cursor)
        elif name == "get by id":
            ids = self.state.get("ids")
            path = f"{PAGE}/{self.rng.choice(ids)}" if ids else None
        if path is None:
            return  # the page before gave nothing to follow yet
        self.request(name, path)

    def run(self):
        # Dashboards were not all opened at the same instant.
        time.sleep(self.rng.uniform(0, self.args.interval))
        while time.monotonic() < self.deadline:
            cycle = time.monotonic()
            self.request("stats/system", f"{PAGE}/stats/system")
            self.request("stats/throughput", f"{PAGE}/stats/throughput")
            status, body = self.request("list page 1", PAGE, use_etag=bool(self.state))
            if status == 200 and body:
                data = body.get("data", {})
                self.state["next"] = data.get("pagination", {}).get("nextCursor")
                self.state["ids"] = [n["_id"] for n in data.get("notifications", []) if "_id" in n]
            for _ in range(self.args.extra):
                if time.monotonic() >= self.deadline:
                    break
                self.click()
            time.sleep(max(0.0, self.args.interval - (time.monotonic() - cycle)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--tenants", required=True, help="reads_fill.py's JSON output")
    ap.add_argument("--pollers", type=int, default=50)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--extra", type=int, default=2, help="clicks per refresh")
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--deep-page", type=int, default=2000)
    ap.add_argument("--etag", type=int, default=1, help="1: send If-None-Match like the browser")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.tenants) as f:
        keys = [t["key"] for t in json.load(f)["tenants"]]
    results, lock = {}, threading.Lock()
    started = time.monotonic()
    deadline = started + args.duration
    pollers = [Poller(args, keys[i % len(keys)], i, deadline, results, lock)
               for i in range(args.pollers)]
    for p in pollers:
        p.start()
    for p in pollers:
        p.join(timeout=args.duration + args.timeout + 10)
    elapsed = time.monotonic() - started
    out = {"pollers": args.pollers, "interval_s": args.interval, "duration_s": round(elapsed, 1),
           "etag": bool(args.etag), "endpoints": {}}
    total = 0
    for name, r in sorted(results.items()):
        ms = sorted(r["ms"])
        total += len(ms)
        out["endpoints"][name] = {
            "count": len(ms), "codes": r["codes"],
            "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(ms[-1], 1)}
    out["requests"] = total
    out["requests_per_s"] = round(total / elapsed, 1) if elapsed > 0 else None
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    worst = max((e["p99_ms"] for e in out["endpoints"].values()), default=None)
    print(f"reads_poll: {total} requests in {elapsed:.0f} s from {args.pollers} pollers; "
          f"worst p99 {worst} ms")


if __name__ == "__main__":
    main()
