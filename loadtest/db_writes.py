#!/usr/bin/python3
"""loadtest/db_writes.py: what the database wrote for one benchmark database, as JSON.

    /usr/bin/python3 loadtest/db_writes.py --db NAME [--port 5433] > snapshot.json

FerretDB keeps each MongoDB database as a PostgreSQL schema and each collection as a table named
after it with a suffix of eight hex digits. For every table of the schema this reads PostgreSQL's
own counters (pg_stat_user_tables): rows inserted, rows updated (each a single-document
read-modify-write: a findAndModify or an update), rows deleted; and the WAL position of the
cluster, whose difference between two snapshots is the bytes PostgreSQL wrote to its log for
everything (the benchmark's database and anything else running). e2e_report.py subtracts two
snapshots and divides by the notifications delivered. These are the database engine's counts,
whatever the client sent: they do not depend on how WaveCom batches its commands.
"""
import argparse
import csv
import io
import json
import os
import re
import subprocess
import sys

SUFFIX = re.compile(r"_[0-9a-f]{8}$")


def psql(port, sql):
    """Rows of `sql` run as PostgreSQL's superuser on the local cluster."""
    cmd = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-X", "-q", "--csv",
           "-c", sql, "ferretdb"]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + cmd
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out)))


def snapshot(db, port):
    # The counters of a transaction reach the view when its backend reports them; ask every
    # backend's own to be flushed first (PostgreSQL 15 reports at least once a second anyway).
    tables = {}
    for row in psql(port, "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del "
                          f"FROM pg_stat_user_tables WHERE schemaname = '{db}'"):
        name = SUFFIX.sub("", row["relname"])
        if name.startswith("_ferretdb"):
            continue
        tables[name] = {k: int(row[k]) for k in ("n_tup_ins", "n_tup_upd", "n_tup_hot_upd",
                                                 "n_tup_del")}
    wal = psql(port, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS wal")[0]["wal"]
    return {"tables": tables, "wal_bytes": int(wal)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="the MongoDB database name (a PostgreSQL schema)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("WAVECOM_POSTGRES_PORT", 5433)))
    args = ap.parse_args()
    if not re.fullmatch(r"[A-Za-z0-9_]+", args.db):
        sys.exit("db_writes.py: --db must be letters, digits and underscores")
    json.dump(snapshot(args.db, args.port), sys.stdout)
    print()


if __name__ == "__main__":
    main()
