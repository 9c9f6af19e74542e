"""kill -9 of the worker master under a supervisor: the pool comes back by itself.

Without Kubernetes the worker runs under systemd (deploy/systemd/
wavecom-worker.service, Restart=always, RestartSec=2). The test plays
systemd's part with a loop that starts the master again whenever it exits, 2 s
later, and counts the restarts. Killing the master with SIGKILL makes its
children exit (they watch the master's pipe); the loop starts a new master,
which forks a new pool that delivers what was queued meanwhile and after.
"""
import os
import signal
import subprocess
import threading
import time
import unittest

from harness import WORKER_BIN, Stack, mails_for, purge_queues, wait_until

RESTART_SEC = 2
MAX_RESTARTS = 5


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


class Supervisor:
    """systemd's Restart=always for one process: start it again RESTART_SEC after
    every exit, until stopped (at most MAX_RESTARTS times, so a crash loop ends)."""

    def __init__(self, stack):
        self.stack = stack
        self.proc = None
        self.restarts = 0
        self.exits = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _spawn(self):
        with open(os.path.join(self.stack.logdir, "worker.log"), "ab") as log:
            return subprocess.Popen([WORKER_BIN], env=self.stack.env, stdout=log,
                                    stderr=subprocess.STDOUT)

    def _run(self):
        started = 0
        while not self.stopping.is_set():
            with self.lock:
                self.proc = self._spawn()
                self.stack.worker = self.proc  # Stack.close() stops the current one
                self.restarts = started  # counted once the new process exists
            started += 1
            code = self.proc.wait()
            self.exits.append(code)
            if self.stopping.wait(RESTART_SEC) or started > MAX_RESTARTS:
                return

    def start(self):
        self.thread.start()
        wait_until(lambda: self.current() is not None, 10, what="the first worker master")
        return self

    def current(self):
        with self.lock:
            return self.proc

    def restart_count(self):
        with self.lock:
            return self.restarts

    def stop(self):
        self.stopping.set()
        proc = self.current()
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        self.thread.join(timeout=90)


class MasterKillTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        self.stack = Stack(workers=2)
        self.addCleanup(self.stack.close)
        self.stack.start_api()
        self.supervisor = Supervisor(self.stack)
        self.addCleanup(self.supervisor.stop)
        self.supervisor.start()
        self.tenant, self.key = self.stack.new_tenant_key()

    def send(self, tag, n):
        ids = []
        for i in range(n):
            r = self.stack.create_email(self.key, f"master-{tag}-{i}@example.com",
                                        f"master kill {tag} {i}", "body")
            self.assertEqual(r.status, 201, r)
            ids.append(r.json["data"]["_id"])
        return ids

    def test_master_killed_is_restarted_and_delivers(self):
        first = self.send("before", 20)
        for nid in first:
            self.stack.wait_for_status(self.key, nid, "SENT")
        master = self.supervisor.current()
        wait_until(lambda: len(children_of(master.pid)) == 2, 30, what="two worker children")
        # /api/health names the worker host, as information beside its own status.
        health = wait_until(lambda: (lambda r: r if r.json.get("workers", {}).get("live") else None)(
            self.stack.request("GET", "/api/health")), 30, interval=0.5,
            what="/api/health to report a live worker host")
        self.assertEqual(health.status, 200)
        self.assertEqual(health.json["workers"]["stale"], 0)
        self.assertEqual(health.json["workers"]["hosts"][0]["children"], 2)
        old_children = children_of(master.pid)

        os.kill(master.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        # Queued while no master runs: the new pool delivers them.
        during = self.send("during", 20)

        def old_children_gone():
            return all(not os.path.exists(f"/proc/{pid}") or
                       open(f"/proc/{pid}/stat").read().split()[2] == "Z"
                       for pid in old_children)
        wait_until(old_children_gone, 30, what="the dead master's children to exit")
        wait_until(lambda: self.supervisor.restart_count() == 1, 30,
                   what="the master started again")
        new_master = self.supervisor.current()
        self.assertNotEqual(new_master.pid, master.pid)
        wait_until(lambda: len(children_of(new_master.pid)) == 2, 30,
                   what="the new master's two children")

        after = self.send("after", 20)
        for nid in during + after:
            self.stack.wait_for_status(self.key, nid, "SENT", timeout=90)
        back = time.monotonic() - killed_at
        print(f"\nmaster killed: restarted after {RESTART_SEC} s, all 40 later notifications "
              f"SENT {back:.1f} s after the kill", flush=True)

        mails = mails_for(first + during + after)
        counts = {nid: len(mails.get(nid, [])) for nid in first + during + after}
        self.assertEqual([n for n, c in counts.items() if c == 0], [], "not delivered")
        self.assertEqual([n for n, c in counts.items() if c > 1], [], "delivered twice")
        self.assertEqual(self.supervisor.exits[0], -signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()
