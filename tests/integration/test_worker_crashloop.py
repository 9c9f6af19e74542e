"""A worker child caught in a crash loop is restarted later and later, every restart is reported,
and once it stops dying the pool delivers again.

worker/master.c restarts a child that exits abnormally after a delay: 1 s after the first of a
run of short-lived exits, doubling with each further one (2 s, 4 s, 8 s ...) up to 30 s; a child
that lived HEALTHY_LIFETIME_MS (10 s) before it died starts the run afresh (restarted at once).
This test makes a real crash loop: it SIGKILLs each new child of the master the moment it
appears, four times, then lets the fifth live. It checks, from the master's JSON log lines and
from what it saw itself, that

  - each death was reported, in the message and as fields of the line (the pid, signal 9, how
    long the child lived, the restart's number and delay, the crash streak), and so was each
    restart ("worker 0 started, pid P");
  - the delays the master announced were 1, 2, 4 and 8 s, and the gaps it actually left between
    a death and the next start were never shorter than announced and grew each time;
  - the surviving child stays up and delivers an email end to end (SENT, and in the Maildir);
  - after the child has lived longer than HEALTHY_LIFETIME_MS, a death restarts it at once and
    a new run of deaths starts again at 1 s (the backoff was reset, not left at 16 s).

Bounds: a restart is never earlier than its delay (the master computes it after reaping, and
only starts a child once it has passed), so the lower bounds hold exactly, within the
timestamps' millisecond granularity. Upper bounds allow 1.5 s of scheduling delay on top of the
master's 200 ms tick. Run time: about 35 s.
"""
import datetime
import json
import os
import re
import signal
import subprocess
import time
import unittest

from harness import Stack, close_cleanly, mails_for, purge_queues, wait_until

DELAYS_MS = [1000, 2000, 4000, 8000]  # the master's first four delays of a crash loop
HEALTHY_LIFETIME_S = 10.0  # HEALTHY_LIFETIME_MS in worker/master.c
EARLY_MS = 50  # timestamp granularity and clock reads: a restart is never earlier than this
LATE_MS = 1500  # the master's 200 ms tick, fork and scheduling on a busy machine

EXIT_RE = re.compile(r"^worker (\d+) \(pid (\d+)\) (.+?); restart (\d+) in (\d+) ms$")
START_RE = re.compile(r"^worker (\d+) started, pid (\d+)$")


def children_of(pid):
    """The pids of `pid`'s children (zombies included, until the master reaps them)."""
    kids = []
    task_dir = f"/proc/{pid}/task"
    try:
        for task in os.listdir(task_dir):
            with open(f"{task_dir}/{task}/children") as f:
                kids.extend(int(p) for p in f.read().split())
        return kids
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN, or the master is gone
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


def ts_ms(line):
    """Epoch milliseconds of a log line's "ts" (RFC 3339 in UTC, with milliseconds)."""
    when = datetime.datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return when.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000


def master_lines(text, master_pid):
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("proc") == "worker-master" and line.get("pid") == master_pid:
            lines.append(line)
    return lines


class WorkerCrashLoopTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        self.stack = Stack(workers=1)
        self.stack.start_api()
        self.tenant, self.key = self.stack.new_tenant_key()

    def tearDown(self):
        close_cleanly(self.stack)

    def next_child(self, master, known, timeout):
        """Waits for a child of the master that is not in `known`: (pid, monotonic time seen)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in children_of(master.pid):
                if pid not in known:
                    return pid, time.monotonic()
            self.assertIsNone(master.poll(), "the master exited:\n" + self.stack.log("worker"))
            time.sleep(0.005)
        self.fail(f"no new worker child within {timeout} s:\n" + self.stack.log("worker"))

    def kill_now(self, pid):
        os.kill(pid, signal.SIGKILL)
        return time.monotonic()

    def test_crash_loop_backs_off_reports_and_recovers(self):
        master = self.stack.start_worker()
        pid, seen = self.next_child(master, set(), 60)
        known = {pid}

        # 1. The crash loop: every new child dies the moment it appears.
        killed, observed_ms = [], []
        for delay in DELAYS_MS:
            died = self.kill_now(pid)
            killed.append(pid)
            pid, seen = self.next_child(master, known, (delay + LATE_MS) / 1000 + 5)
            known.add(pid)
            observed_ms.append((seen - died) * 1000)
        survivor, survivor_since = pid, seen

        # 2. The killing stops: the child stays up and delivers.
        r = self.stack.create_email(self.key, "crashloop@example.com", "After the crash loop",
                                    "Delivered by the child that survived.", priority="HIGH")
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        self.stack.wait_for_status(self.key, nid, "SENT", timeout=30)
        wait_until(lambda: len(mails_for([nid]).get(nid, [])) == 1, 15, what="the email in the Maildir")
        self.assertEqual(children_of(master.pid), [survivor], "the surviving child must stay up")

        # 3. A child that lived longer than HEALTHY_LIFETIME_MS is restarted at once, and the next
        #    run of deaths starts again at 1 s.
        time.sleep(max(0.0, survivor_since + HEALTHY_LIFETIME_S + 1.0 - time.monotonic()))
        died = self.kill_now(survivor)
        pid, seen = self.next_child(master, known, LATE_MS / 1000 + 5)
        known.add(pid)
        after_healthy_ms = (seen - died) * 1000
        died = self.kill_now(pid)
        young = pid
        pid, seen = self.next_child(master, known, (1000 + LATE_MS) / 1000 + 5)
        known.add(pid)
        after_reset_ms = (seen - died) * 1000
        time.sleep(1.0)
        self.assertEqual(children_of(master.pid), [pid], "the last child must stay up")

        # The master's own account of it, from its JSON log lines.
        lines = master_lines(self.stack.log("worker", whole=True), master.pid)
        exits = {}  # child pid -> (line, match)
        starts = {}  # child pid -> line
        for line in lines:
            m = EXIT_RE.match(line.get("msg", ""))
            if m:
                exits[int(m.group(2))] = (line, m)
            m = START_RE.match(line.get("msg", ""))
            if m:
                starts[int(m.group(2))] = line
        order = killed + [survivor, young, pid]
        for p in order:
            self.assertIn(p, starts, f"no 'worker 0 started, pid {p}' line:\n" + self.stack.log("worker"))

        logged_ms = []
        for k, p in enumerate(killed):
            self.assertIn(p, exits, f"the death of pid {p} was not reported:\n" + self.stack.log("worker"))
            line, m = exits[p]
            self.assertEqual(line["level"], "warn", line)
            self.assertEqual(m.group(1), "0", line)
            self.assertTrue(m.group(3).startswith("killed by signal 9"), line)
            self.assertEqual(int(m.group(4)), k + 1, f"restart number: {line}")
            self.assertEqual(int(m.group(5)), DELAYS_MS[k], f"announced delay: {line}")
            # The same facts as fields, for a log pipeline that alerts on crash loops.
            self.assertEqual({f: line.get(f) for f in ("slot", "childPid", "signal", "restarts",
                                                       "crashStreak", "restartInMs")},
                             {"slot": 0, "childPid": p, "signal": 9, "restarts": k + 1,
                              "crashStreak": k + 1, "restartInMs": DELAYS_MS[k]}, line)
            self.assertLess(line["livedMs"], 1000, line)
            logged_ms.append(ts_ms(starts[order[k + 1]]) - ts_ms(line))

        summary = (f"announced {DELAYS_MS} ms; gaps death->start in the log "
                   f"{[round(g) for g in logged_ms]} ms, seen by the test {[round(g) for g in observed_ms]} ms")
        print("\n" + summary)
        for k, delay in enumerate(DELAYS_MS):
            for gap in (logged_ms[k], observed_ms[k]):
                self.assertGreaterEqual(gap, delay - EARLY_MS, f"restart {k + 1} came too early: {summary}")
                self.assertLessEqual(gap, delay + LATE_MS, f"restart {k + 1} came too late: {summary}")
        for gaps in (logged_ms, observed_ms):
            self.assertEqual(gaps, sorted(gaps), f"the gaps must grow: {summary}")

        # The reset: restart 5 (after a healthy life) at once, restart 6 after 1 s again.
        line, m = exits[survivor]
        self.assertEqual((int(m.group(4)), int(m.group(5))), (len(DELAYS_MS) + 1, 0), m.group(0))
        self.assertGreaterEqual(line["livedMs"], HEALTHY_LIFETIME_S * 1000, line)
        self.assertEqual((line["crashStreak"], line["restartInMs"]), (0, 0), line)
        self.assertLessEqual(after_healthy_ms, LATE_MS, "a healthy child's death must restart it at once")
        _, m = exits[young]
        self.assertEqual((int(m.group(4)), int(m.group(5))), (len(DELAYS_MS) + 2, 1000), m.group(0))
        self.assertGreaterEqual(after_reset_ms, 1000 - EARLY_MS)
        self.assertNotIn(pid, exits, "the last child must not have died")
        print(f"after {HEALTHY_LIFETIME_S:.0f} s of health: restart in {after_healthy_ms:.0f} ms, "
              f"then {after_reset_ms:.0f} ms after the next quick death (the backoff was reset)")


if __name__ == "__main__":
    unittest.main()
