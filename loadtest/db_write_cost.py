#!/usr/bin/python3
"""What one single-document write costs the local database, in CPU.

    /usr/bin/python3 loadtest/db_write_cost.py [--uri URI] [--docs N] [--threads T] [--writes W]
                                               [--shape SHAPE] [--batch N [--write KIND]]
                                               [--results DIR]

Fills a scratch collection (database wc_bench_dbcost_<time>, left in place like every benchmark's)
with N documents of one --shape, then has T threads make W findAndModify calls each, by _id with a
status condition: the shape of a WaveCom claim. --shape notification is the document and claim of
today's write path, state the same claim on a document holding only what it changes (how much a
separate state document would save), legacy the document with its embedded trail before. It reports the
calls per second and the CPU seconds the database processes spent per call, read from /proc before
and after: the FerretDB launcher (wavecom-ferretdb) and PostgreSQL's processes (postgres). The
client's own CPU is not counted. Loopback only; bounded by N, T and W.

With --batch N the documents start PROCESSING under a lease token, as a claim leaves them, and the
threads write --write KIND for N notifications per command instead: `outcome` is one unordered
`update` of N statements, each `{q: {_id, $and: [status PROCESSING, lease token]}, u: {$set SENT
..., $unset lease, $inc seq}}` (N=1 is the outcome as one update instead of a findAndModify,
N=0 the same outcome as one findAndModify per notification, as the worker writes it one by one);
`claim` is one such update claiming N documents followed by one find of them by `_id $in` (the
claim must know the documents as they were); `claim-insert` is a claim that rewrites nothing: one
unordered insert of N small claim records (`_id` "<notification id>:<attempt>", whose unique key
makes a second claim of the same attempt fail) into a `claims` collection that holds one per
attempt, as a design without the claim's findAndModify would write them; `claim-record` is that
design's whole claim: each notification read by `_id` (the whole document, which today's
findAndModify returns and a claim needs for its attempt number, its status and the delivery), then
one unordered insert of the N claim records; `claim-close` deletes N claim records of finished
attempts per command (one unordered `delete` of N statements by `_id`), what closing a claim after
its outcome would add; `read` is the read of claim-record alone (one find by `_id` per
notification, the whole document) and `read-state` the same find projected on the fields a claim
decides by (status, retryCount, seq). It reports the database CPU per notification, not per
command.
Keep N small on the shared stack: with N=32 and N=64 from eight threads FerretDB 1.24 stopped
answering until its launcher restarted it (loadtest/ANALYSIS.md).

The fill itself is measured the same way (insert_many of 1,000 documents, one client): the cost of
the API's group commit. With --results DIR it also writes DIR/db_ceiling.json and .md: the
database's own ceiling for WaveCom, i.e. how many notifications per second both cores could carry
if the database had them to itself, at one bulk-inserted document and two findAndModify per
notification (docs/ARCHITECTURE.md §4: the claim and the outcome).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import threading
import time

import bson
import pymongo

import cpu_snapshot


def cpu_seconds(command_names):
    """CPU seconds (user + system) used so far by every process whose name is in command_names."""
    return sum(cpu for comm, _, cpu in cpu_snapshot.processes().values() if comm in command_names)


SHAPES = {
    "legacy": "the document before the write path changes, with its trail embedded and growing",
    "notification": "the document as WaveCom stores it now, and the worker's claim",
    "state": "only what a claim or an outcome changes (status, seq, last, lease, counts), "
             "as a separate state document would hold it",
}


def make_doc(shape, i, now):
    """Document number i of SHAPE, as the write path stores it."""
    oid = bson.ObjectId()
    if shape == "legacy":
        return {"_id": oid, "tenantId": "t", "status": "QUEUED", "type": "SMS",
                "recipient": f"+1555{i:07d}", "message": "hello " * 10, "priority": "MEDIUM",
                "retryCount": 0, "createdAt": now, "updatedAt": now,
                "logs": [{"status": "PENDING", "message": "Notification created", "timestamp": now},
                         {"status": "QUEUED", "message": "Added to queue", "timestamp": now}]}
    state = {"_id": oid, "status": "QUEUED", "retryCount": 0, "maxRetries": 3, "updatedAt": now,
             "seq": 2, "createdSeq": 2,
             "last": {"status": "QUEUED", "message": "Added to queue", "actor": "api",
                      "timestamp": now}}
    if shape == "state":
        return state
    minute = int(now.timestamp() // 60 * 60_000)
    doc = {"_id": oid, "tenantId": "65f0c0ffee0123456789abcd", "type": "EMAIL",
           "recipient": f"customer{i}@example.com", "subject": "Your statement is ready",
           "message": "Your monthly statement is ready to view in online banking. " * 3,
           "priority": "MEDIUM", "metadata": {"campaign": "statements", "region": "eu"},
           "correlationId": f"corr-{i:012d}", "createdAt": now,
           "listBucket": f"65f0c0ffee0123456789abcd:{minute}",
           "listSlot": f"65f0c0ffee0123456789abcd:{int(now.timestamp()) * 1000}"}
    doc.update(state)
    return doc


def claim(shape, oid):
    """The filter and update of a claim on document oid of SHAPE."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if shape == "legacy":
        return ({"_id": oid, "$or": [{"status": "QUEUED"}, {"status": "PROCESSING"}]},
                {"$set": {"status": "PROCESSING", "lease": {"owner": "bench", "until": now}},
                 "$push": {"logs": {"status": "PROCESSING", "message": "bench"}}})
    return ({"_id": oid, "$or": [{"status": {"$in": ["QUEUED", "RETRYING"]}},
                                 {"status": "PROCESSING", "lease.until": {"$lt": now}}]},
            {"$set": {"status": "PROCESSING", "updatedAt": now,
                      "last": {"status": "PROCESSING", "message": "Worker started processing",
                               "actor": "worker:bench", "timestamp": now},
                      "lease": {"owner": "worker:bench", "until": now, "token": "0123456789abcdef"},
                      "lastToken": "0123456789abcdef"},
             "$inc": {"seq": 1}})


