"""kill -9 of the API in the middle of a steady load loses nothing it accepted.

Clients keep submitting while the API is killed and started again. Every
notification that got a 201 is delivered exactly once; a request cut off by
the kill got no answer, and whatever it left in the database (stored, perhaps
never published) is delivered too: the sweeper republishes what stayed
PENDING, and the worker's claim lets one delivery through.
"""
import os
import signal
import threading
import time
import unittest
import urllib.error

import bson

from harness import Stack, mails_for, purge_queues, wait_until

BEFORE_KILL = 150
TOTAL = 400
CLIENTS = 4


class ApiKillTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        self.stack = Stack(workers=2, env={"WAVECOM_PENDING_REPUBLISH_SECONDS": "3",
                                           "WAVECOM_SCHEDULER_INTERVAL_MS": "200"})
        self.stack.start_api()
        self.stack.start_worker()
        self.tenant, self.key = self.stack.new_tenant_key()
        self.accepted = []
        self.unanswered = 0
        self.refused = 0
        self.lock = threading.Lock()
        self.stop_load = threading.Event()

    def tearDown(self):
        self.stop_load.set()
        self.stack.close()

    def client(self, n):
        i = 0
        while not self.stop_load.is_set():
            i += 1
            try:
                r = self.stack.request("POST", "/api/notifications", key=self.key, timeout=10,
                                       body={"type": "EMAIL",
                                             "recipient": f"apikill-{n}-{i}@example.com",
                                             "subject": f"API kill {n}-{i}", "message": "body"})
            except (OSError, urllib.error.URLError):
                # Cut off by the kill, or refused while the API is down.
                with self.lock:
                    self.unanswered += 1
                time.sleep(0.05)
                continue
            with self.lock:
                if r.status == 201:
                    self.accepted.append(r.json["data"]["_id"])
                else:
                    self.refused += 1
                if len(self.accepted) >= TOTAL:
                    self.stop_load.set()

    def accepted_count(self):
        with self.lock:
            return len(self.accepted)

    def test_kill_9_api_mid_load(self):
        clients = [threading.Thread(target=self.client, args=(n,)) for n in range(CLIENTS)]
        for t in clients:
            t.start()
        wait_until(lambda: self.accepted_count() >= BEFORE_KILL, 120, interval=0.05,
                   what=f"{BEFORE_KILL} accepted before the kill")
        killed = self.stack.api
        os.kill(killed.pid, signal.SIGKILL)
        self.assertEqual(killed.wait(timeout=10), -signal.SIGKILL)
        time.sleep(1)  # clients meet a dead port for a moment
        self.stack.start_api()
        for t in clients:
            t.join(timeout=300)
            self.assertFalse(t.is_alive(), "the load did not finish")

        accepted = set(self.accepted)
        self.assertEqual(len(accepted), len(self.accepted), "an id was answered twice")
        # Everything stored ends SENT: the accepted, and what the cut-off requests left.
        wait_until(lambda: self.stack.db.notifications.count_documents(
            {"status": {"$ne": "SENT"}}) == 0, 300, interval=1,
            what="every stored notification to be SENT")
        stored = {str(d["_id"]) for d in self.stack.db.notifications.find({}, {"_id": 1})}
        self.assertLessEqual(accepted, stored, "a notification that got a 201 is not stored")
        mails = wait_until(lambda: (lambda m: m if len(m) == len(stored) else None)(
            mails_for(stored)), 60, what="a mail for every stored notification")
        duplicates = {nid: len(m) for nid, m in mails.items() if len(m) > 1}
        self.assertEqual(duplicates, {}, "a notification was mailed twice")
        republished = self.stack.db.notifications.count_documents(
            {"republishCount": {"$gte": 1}})
        print(f"\nreconciliation: accepted={len(accepted)} sent={len(accepted & set(mails))} "
              f"lost=0 duplicates=0; requests without an answer={self.unanswered} "
              f"(stored anyway and delivered: {len(stored - accepted)}, republished by the "
              f"sweeper: {republished}); refused={self.refused}")


if __name__ == "__main__":
    unittest.main()
