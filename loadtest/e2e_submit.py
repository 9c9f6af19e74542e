#!/usr/bin/python3
"""loadtest/e2e_submit.py: the load generator of loadtest/e2e.sh (stdlib only).

Submits up to --count notifications through POST /api/notifications/batch (at most 1,000 per
request), in a mix of channels and priorities, every recipient unique, and records the id of
every notification the API accepted (201, or 200 for a replay) in --ids-out, one per line.

Two ways to offer the load:
  closed loop (default)  --concurrency requests in flight, each sent as soon as the previous
                         answered: as fast as the intake allows.
  open loop (--rate R)   a batch of --batch notifications every batch/R seconds, on a fixed
                         schedule whatever the answers (at most --concurrency requests in
                         flight; a request that has to wait for a free connection is late, and
                         its latency is counted from when it was due, not from when it went).

Submission stops at --count or after --duration seconds, whichever comes first. Items the API
refused (400, 409, 503) are counted by code and not retried. A request that failed in transit
(connection lost, timeout) is not retried either: without an Idempotency-Key a retry could store
the items twice; its items are counted as `unknown` and the report finds any of them that were
stored all the same. The statistics go to --stats-out as JSON; progress to stderr.
"""
import argparse
import http.client
import json
import os
import queue
import random
import sys
import threading
import time

CHANNELS = ("sms", "fcm", "apns", "webhook", "email")
PRIORITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
DEFAULT_MIX = "sms=35,fcm=20,apns=10,webhook=15,email=20"
DEFAULT_PRIORITIES = "CRITICAL=2,HIGH=18,MEDIUM=50,LOW=30"


def parse_weights(text, names, what):
    weights = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in names or not value.strip().isdigit():
            raise SystemExit(f"e2e_submit: bad {what} '{part}': expected NAME=INTEGER, NAME one of "
                             f"{', '.join(names)}")
        weights[name] = int(value)
    if sum(weights.values()) <= 0:
        raise SystemExit(f"e2e_submit: the {what} weights add up to nothing")
    return [n for n in names if weights.get(n)], [weights[n] for n in names if weights.get(n)]