def processing(doc, token):
    """DOC as a claim under TOKEN leaves it."""
    now = doc["updatedAt"]
    doc.update({"status": "PROCESSING", "seq": doc["seq"] + 1,
                "last": {"status": "PROCESSING", "message": "Worker started processing",
                         "actor": "worker:bench", "timestamp": now},
                "lease": {"owner": "worker:bench", "until": now, "token": token},
                "lastToken": token})
    return doc


def outcome(oid, token):
    """The filter and update of an outcome: SENT under the claim's TOKEN."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        {"_id": oid, "$and": [{"status": "PROCESSING"}, {"lease.token": token}]},
        {"$set": {"status": "SENT", "updatedAt": now, "sentAt": now, "processingTimeMs": 200,
                  "providerMessageId": "bench-" + str(oid), "lastToken": token,
                  "last": {"status": "SENT", "message": "Successfully sent via email provider",
                           "actor": "worker:bench", "timestamp": now}},
         "$unset": {"lease": ""}, "$inc": {"seq": 1}})


def outcome_statement(oid, token):
    """One statement of a batched outcome write."""
    return pymongo.UpdateOne(*outcome(oid, token))


def claim_statement(oid, token):
    """One statement of a batched claim under TOKEN (the filter of `claim`)."""
    filt, update = claim("notification", oid)
    update["$set"]["lease"]["token"] = token
    update["$set"]["lastToken"] = token
    return pymongo.UpdateOne(filt, update)


def claim_record(oid, token, now):
    """The claim record of attempt 0 of notification OID under TOKEN."""
    return {"_id": f"{oid}:0", "notificationId": oid, "owner": "worker:bench", "token": token,
            "until": now}


def batched_writer(coll, kind, batch, ids, token):
    """Writes KIND for ids, BATCH notifications per command."""
    if kind == "claim-record":
        claims = coll.database.claims
        now = datetime.datetime.now(datetime.timezone.utc)
        for i in range(0, len(ids), batch):
            chunk = ids[i:i + batch]
            for oid in chunk:
                if coll.find_one({"_id": oid}) is None:
                    raise RuntimeError("a claimed notification was not found")
            reply = claims.insert_many([claim_record(oid, token, now) for oid in chunk],
                                       ordered=False)
            if len(reply.inserted_ids) != len(chunk):
                raise RuntimeError("a claim record was not inserted")
        return
    if kind in ("read", "read-state"):
        projection = {"status": 1, "retryCount": 1, "seq": 1} if kind == "read-state" else None
        for oid in ids:
            if coll.find_one({"_id": oid}, projection) is None:
                raise RuntimeError("a notification was not found")
        return
    if kind == "claim-close":
        claims = coll.database.claims
        for i in range(0, len(ids), batch):
            chunk = ids[i:i + batch]
            reply = claims.bulk_write([pymongo.DeleteOne({"_id": f"{oid}:0"}) for oid in chunk],
                                      ordered=False)
            if reply.deleted_count != len(chunk):
                raise RuntimeError(f"closed {reply.deleted_count} of {len(chunk)} claim records")
        return
    if kind == "claim-insert":
        claims = coll.database.claims
        now = datetime.datetime.now(datetime.timezone.utc)
        for i in range(0, len(ids), batch):
            reply = claims.insert_many(
                [{"_id": f"{oid}:0", "notificationId": oid, "owner": "worker:bench",
                  "token": token, "until": now} for oid in ids[i:i + batch]], ordered=False)
            if len(reply.inserted_ids) != len(ids[i:i + batch]):
                raise RuntimeError("a claim record was not inserted")
        return
    if batch == 0:
        for oid in ids:
            if coll.find_one_and_update(*outcome(oid, token)) is None:
                raise RuntimeError("an outcome matched nothing")
        return
    for i in range(0, len(ids), batch):
        chunk = ids[i:i + batch]
        if kind == "outcome":
            reply = coll.bulk_write([outcome_statement(oid, token) for oid in chunk], ordered=False)
        else:
            reply = coll.bulk_write([claim_statement(oid, token) for oid in chunk], ordered=False)
            read = list(coll.find({"_id": {"$in": chunk}}, {"status": 1, "seq": 1, "lease": 1}))
            if len(read) != len(chunk):
                raise RuntimeError(f"claim read back {len(read)} of {len(chunk)} documents")
        if reply.matched_count != len(chunk):
            raise RuntimeError(f"{kind} matched {reply.matched_count} of {len(chunk)} statements")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", default="mongodb://127.0.0.1:27017")
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--writes", type=int, default=300, help="per thread")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="notification",
                        help="the document and the claim written: " +
                             "; ".join(f"{k}: {v}" for k, v in sorted(SHAPES.items())))
    parser.add_argument("--batch", type=int, help="notifications per command (see above)")
    parser.add_argument("--write", choices=["outcome", "claim", "claim-insert", "claim-record", "claim-close", "read",
                                            "read-state"], default="outcome",
                        help="with --batch: what is written")
    parser.add_argument("--results", help="write db_ceiling.json and db_ceiling.md here")
    args = parser.parse_args()
    if args.batch is not None and (args.batch < 0 or (args.batch > 0 and args.writes % args.batch)
                                   or (args.batch == 0 and args.write != "outcome")):
        parser.error("--batch must divide --writes; 0 only with --write outcome")
    if args.batch is not None and (args.shape != "notification" or args.results):
        parser.error("--batch measures the notification shape and writes no results")
    if args.threads * args.writes > args.docs:
        parser.error("--threads x --writes must not exceed --docs (one write per document)")

    client = pymongo.MongoClient(args.uri, maxPoolSize=args.threads + 2)
    name = "wc_bench_dbcost_" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d_%H%M%S")
    coll = client[name].notifications
    now = datetime.datetime.now(datetime.timezone.utc)
    docs = [make_doc(args.shape, i, now) for i in range(args.docs)]
    token = "0123456789abcdef01234567"
    if args.batch is not None and args.write == "outcome":
        docs = [processing(d, token) for d in docs]
    if args.write in ("claim-insert", "claim-record", "claim-close"):
        # The claims collection exists, with as many records as the notifications, before the
        # measured part: creating its table is not a claim's cost, and its unique key is checked
        # against a collection of the same size. For claim-close they are the records it deletes.
        for i in range(0, args.docs, 1000):
            chunk = docs[i:i + 1000]
            coll.database.claims.insert_many(
                [claim_record(d["_id"], token, now) if args.write == "claim-close" else
                 claim_record(bson.ObjectId(), token, now) for d in chunk])
    names = {"ferretdb": {"wavecom-ferretd", "wavecom-ferretdb"}, "postgresql": {"postgres"}}
    fill_before = {k: cpu_seconds(v) for k, v in names.items()}
    fill_started = time.monotonic()
    for i in range(0, len(docs), 1000):
        coll.insert_many(docs[i:i + 1000])
    fill_elapsed = time.monotonic() - fill_started
    insert_ms = {k: (cpu_seconds(v) - fill_before[k]) / args.docs * 1000 for k, v in names.items()}
    ids = [d["_id"] for d in docs]

    def writer(k):
        mine = ids[k * args.writes:(k + 1) * args.writes]
        if args.batch is not None:
            try:
                batched_writer(coll, args.write, args.batch, mine, token)
            except (RuntimeError, pymongo.errors.PyMongoError) as e:
                failures.append(str(e))
            return
        for oid in mine:
            coll.find_one_and_update(*claim(args.shape, oid))

    failures = []  # a thread's failure, so that a partial run prints no figure
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
    if failures:
        sys.exit("db_write_cost: " + "; ".join(failures))
    if args.batch is not None:
        how = (f"{args.write}s batched {args.batch} per command" if args.batch else
               "outcomes as one findAndModify each")
        print(f"db write cost ({how}): {calls} "
              f"notifications on {args.docs} documents, {args.threads} threads: "
              f"{calls / elapsed:.0f} notifications/s; CPU per notification: "
              f"FerretDB {per_call['ferretdb']:.2f} ms + PostgreSQL {per_call['postgresql']:.2f} ms "
              f"= {sum(per_call.values()):.2f} ms (database {name})")
        return
    print(f"db write cost ({args.shape}, {len(bson.encode(docs[0]))} bytes of BSON): "
          f"{calls} findAndModify by _id on {args.docs} documents, "
          f"{args.threads} threads: {calls / elapsed:.0f}/s; CPU per call: "
          f"FerretDB {per_call['ferretdb']:.2f} ms + PostgreSQL {per_call['postgresql']:.2f} ms = "
          f"{sum(per_call.values()):.2f} ms (database {name})")
    if args.results:
        write_results(args, calls / elapsed, per_call, args.docs / fill_elapsed, insert_ms)


def write_results(args, calls_per_s, per_call, inserts_per_s, insert_ms):
    cpus = os.cpu_count()
    write_ms = sum(per_call.values())
    doc_ms = sum(insert_ms.values())
    per_notification_ms = doc_ms + 2 * write_ms
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result = {
        "benchmark": "db_ceiling",
        "meta": {"time": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "commit": commit,
                 "command": "/usr/bin/python3 loadtest/db_write_cost.py " + " ".join(sys.argv[1:]),
                 "cpus": cpus},
        "config": {"docs": args.docs, "threads": args.threads, "writes_per_thread": args.writes,
                   "shape": args.shape},
        "find_and_modify_per_s": round(calls_per_s, 1),
        "find_and_modify_cpu_ms": {k: round(v, 3) for k, v in per_call.items()},
        "bulk_insert_docs_per_s": round(inserts_per_s, 1),
        "bulk_insert_cpu_ms_per_doc": {k: round(v, 3) for k, v in insert_ms.items()},
        "cpu_ms_per_notification": round(per_notification_ms, 3),
        "ceiling_notifications_per_s": round(cpus * 1000 / per_notification_ms, 1),
    }
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "db_ceiling.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    md = [f"### The database alone: what one notification's writes cost, {result['meta']['time']}", "",
          f"`{result['meta']['command']}` — FerretDB 1.24 on PostgreSQL 15, {cpus} cores, commit {commit}.", "",
          "| figure | value |", "|---|---|",
          f"| findAndModify by _id ({args.threads} clients) | {calls_per_s:,.0f}/s; CPU "
          f"{per_call['ferretdb']:.2f} ms FerretDB + {per_call['postgresql']:.2f} ms PostgreSQL |",
          f"| insert_many, 1,000 per call (1 client) | {inserts_per_s:,.0f} documents/s; CPU "
          f"{insert_ms['ferretdb']:.2f} ms + {insert_ms['postgresql']:.2f} ms per document |",
          f"| database CPU per notification (1 insert + 2 findAndModify) | {per_notification_ms:.2f} ms |",
          f"| ceiling: notifications/s with all {cpus} cores given to the database | "
          f"{result['ceiling_notifications_per_s']:,.0f}/s |", ""]
    with open(os.path.join(args.results, "db_ceiling.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
