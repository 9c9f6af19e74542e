#!/usr/bin/python3
"""loadtest/pg_stats.py: what PostgreSQL did for FerretDB between two moments, from its own counters.

    /usr/bin/python3 loadtest/pg_stats.py snapshot --schema DB > before.json
    ... the load ...
    /usr/bin/python3 loadtest/pg_stats.py snapshot --schema DB > after.json
    /usr/bin/python3 loadtest/pg_stats.py diff before.json after.json [--rate R] [--top N]

A snapshot holds PostgreSQL's cumulative counters as JSON: the statements (pg_stat_statements,
when the server loads it: deploy/stack.sh does), the tables and indexes of one FerretDB database
(schema DB: row changes, dead rows, autovacuum runs, buffer hits and reads, sizes), the whole
database's buffer hits and reads, the checkpointer and background writer, the WAL, and the
settings that decide them. `diff` prints the difference as Markdown: the statements by time (with
rows, buffers and WAL per call), the buffer hit ratio of each table and index, WAL per second,
and with --rate (notifications per second of the load) what one notification cost.

A buffer "read" is a page PostgreSQL did not find in its shared buffers and asked the kernel for;
on this machine the kernel's page cache usually has it, so a read costs CPU (a copy, and the
eviction of another buffer, often a dirty one the backend must write first), not a disk wait.

It talks to the stack's PostgreSQL with psql (WAVECOM_LOADTEST_PSQL, port WAVECOM_POSTGRES_PORT,
default 5433, database ferretdb, user postgres) and changes nothing.
"""
import argparse
import json
import os
import subprocess
import sys
import time

PSQL = os.environ.get("WAVECOM_LOADTEST_PSQL", "/usr/lib/postgresql/15/bin/psql")
PORT = os.environ.get("WAVECOM_POSTGRES_PORT", "5433")
SETTINGS = ("shared_buffers", "effective_cache_size", "wal_buffers", "max_wal_size",
            "checkpoint_timeout", "random_page_cost", "work_mem", "maintenance_work_mem",
            "shared_preload_libraries", "fsync", "synchronous_commit", "full_page_writes",
            "wal_compression", "autovacuum_vacuum_cost_limit", "autovacuum_vacuum_scale_factor",
            "plan_cache_mode")


def query(sql):
    """The one JSON value that SQL returns."""
    out = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", PORT, "-U", "postgres", "-X", "-q", "-tA",
                          "-v", "ON_ERROR_STOP=1", "-c", sql, "ferretdb"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return json.loads(out) if out else None


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def snapshot(schema):
    s = literal(schema)
    snap = {"at": time.time(), "schema": schema}
    snap["settings"] = query(
        "SELECT json_object_agg(name, current_setting(name)) FROM pg_settings "
        f"WHERE name IN ({', '.join(literal(n) for n in SETTINGS)})")
    snap["tables"] = query(
        "SELECT coalesce(json_agg(t), '[]') FROM (SELECT s.relname AS name, n_live_tup, n_dead_tup, "
        "n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, seq_scan, seq_tup_read, idx_scan, "
        "autovacuum_count, autoanalyze_count, last_autovacuum::text, "
        "coalesce(heap_blks_read, 0) AS heap_read, coalesce(heap_blks_hit, 0) AS heap_hit, "
        "coalesce(idx_blks_read, 0) AS idx_read, coalesce(idx_blks_hit, 0) AS idx_hit, "
        "coalesce(toast_blks_read, 0) + coalesce(tidx_blks_read, 0) AS toast_read, "
        "coalesce(toast_blks_hit, 0) + coalesce(tidx_blks_hit, 0) AS toast_hit, "
        "pg_relation_size(s.relid) AS heap_bytes, pg_indexes_size(s.relid) AS index_bytes, "
        "pg_total_relation_size(s.relid) AS total_bytes "
        "FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid) "
        f"WHERE s.schemaname = {s}) t")
    snap["indexes"] = query(
        "SELECT coalesce(json_agg(t), '[]') FROM (SELECT s.relname AS tbl, s.indexrelname AS name, "
        "s.idx_scan, io.idx_blks_read AS read, io.idx_blks_hit AS hit, "
        "pg_relation_size(s.indexrelid) AS bytes "
        "FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io USING (indexrelid) "
        f"WHERE s.schemaname = {s}) t")
    snap["database"] = query(
        "SELECT row_to_json(d) FROM (SELECT blks_read, blks_hit, tup_returned, tup_fetched, "
        "tup_inserted, tup_updated, tup_deleted, xact_commit, temp_bytes, "
        "pg_database_size('ferretdb') AS bytes FROM pg_stat_database WHERE datname = 'ferretdb') d")
    snap["bgwriter"] = query("SELECT row_to_json(b) FROM pg_stat_bgwriter b")
    snap["wal"] = query("SELECT row_to_json(w) FROM (SELECT wal_records, wal_fpi, "
                        "wal_bytes::bigint AS wal_bytes, wal_buffers_full FROM pg_stat_wal) w")
    has_pgss = query("SELECT to_json(count(*) > 0) FROM pg_extension "
                     "WHERE extname = 'pg_stat_statements'")
    snap["statements"] = []
    if has_pgss:
        snap["statements"] = query(
            "SELECT coalesce(json_agg(t), '[]') FROM (SELECT queryid::text AS id, "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 400) AS query, calls, "
            "total_exec_time AS ms, rows, shared_blks_hit AS hit, shared_blks_read AS read, "
            "shared_blks_dirtied AS dirtied, shared_blks_written AS written, "
            "wal_bytes::bigint AS wal_bytes, wal_fpi "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = 'ferretdb') t")
    return snap