class Generator:
    """Produces the notifications, in order, each one unique. Thread-safe."""

    def __init__(self, count, tag, mix, priorities, webhook_base, seed):
        self.count = count
        self.tag = tag  # digits, unique per run: keeps recipients unique across runs too
        self.channels, self.channel_weights = mix
        self.priorities, self.priority_weights = priorities
        self.webhook_base = webhook_base.rstrip("/")
        self.rng = random.Random(seed)
        self.next = 0
        self.lock = threading.Lock()

    def item(self, i, channel, priority):
        meta = {"run": self.tag, "n": i}
        if channel == "sms":
            # E.164, 15 digits: +49, the run tag, the index. Never the doubles' unsubscribed
            # prefix (+1555000).
            return {"type": "SMS", "recipient": f"+49{int(self.tag) % 10000:04d}{i:09d}",
                    "message": f"Your verification code is {i % 1000000:06d}",
                    "priority": priority, "metadata": meta}
        if channel == "fcm":
            # Never starts with "unregistered-" (the FCM double's permanent failure).
            return {"type": "PUSH", "platform": "fcm", "recipient": f"e2e-{self.tag}-{i}",
                    "title": "Order update", "message": f"Your order {i} has shipped",
                    "data": {"orderId": str(i)}, "priority": priority, "metadata": meta}
        if channel == "apns":
            # 64 hex digits starting with "b", never "dead" (the APNs double's 410).
            token = f"b2e{int(self.tag) % (1 << 32):08x}{i:053x}"
            return {"type": "PUSH", "platform": "apns", "recipient": token,
                    "title": "Payment received", "message": f"Payment {i} was received",
                    "priority": priority, "metadata": meta}
        if channel == "webhook":
            # The path is under the tenant's prefix (its secret is registered with the double),
            # never under /gone (the webhook double's 410).
            return {"type": "WEBHOOK", "recipient": f"{self.webhook_base}/orders/{i}",
                    "payload": {"event": "order.shipped", "orderId": i, "run": self.tag},
                    "message": "order shipped", "priority": priority, "metadata": meta}
        return {"type": "EMAIL", "recipient": f"e2e-{self.tag}-{i}@example.com",
                "subject": f"Your receipt no. {i}",
                "message": f"Thank you for your order {i}. Your receipt is attached below.",
                "priority": priority, "metadata": meta}

    def take(self, n):
        """The next n notifications (fewer at the end), or [] when all were handed out."""
        with self.lock:
            n = min(n, self.count - self.next)
            items = []
            for _ in range(n):
                channel = self.rng.choices(self.channels, self.channel_weights)[0]
                priority = self.rng.choices(self.priorities, self.priority_weights)[0]
                items.append(self.item(self.next, channel, priority))
                self.next += 1
            return items


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Recorder:
    """Every answer, counted; every accepted id, written out at once."""

    def __init__(self, ids_path):
        self.lock = threading.Lock()
        self.ids = open(ids_path, "w", buffering=1 << 16)
        self.accepted = 0
        self.created = 0
        self.replayed = 0
        self.rejected = {}
        self.unknown = 0
        self.offered = 0
        self.requests = 0
        self.request_errors = {}
        self.latencies = []  # seconds, from when the request was due (open loop) or sent
        self.lags = []  # open loop: seconds a request went out after it was due
        self.first_sent = None
        self.last_answer = None
        # Per priority: offered, accepted and refused notifications; and whether each request
        # with a refused item (or refused whole) carried Retry-After.
        self.by_priority = {}
        self.refused_requests = {"with_retry_after": 0, "without_retry_after": 0}

    def count_priority(self, priority, what):
        p = self.by_priority.setdefault(priority, {"offered": 0, "accepted": 0, "refused": 0})
        p[what] += 1

    def record(self, n, due, sent, done, status, body, error, priorities=(), retry_after=None):
        with self.lock:
            self.requests += 1
            self.offered += n
            for prio in priorities:
                self.count_priority(prio, "offered")
            self.first_sent = sent if self.first_sent is None else min(self.first_sent, sent)
            self.last_answer = done if self.last_answer is None else max(self.last_answer, done)
            self.latencies.append(done - due)
            self.lags.append(sent - due)
            if error is not None:
                self.unknown += n
                self.request_errors[error] = self.request_errors.get(error, 0) + 1
                return
            results = None
            try:
                results = json.loads(body)["data"]["results"]
            except (ValueError, KeyError, TypeError):
                pass
            if not isinstance(results, list) or len(results) != n:
                # A request refused as a whole (401, 413, 415, 503 ...): nothing of it stored.
                self.rejected[str(status)] = self.rejected.get(str(status), 0) + n
                for prio in priorities:
                    self.count_priority(prio, "refused")
                self.refused_requests["with_retry_after" if retry_after else "without_retry_after"] += 1
                return
            refused_here = 0
            for k, r in enumerate(results):
                code = r.get("code")
                prio = priorities[k] if k < len(priorities) else "?"
                if code in (200, 201) and r.get("id"):
                    self.ids.write(r["id"] + "\n")
                    self.accepted += 1
                    self.count_priority(prio, "accepted")
                    if code == 201:
                        self.created += 1
                    else:
                        self.replayed += 1
                else:
                    self.rejected[str(code)] = self.rejected.get(str(code), 0) + 1
                    self.count_priority(prio, "refused")
                    refused_here += 1
            if refused_here:
                self.refused_requests["with_retry_after" if retry_after else "without_retry_after"] += 1

    def close(self):
        self.ids.close()


