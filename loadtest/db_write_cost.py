#!/usr/bin/python3
"""What one single-document write costs the local database, in CPU.

    /usr/bin/python3 loadtest/db_write_cost.py [--uri URI] [--docs N] [--threads T] [--writes W]

Fills a scratch collection (database wc_bench_dbcost_<time>, left in place like every benchmark's)
with N notification-like documents, then has T threads make W findAndModify calls each, by _id with
a status condition, $set and $push: the shape of a WaveCom claim or outcome write. It reports the
calls per second and the CPU seconds the database processes spent per call, read from /proc before
and after: the FerretDB launcher (wavecom-ferretdb) and PostgreSQL's processes (postgres). The
client's own CPU is not counted. Loopback only; bounded by N, T and W.
"""
import argparse
import datetime
import os
import threading
import time

import bson
import pymongo


def cpu_seconds(command_names):
    """CPU seconds (user + system) used so far by every process whose name is in command_names."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                name, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        if name.split("(", 1)[1] in command_names:
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", default="mongodb://127.0.0.1:27017")
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--writes", type=int, default=300, help="per thread")
    args = parser.parse_args()
    if args.threads * args.writes > args.docs:
        parser.error("--threads x --writes must not exceed --docs (one write per document)")

    client = pymongo.MongoClient(args.uri, maxPoolSize=args.threads + 2)
    name = "wc_bench_dbcost_" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d_%H%M%S")
    coll = client[name].notifications
    now = datetime.datetime.now(datetime.timezone.utc)
    docs = [{"_id": bson.ObjectId(), "tenantId": "t", "status": "QUEUED", "type": "SMS",
             "recipient": f"+1555{i:07d}", "message": "hello " * 10, "priority": "MEDIUM",
             "retryCount": 0, "createdAt": now, "updatedAt": now,
             "logs": [{"status": "PENDING", "message": "Notification created", "timestamp": now},
                      {"status": "QUEUED", "message": "Added to queue", "timestamp": now}]}
            for i in range(args.docs)]
    for i in range(0, len(docs), 1000):
        coll.insert_many(docs[i:i + 1000])
    ids = [d["_id"] for d in docs]

    def writer(k):
        for j in range(args.writes):
            coll.find_one_and_update(
                {"_id": ids[k * args.writes + j],
                 "$or": [{"status": "QUEUED"}, {"status": "PROCESSING"}]},
                {"$set": {"status": "PROCESSING",
                          "lease": {"owner": "bench", "until": datetime.datetime.now(
                              datetime.timezone.utc)}},
                 "$push": {"logs": {"status": "PROCESSING", "message": "bench"}}})

    names = {"ferretdb": {"wavecom-ferretd", "wavecom-ferretdb"}, "postgresql": {"postgres"}}
    before = {k: cpu_seconds(v) for k, v in names.items()}
    started = time.monotonic()
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    calls = args.threads * args.writes
    per_call = {k: (cpu_seconds(v) - before[k]) / calls * 1000 for k, v in names.items()}
    print(f"db write cost: {calls} findAndModify by _id on {args.docs} documents, "
          f"{args.threads} threads: {calls / elapsed:.0f}/s; CPU per call: "
          f"FerretDB {per_call['ferretdb']:.2f} ms + PostgreSQL {per_call['postgresql']:.2f} ms = "
          f"{sum(per_call.values()):.2f} ms (database {name})")


if __name__ == "__main__":
    main()
