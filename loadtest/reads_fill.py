#!/usr/bin/env python3
"""loadtest/reads_fill.py: fills a database with N notifications for loadtest/reads.sh.

Tenants (each with an admin API key), notifications spread over the last DAYS days with a
realistic mix of statuses, channels and priorities, and the counter documents that match them
exactly (the same layout as shared/store/wc_store_counters.c: tenant, day, hour, minute and throughput
documents), so the API reads the fill as if every notification had come through it. Bulk inserts
(insert_many, unordered, BATCH documents each), timed.

Prints one JSON object: the tenants with their keys, and the timings. Stdlib + pymongo.
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone

import bson
import pymongo

# Notifications settle within minutes: what the fill leaves behind is what a month leaves, final
# states, and a few scheduled for the coming week. In-flight states (PENDING, QUEUED, PROCESSING,
# RETRYING) come from the write load that runs beside the readers, not from the fill: an old one
# would be swept and republished as if lost.
STATUSES = [("SENT", 0.905), ("FAILED", 0.045), ("CANCELLED", 0.049), ("SCHEDULED", 0.001)]
TYPES = [("EMAIL", 0.40), ("SMS", 0.35), ("PUSH", 0.15), ("WEBHOOK", 0.10)]
PRIORITIES = [("LOW", 0.20), ("MEDIUM", 0.50), ("HIGH", 0.25), ("CRITICAL", 0.05)]
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def duration_bucket(ms):
    """The processing-time bucket of the counters (shared/util/wc_duration_histogram.c): eight
    per doubling, bucket k holding [2^(k/8), 2^((k+1)/8)) ms, bucket 0 up to 1 ms."""
    if ms <= 1:
        return 0
    b = math.floor(8 * math.log2(ms))
    if b + 1 < 192 and ms >= 2 ** ((b + 1) / 8):
        b += 1
    return min(b, 191)


def pick(rng, table):
    r = rng.random()
    for name, weight in table:
        r -= weight
        if r < 0:
            return name
    return table[-1][0]


def object_id(ms, rng):
    """An ObjectId whose timestamp is the document's createdAt, as the API's would be."""
    return bson.ObjectId(int(ms // 1000).to_bytes(4, "big") + rng.getrandbits(64).to_bytes(8, "big"))


def when(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uri", default="mongodb://127.0.0.1:27017")
    ap.add_argument("--db", required=True)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--tenants", type=int, default=10)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--hot-rate", type=int, default=110,
                    help="tenant 0 also received this many per second over the last --hot-minutes")
    ap.add_argument("--hot-minutes", type=int, default=10)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    db = pymongo.MongoClient(args.uri)[args.db]
    now = int(time.time() * 1000)

    tenants = []
    for i in range(args.tenants):
        tid = os.urandom(12).hex()
        key = "wck_" + os.urandom(24).hex()
        db.tenants.insert_one({"_id": tid, "name": f"reads-{i}", "disabled": False,
                               "webhookSecret": "whsec_" + os.urandom(24).hex(),
                               "createdAt": when(now)})
        db.api_keys.insert_one({"_id": hashlib.sha256(key.encode()).hexdigest(), "tenantId": tid,
                                "role": "admin", "name": "reads", "hint": key[:12],
                                "revoked": False, "createdAt": when(now)})
        tenants.append({"id": tid, "key": key})

    # cells[doc id] = {"STATUS:TYPE:PRIORITY": n}; meta[doc id] = (scope, tenant, start or None)
    cells = defaultdict(lambda: defaultdict(int))
    # seconds[minute doc id] = {"s<second>": n}: its creations by second, as the write path counts
    # them (a page skips a busy minute's seconds by these counts instead of reading them)
    seconds = defaultdict(lambda: defaultdict(int))
    meta = {}
    throughput = defaultdict(lambda: [0, 0, 0])
    # times[(tenant, minute)] = [ptSum, {"b<k>": n}]: the processing times of the minute's deliveries
    times = defaultdict(lambda: [0, defaultdict(int)])

    def count(tid, created, cell):
        for doc_id, scope, start in (
                (tid, "tenants", None),
                (f"{tid}:d:{created // DAY * DAY}", f"{tid}:d", created // DAY * DAY),
                (f"{tid}:h:{created // HOUR * HOUR}", f"{tid}:h:{created // DAY * DAY}",
                 created // HOUR * HOUR),
                (f"{tid}:m:{created // MINUTE * MINUTE}", f"{tid}:m:{created // HOUR * HOUR}",
                 created // MINUTE * MINUTE)):
            cells[doc_id][cell] += 1
            meta[doc_id] = (scope, tid, start)
        seconds[f"{tid}:m:{created // MINUTE * MINUTE}"][f"s{created % MINUTE // 1000}"] += 1

    def event(tid, at, slot):
        """Counts an event in its throughput minute; False for one too old to be read."""
        if at < now - 3 * HOUR:  # the chart shows the last hour; older events are not read
            return False
        throughput[(tid, at // MINUTE * MINUTE)][slot] += 1
        return True

    span = args.days * DAY
    inserted = 0
    t0 = time.monotonic()
    batch = []
    # Tenant 0 is busy: besides its share of the month, the last minutes hold what the write load
    # leaves there (hot minute buckets of thousands, which the first page of its list must read).
    hot = min(args.count // 10, args.hot_rate * args.hot_minutes * 60)
    for i in range(args.count):
        is_hot = i < hot
        tenant = tenants[0 if is_hot else i % len(tenants)]
        tid = tenant["id"]
        # Uniform over the window, a little denser towards now, like a growing customer.
        created = now - int(span * (rng.random() ** 1.2))
        if is_hot:
            created = now - int(args.hot_minutes * MINUTE * rng.random())
        status, typ, prio = pick(rng, STATUSES), pick(rng, TYPES), pick(rng, PRIORITIES)
        doc = {"_id": object_id(created, rng), "tenantId": tid, "type": typ,
               "recipient": {"EMAIL": f"user{i}@example.com", "SMS": f"+1555{i % 10_000_000:07d}",
                             "PUSH": "tok" + format(i, "060x"),
                             "WEBHOOK": "https://hooks.example.com/wc"}[typ],
               "message": "Your verification code is 123456. It expires in 10 minutes.",
               "status": status, "priority": prio, "retryCount": 0, "maxRetries": 3,
               "createdAt": when(created), "updatedAt": when(created),
               "listBucket": f"{tid}:{created // MINUTE * MINUTE}",
               "listSlot": f"{tid}:{created // 1000 * 1000}",
               "listDayKind": f"{tid}:{created // DAY * DAY}:{typ}:{prio}"}
        if typ == "EMAIL":
            doc["subject"] = "Your verification code"
        if status == "SCHEDULED":
            doc["scheduledAt"] = when(now + rng.randint(DAY, 7 * DAY))
        if status in ("SENT", "FAILED"):
            took = int(rng.lognormvariate(5.5, 0.6))  # ~250 ms median
            done = created + took
            doc["processingTimeMs"] = took
            doc["updatedAt"] = when(done)
            if status == "SENT":
                doc["sentAt"] = when(done)
                if event(tid, done, 1):
                    minute_times = times[(tid, done // MINUTE * MINUTE)]
                    minute_times[0] += took
                    minute_times[1][f"b{duration_bucket(took)}"] += 1
            else:
                doc["failedAt"] = when(done)
                doc["error"] = "provider answered 400: invalid recipient"
                event(tid, done, 2)
        event(tid, created, 0)
        count(tid, created, f"{status}:{typ}:{prio}")
        batch.append(doc)
        if len(batch) == args.batch:
            db.notifications.insert_many(batch, ordered=False)
            inserted += len(batch)
            batch = []
            if inserted % 100_000 == 0:
                print(f"reads_fill: {inserted} notifications, {time.monotonic() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    if batch:
        db.notifications.insert_many(batch, ordered=False)
        inserted += len(batch)
    notif_s = time.monotonic() - t0

    t1 = time.monotonic()
    counters = []
    for doc_id, c in cells.items():
        scope, tid, start = meta[doc_id]
        d = {"_id": doc_id, "scope": scope, "tenantId": tid, "c": dict(c)}
        if start is not None:
            d["start"] = when(start)
        if ":m:" in doc_id:
            d["slotted"] = True  # every notification of the minute carries listSlot
            d["s"] = dict(seconds[doc_id])
        if ":d:" in doc_id:
            d["keyed"] = True  # every notification of the day carries listDayKind
        counters.append(d)
    for (tid, minute), (created, sent, failed) in throughput.items():
        d = {"_id": f"{tid}:tp:{minute}", "scope": f"{tid}:tp:{minute // HOUR * HOUR}",
             "tenantId": tid, "start": when(minute), "created": created, "sent": sent,
             "failed": failed}
        if (tid, minute) in times:
            d["ptSum"], buckets = times[(tid, minute)]
            d["pt"] = dict(buckets)
        counters.append(d)
    for i in range(0, len(counters), args.batch):
        db.notification_counters.insert_many(counters[i:i + args.batch], ordered=False)
    counters_s = time.monotonic() - t1
    json.dump({"tenants": tenants, "notifications": inserted, "hotNotifications": hot,
               "notificationsSeconds": round(notif_s, 1),
               "notificationsPerSecond": round(inserted / notif_s) if notif_s > 0 else None,
               "counterDocuments": len(counters), "countersSeconds": round(counters_s, 1)},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