def ratio(hit, read):
    return f"{100.0 * hit / (hit + read):.2f} %" if hit + read else "—"


def mib(n):
    return f"{n / 1048576:,.0f} MiB"


def diff(a, b, rate, top):
    seconds = b["at"] - a["at"]
    per_n = rate * seconds if rate else None
    out = [f"Between the snapshots: {seconds:.0f} s; schema {b['schema']}.", ""]
    out.append("Settings: " + ", ".join(f"{k}={v}" for k, v in sorted(b["settings"].items())))
    out.append("")
    db_a, db_b = a["database"], b["database"]
    hit, read = db_b["blks_hit"] - db_a["blks_hit"], db_b["blks_read"] - db_a["blks_read"]
    out.append(f"Database ferretdb ({mib(db_b['bytes'])}): {hit:,} buffer hits, {read:,} reads "
               f"({read / seconds:,.0f}/s), hit ratio {ratio(hit, read)}.")
    w = {k: b["wal"][k] - a["wal"][k] for k in b["wal"]}
    line = (f"WAL: {w['wal_bytes'] / seconds / 1024:,.0f} KiB/s, {w['wal_records']:,} records, "
            f"{w['wal_fpi']:,} full-page images")
    if per_n:
        line += f"; per notification {w['wal_bytes'] / per_n:,.0f} bytes, {w['wal_fpi'] / per_n:.2f} images"
    out.append(line + ".")
    g = {k: b["bgwriter"][k] - a["bgwriter"][k] for k in b["bgwriter"]
         if isinstance(b["bgwriter"][k], (int, float))}
    out.append(f"Checkpoints: {g['checkpoints_timed']} timed, {g['checkpoints_req']} requested; "
               f"buffers written by the checkpointer {g['buffers_checkpoint']:,}, the background "
               f"writer {g['buffers_clean']:,}, backends {g['buffers_backend']:,}; "
               f"buffers allocated {g['buffers_alloc']:,}.")
    out.append("")
    before = {s["id"]: s for s in a["statements"]}
    stmts = []
    for s in b["statements"]:
        p = before.get(s["id"], {})
        d = {k: s[k] - p.get(k, 0) for k in ("calls", "ms", "rows", "hit", "read", "dirtied",
                                              "written", "wal_bytes", "wal_fpi")}
        if d["calls"] > 0:
            d["query"] = s["query"]
            stmts.append(d)
    total = sum(s["ms"] for s in stmts)
    if stmts:
        stmts.sort(key=lambda s: -s["ms"])
        out.append(f"Statements: {sum(s['calls'] for s in stmts):,} calls, {total / 1000:.1f} s "
                   f"of execution ({total / seconds / 10:.1f} % of one core)"
                   + (f", {total / per_n:.2f} ms per notification" if per_n else "") + ".")
        out.append("")
        out.append("| share | calls | ms/call | rows/call | hits/call | reads/call | dirtied/call "
                   "| WAL B/call | statement |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for s in stmts[:top]:
            c = s["calls"]
            q = s["query"].replace("|", "\\|")[:220]
            out.append(f"| {100 * s['ms'] / total:.1f} % | {c:,} | {s['ms'] / c:.3f} | "
                       f"{s['rows'] / c:.1f} | {s['hit'] / c:.1f} | {s['read'] / c:.2f} | "
                       f"{s['dirtied'] / c:.2f} | {s['wal_bytes'] / c:,.0f} | `{q}` |")
        out.append("")
    tables_a = {t["name"]: t for t in a["tables"]}
    rows = []
    for t in b["tables"]:
        p = tables_a.get(t["name"])
        if p is None:
            continue
        d = {k: t[k] - p[k] for k in ("n_tup_ins", "n_tup_upd", "n_tup_hot_upd", "n_tup_del",
                                      "heap_read", "heap_hit", "idx_read", "idx_hit",
                                      "autovacuum_count", "seq_scan", "seq_tup_read")}
        if d["heap_hit"] + d["heap_read"] + d["idx_hit"] + d["idx_read"] == 0:
            continue
        rows.append((t, d))
    rows.sort(key=lambda r: -(r[1]["heap_read"] + r[1]["idx_read"] + r[1]["heap_hit"] + r[1]["idx_hit"]))
    out.append("| table | rows live / dead | heap | indexes | inserted | updated (HOT) | deleted "
               "| seq scans (rows) | autovacuums | heap hit ratio | index hit ratio |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for t, d in rows:
        out.append(f"| {t['name']} | {t['n_live_tup']:,} / {t['n_dead_tup']:,} | {mib(t['heap_bytes'])} "
                   f"| {mib(t['index_bytes'])} | {d['n_tup_ins']:,} | {d['n_tup_upd']:,} "
                   f"({d['n_tup_hot_upd']:,}) | {d['n_tup_del']:,} | {d['seq_scan']:,} "
                   f"({d['seq_tup_read']:,}) | {d['autovacuum_count']} | "
                   f"{ratio(d['heap_hit'], d['heap_read'])} ({d['heap_read']:,} reads) | "
                   f"{ratio(d['idx_hit'], d['idx_read'])} ({d['idx_read']:,} reads) |")
    out.append("")
    idx_a = {i["name"]: i for i in a["indexes"]}
    irows = []
    for i in b["indexes"]:
        p = idx_a.get(i["name"])
        if p is None:
            continue
        dh, dr = i["hit"] - p["hit"], i["read"] - p["read"]
        if dh + dr:
            irows.append((i, dh, dr))
    irows.sort(key=lambda r: -(r[1] + r[2]))
    out.append("| index | size | scans | hits | reads | hit ratio |")
    out.append("|---|---|---|---|---|---|")
    for i, dh, dr in irows[:top]:
        p = idx_a[i["name"]]
        out.append(f"| {i['name']} | {mib(i['bytes'])} | {i['idx_scan'] - p['idx_scan']:,} | {dh:,} "
                   f"| {dr:,} | {ratio(dh, dr)} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("snapshot", help="print the counters now, as JSON")
    sp.add_argument("--schema", required=True, help="the FerretDB database (a PostgreSQL schema)")
    dp = sub.add_parser("diff", help="print what happened between two snapshots, as Markdown")
    dp.add_argument("before")
    dp.add_argument("after")
    dp.add_argument("--rate", type=float, default=0.0, help="notifications per second of the load")
    dp.add_argument("--top", type=int, default=15, help="statements and indexes shown")
    args = ap.parse_args()
    if args.cmd == "snapshot":
        json.dump(snapshot(args.schema), sys.stdout)
        print()
    else:
        with open(args.before) as f:
            a = json.load(f)
        with open(args.after) as f:
            b = json.load(f)
        sys.stdout.write(diff(a, b, args.rate, args.top))


if __name__ == "__main__":
    main()
