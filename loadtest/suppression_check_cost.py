#!/usr/bin/python3
"""What the worker's suppression check costs the local database, beside the claim it follows.

    /usr/bin/python3 loadtest/suppression_check_cost.py [--uri URI] [--entries N] [--docs N]
                                                         [--threads T] [--calls C]

The check (docs/ARCHITECTURE.md §16) is one find by _id in `suppressions` per delivery, plus one
in `categories` and one in `recipient_preferences` when the notification names a category and a
userId. This fills a scratch database (wc_bench_suppress_<time>, left in place like every
benchmark's) with N suppression entries, N/10 preferences and categories and --docs notifications,
then has T threads make C calls each of: the check's read that misses (the common case: the
recipient is not listed), the read that hits, and the claim's findAndModify on a notification (the
write every delivery already pays). For each it reports calls per second, the client-side latency
(median, p99) and the CPU seconds the database processes (wavecom-ferretdb, postgres) spent per
call, read from /proc before and after. Loopback only; bounded by the arguments.
"""
import argparse
import datetime
import os
import statistics
import sys
import threading
import time

import bson
import pymongo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_snapshot  # noqa: E402

DB_PROCESSES = ("wavecom-ferretd", "wavecom-ferretdb", "postgres")


def cpu_seconds():
    return sum(cpu for comm, _, cpu in cpu_snapshot.processes().values() if comm in DB_PROCESSES)


def fill(db, entries, docs):
    now = datetime.datetime.now(datetime.timezone.utc)
    tenant = "65a1b2c3d4e5f60718293a4b"
    db.suppressions.insert_many([
        {"_id": f"{tenant}:EMAIL:user{i}@example.com", "tenantId": tenant, "channel": "EMAIL",
         "recipient": f"user{i}@example.com", "reason": "hard_bounce", "source": "smtp",
         "createdAt": now, "updatedAt": now} for i in range(entries)])
    db.recipient_preferences.insert_many([
        {"_id": f"{tenant}:u{i}", "tenantId": tenant, "userId": f"u{i}", "channels": ["SMS"],
         "categories": ["marketing"], "updatedAt": now} for i in range(max(1, entries // 10))])
    db.categories.insert_many([
        {"_id": f"{tenant}:c{i}", "tenantId": tenant, "name": f"c{i}", "transactional": i % 2 == 0,
         "updatedAt": now} for i in range(max(1, entries // 100))])
    ids = []
    for start in range(0, docs, 1000):
        batch = [{"_id": bson.ObjectId(), "tenantId": tenant, "status": "QUEUED", "type": "EMAIL",
                  "recipient": f"r{start + i}@example.com", "message": "hello " * 10, "seq": 2,
                  "createdAt": now, "updatedAt": now} for i in range(min(1000, docs - start))]
        db.notifications.insert_many(batch)
        ids.extend(d["_id"] for d in batch)
    return tenant, ids


def run(threads, calls, make_call):
    """Runs T threads of C calls; returns (calls/s, latencies in ms, db CPU s per call)."""
    latencies = [[] for _ in range(threads)]

    def worker(k):
        for i in range(calls):
            t0 = time.perf_counter()
            make_call(k, i)
            latencies[k].append((time.perf_counter() - t0) * 1000)

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    flat = sorted(x for per in latencies for x in per)
    return threads * calls / elapsed, flat, cpu / (threads * calls)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--uri", default=os.environ.get("WAVECOM_MONGODB_URI", "mongodb://127.0.0.1:27017"))
    p.add_argument("--entries", type=int, default=20000)
    p.add_argument("--docs", type=int, default=20000)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--calls", type=int, default=1000)
    args = p.parse_args()
    if not args.uri.startswith(("mongodb://127.", "mongodb://localhost")):
        sys.exit("loopback only")
    client = pymongo.MongoClient(args.uri, maxPoolSize=args.threads + 2)
    db = client[f"wc_bench_suppress_{int(time.time())}"]
    tenant, ids = fill(db, args.entries, args.docs)
    token = "bench"
    lease = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)

    def miss(k, i):
        db.suppressions.find_one({"_id": f"{tenant}:EMAIL:nobody{k}-{i}@example.com"})

    def hit(k, i):
        db.suppressions.find_one({"_id": f"{tenant}:EMAIL:user{(k * args.calls + i) % args.entries}@example.com"})

    def full_check(k, i):
        miss(k, i)
        db.categories.find_one({"_id": f"{tenant}:c{i % 7}"})
        db.recipient_preferences.find_one({"_id": f"{tenant}:u{i % 50}"})

    def claim(k, i):
        oid = ids[(k * args.calls + i) % len(ids)]
        db.notifications.find_one_and_update(
            {"_id": oid, "$and": [{"status": {"$in": ["QUEUED", "PROCESSING"]}}]},
            {"$set": {"status": "PROCESSING", "lease": {"owner": "bench", "until": lease,
                                                        "token": token}},
             "$inc": {"seq": 1}})

    print(f"database {db.name}: {args.entries} suppression entries, {args.docs} notifications, "
          f"{args.threads} threads x {args.calls} calls")
    print("| operation | calls/s | median ms | p99 ms | database CPU ms per call |")
    print("|---|---|---|---|---|")
    for name, call in (("check: list read, recipient not listed", miss),
                       ("check: list read, recipient listed", hit),
                       ("check with category and userId (3 reads)", full_check),
                       ("claim (findAndModify by _id)", claim)):
        rate, lat, cpu = run(args.threads, args.calls, call)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"| {name} | {rate:.0f} | {statistics.median(lat):.2f} | {p99:.2f} | {cpu * 1000:.3f} |")
    client.close()


if __name__ == "__main__":
    main()