class Client:
    """One keep-alive connection to the API."""

    def __init__(self, host, port, key, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.conn = None

    def post(self, items):
        """(status, body, error): error is None, or a short name of what failed in transit."""
        body = json.dumps({"notifications": items}, separators=(",", ":")).encode()
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", "/api/notifications/batch", body=body, headers=self.headers)
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return resp.status, data, resp.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, None, type(e).__name__

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:5078")
    ap.add_argument("--count", type=int, default=50000)
    ap.add_argument("--rate", type=float, default=0.0, help="notifications/s (open loop); 0: closed loop")
    ap.add_argument("--batch", type=int, default=0, help="notifications per request (1..1000)")
    ap.add_argument("--concurrency", type=int, default=0, help="requests in flight at most")
    ap.add_argument("--duration", type=float, default=600.0, help="submission time limit, seconds")
    ap.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    ap.add_argument("--mix", default=DEFAULT_MIX)
    ap.add_argument("--priorities", default=DEFAULT_PRIORITIES)
    ap.add_argument("--webhook-base", required=True)
    ap.add_argument("--tag", default=str(int(time.time()) % 100000000))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ids-out", required=True)
    ap.add_argument("--stats-out", required=True)
    args = ap.parse_args()

    key = os.environ.get("WAVECOM_E2E_KEY")
    if not key:
        raise SystemExit("e2e_submit: WAVECOM_E2E_KEY (the API key) is not set")
    if not args.tag.isdigit():
        raise SystemExit("e2e_submit: --tag must be digits")
    open_loop = args.rate > 0
    batch = args.batch or (max(1, min(1000, int(round(args.rate / 10)))) if open_loop else 500)
    concurrency = args.concurrency or (32 if open_loop else 4)
    if not 1 <= batch <= 1000 or concurrency < 1 or args.count < 1:
        raise SystemExit("e2e_submit: --batch must be 1..1000, --concurrency and --count at least 1")
    host_port = args.url.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.partition(":")

    gen = Generator(args.count, args.tag, parse_weights(args.mix, CHANNELS, "channel mix"),
                    parse_weights(args.priorities, PRIORITIES, "priority mix"),
                    args.webhook_base, args.seed)
    rec = Recorder(args.ids_out)
    t0 = time.monotonic()
    wall0 = time.time()
    deadline = t0 + args.duration
    stop = threading.Event()
    stop_reason = ["count reached"]

    def send(client, items, due):
        sent = time.monotonic()
        status, body, extra = client.post(items)
        done = time.monotonic()
        error = extra if status is None else None
        retry_after = extra if status is not None else None
        rec.record(len(items), due, sent, done, status, body, error,
                   [item["priority"] for item in items], retry_after)
        return status, retry_after

    def closed_worker():
        client = Client(host, int(port or 80), key, args.timeout)
        while not stop.is_set():
            if time.monotonic() >= deadline:
                stop_reason[0] = "time limit"
                break
            items = gen.take(batch)
            if not items:
                break
            status, retry_after = send(client, items, time.monotonic())
            if status == 503:
                # The intake is full: do as a client should and wait as told.
                time.sleep(min(30.0, float(retry_after or 1)))
        client.close()

    work = queue.Queue(maxsize=concurrency * 4)

    def open_sender():
        client = Client(host, int(port or 80), key, args.timeout)
        while True:
            job = work.get()
            if job is None:
                break
            due, items = job
            send(client, items, due)
        client.close()

    def open_scheduler():
        k = 0
        interval = batch / args.rate
        while not stop.is_set():
            due = t0 + k * interval
            if due >= deadline:
                stop_reason[0] = "time limit"
                break
            items = gen.take(batch)
            if not items:
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            work.put((due, items))  # blocks only when far behind: the lag shows it
            k += 1
        for _ in range(concurrency):
            work.put(None)

    threads = [threading.Thread(target=open_sender if open_loop else closed_worker, daemon=True)
               for _ in range(concurrency)]
    if open_loop:
        threads.append(threading.Thread(target=open_scheduler, daemon=True))
    for t in threads:
        t.start()
    last_print = t0
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            now = time.monotonic()
            if now - last_print >= 5:
                last_print = now
                with rec.lock:
                    print(f"  submit: {now - t0:6.1f} s  offered {rec.offered}  accepted {rec.accepted}"
                          f"  ({rec.accepted / (now - t0):.0f}/s)  refused {sum(rec.rejected.values())}"
                          f"  unknown {rec.unknown}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        stop.set()
        stop_reason[0] = "interrupted"
        for t in threads:
            t.join(args.timeout + 5)
    rec.close()

    lat = sorted(rec.latencies)
    lags = sorted(rec.lags)
    span = (rec.last_answer - rec.first_sent) if rec.requests else 0.0
    stats = {
        "mode": "open" if open_loop else "closed",
        "rate_target": args.rate if open_loop else None,
        "batch": batch,
        "concurrency": concurrency,
        "count_target": args.count,
        "duration_limit_s": args.duration,
        "stop_reason": stop_reason[0],
        "mix": args.mix,
        "priorities": args.priorities,
        "tag": args.tag,
        "started_at": wall0,
        "requests": rec.requests,
        "offered": rec.offered,
        "accepted": rec.accepted,
        "created_201": rec.created,
        "replayed_200": rec.replayed,
        "refused_by_code": rec.rejected,
        "by_priority": rec.by_priority,
        "refused_requests": rec.refused_requests,
        "unknown_in_transit": rec.unknown,
        "transit_errors": rec.request_errors,
        "submit_seconds": round(span, 3),
        "intake_per_s": round(rec.accepted / span, 1) if span > 0 else None,
        "request_latency_ms": {p: (round(percentile(lat, v) * 1000, 1) if lat else None)
                               for p, v in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "open_loop_lag_ms": ({"p50": round(percentile(lags, 50) * 1000, 1),
                              "p99": round(percentile(lags, 99) * 1000, 1),
                              "max": round(lags[-1] * 1000, 1),
                              "late_over_1s": sum(1 for x in lags if x > 1.0)}
                             if open_loop and lags else None),
    }
    with open(args.stats_out, "w") as f:
        json.dump(stats, f, indent=2)
    print(f"  submit: done ({stop_reason[0]}): {rec.accepted} accepted of {rec.offered} offered in "
          f"{span:.1f} s ({stats['intake_per_s']}/s), refused {rec.rejected or 0}, "
          f"unknown {rec.unknown}", file=sys.stderr, flush=True)
    return 0 if rec.accepted > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
