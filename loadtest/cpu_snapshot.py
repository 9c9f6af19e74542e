#!/usr/bin/python3
"""loadtest/cpu_snapshot.py: CPU seconds used so far by each part of the running system, as JSON.

    /usr/bin/python3 loadtest/cpu_snapshot.py [--pid ROLE=PID ...] > snapshot.json

Each --pid names a process tree of the benchmark's own (the API, the worker master and its
children), counted with its descendants. The shared infrastructure is found by process name:
RabbitMQ (beam.smp and its helpers), PostgreSQL, the FerretDB launcher, the SMTP catcher and the
provider doubles. Two snapshots, before and after a run, give where the CPU went: e2e_report.py
subtracts them. Processes that ended between two snapshots are not counted (their time is lost to
/proc), so take both while the measured processes still run.
"""
import argparse
import json
import os

BY_NAME = {
    "rabbitmq": {"beam.smp", "erl_child_setup", "epmd", "inet_gethost"},
    "postgresql": {"postgres"},
    "ferretdb": {"wavecom-ferretd"},
    "doubles": {"wavecom-doubles"},
}


def processes():
    """{pid: (comm, ppid, cpu_seconds)} of every process now."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        found[int(entry)] = (head.split("(", 1)[1], int(fields[1]),
                             (int(fields[11]) + int(fields[12])) / tick)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pid", action="append", default=[], help="ROLE=PID, counted with its children")
    args = ap.parse_args()
    procs = processes()
    children = {}
    for pid, (_, ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    totals = {}
    claimed = set()
    for spec in args.pid:
        role, _, pid = spec.partition("=")
        stack = [int(pid)] if pid.isdigit() else []
        while stack:
            p = stack.pop()
            if p in procs and p not in claimed:
                claimed.add(p)
                totals[role] = totals.get(role, 0.0) + procs[p][2]
                stack += children.get(p, [])
    for pid, (comm, _, cpu) in procs.items():
        if pid in claimed:
            continue
        for role, names in BY_NAME.items():
            if comm in names:
                totals[role] = totals.get(role, 0.0) + cpu
    print(json.dumps({k: round(v, 2) for k, v in sorted(totals.items())}))


if __name__ == "__main__":
    main()
