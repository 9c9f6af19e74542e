"""kill -9 of a worker child in the middle of 2,000 deliveries loses nothing.

The master restarts the child; its unacked messages come back from RabbitMQ;
the lease decides who delivers them. The only duplicates allowed are the
documented window (the SMTP server accepted, the child died before writing
SENT), recognisable in the audit trail as a second PROCESSING by another owner.
"""
import concurrent.futures
import os
import signal
import subprocess
import time
import unittest

import bson

from harness import mails_for, purge_queues, stack_for_test, trail, wait_until

TOTAL = 2000


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


class WorkerKillTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        # A short lease, so that a killed child's claims are taken over quickly.
        stack_for_test(self, worker=False, workers=2, env={"WAVECOM_LEASE_SECONDS": "5"})

    def test_kill_9_child_mid_run(self):
        worker = self.stack.start_worker()

        def submit(i):
            r = self.stack.create_email(self.key, f"kill-{i}@example.com", f"Kill {i}", f"Body {i}",
                                        priority="HIGH" if i % 5 == 0 else "MEDIUM")
            self.assertEqual(r.status, 201, r)
            return r.json["data"]["_id"]

        killed = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(submit, i) for i in range(TOTAL)]
            for threshold in (300, 900):
                wait_until(lambda: self.stack.count_status("SENT") >= threshold,
                           300, interval=1, what=f"{threshold} deliveries")
                victim = children_of(worker.pid)[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            ids = [f.result() for f in futures]

        wait_until(lambda: self.stack.count_status("SENT") == TOTAL,
                   600, interval=2, what="every notification to be SENT")
        self.assertEqual(worker.poll(), None, "the master must survive its children's deaths")
        log = self.stack.log("worker", whole=True)
        for pid in killed:
            self.assertIn(f"(pid {pid}) killed by signal 9", log)

        mails = wait_until(lambda: (lambda m: m if len(m) == TOTAL else None)(mails_for(ids)),
                           60, what="a mail for every notification")
        duplicates = {nid: len(m) for nid, m in mails.items() if len(m) > 1}
        for nid in duplicates:
            doc = self.stack.db.notifications.find_one({"_id": bson.ObjectId(nid)})
            logs = trail(self.stack.db, doc)
            owners = [e["actor"] for e in logs if e["status"] == "PROCESSING"]
            self.assertGreaterEqual(len(set(owners)), 2,
                                    f"{nid} was sent twice without a lease takeover: {logs}")
        print(f"\nreconciliation: submitted={TOTAL} sent={len(mails)} failed=0 "
              f"duplicates={len(duplicates)} (each a lease takeover after kill -9) lost=0")


if __name__ == "__main__":
    unittest.main()
