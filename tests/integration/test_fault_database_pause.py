"""The database frozen for 20 s under 2,000 deliveries: nothing lost, nothing sent twice.

The test runs its own database (private_services.py) and stops FerretDB and
every PostgreSQL process with SIGSTOP while the worker is delivering: the
connections stay open and nothing answers, so writes in flight time out on
the client's side and are applied once the database runs again. That is the
lost reply of docs/ARCHITECTURE.md §4: a claim or an outcome applied whose
answer never came back. The worker must recognise both as its own (the lease
token) and keep every known outcome, with its unacked message, until the
database records it.

Counted from the provider double's own records (per message id): every 201
delivered exactly once, and no worker log line claims a lease passed to
another worker.
"""
import time
import unittest

import providers
from fault_support import (needs_ferretdb, private_database, reconcile, slow_twilio, sms_deliveries,
                           start_stack)
from harness import purge_queues, wait_until

TOTAL = 2000
BATCH = 200
PAUSE_SECONDS = 20
# The pause starts once this many deliveries reached the provider: the rest are queued,
# claimed or in flight at the provider when the database stops.
PAUSE_AFTER = 300
# After the database runs again, every notification is final within this long: the waiting
# outcomes are written at the next probe (at most 10 s apart) and the rest is delivered.
SETTLE_SECONDS = 90


class _Accepted:
    """What reconcile() needs of a load: the 201s (here, items of batches)."""

    def __init__(self):
        self.accepted = []
        self.bad = []
        self.unanswered = 0

    def refused_count(self):
        return 0


@needs_ferretdb
class DatabasePauseTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        # Each SMS spends 300 ms at the provider, so hundreds are in flight when the
        # database stops, their outcomes known and not yet written.
        slow_twilio(self, 300)
        self.database = private_database(self)
        start_stack(self, env=dict(providers.worker_env(), WAVECOM_WORKER_PREFETCH="100"),
                    mongodb_uri=self.database.uri)

    def submit(self, load):
        for b in range(TOTAL // BATCH):
            items = [{"type": "SMS", "recipient": "+14155550123", "message": f"pause {b}-{i}"}
                     for i in range(BATCH)]
            r = self.stack.request("POST", "/api/notifications/batch", key=self.key,
                                   body={"notifications": items}, timeout=60)
            self.assertEqual(r.status, 201, r)
            for item in r.json["data"]["results"]:
                load.accepted.append((item["id"], 0.0, 0.0))

    def test_database_paused_20_seconds_under_2000_deliveries(self):
        load = _Accepted()
        received_before = providers.stats()["twilio"]["received"]
        self.submit(load)
        wait_until(lambda: providers.stats()["twilio"]["received"] - received_before
                   >= PAUSE_AFTER, 120, interval=0.05, what=f"{PAUSE_AFTER} deliveries")

        self.database.pause()
        paused_at = time.monotonic()
        try:
            time.sleep(PAUSE_SECONDS)
        finally:
            self.database.resume()
        resumed_at = time.monotonic()
        print(f"\ndatabase paused {resumed_at - paused_at:.1f} s with "
              f"{providers.stats()['twilio']['received'] - received_before} of {TOTAL} "
              "delivered", flush=True)

        result = reconcile(self, self.stack, load, deliveries=sms_deliveries,
                           label="database paused 20 s", timeout=SETTLE_SECONDS)
        settled = time.monotonic() - resumed_at
        print(f"every notification final {settled:.1f} s after the database resumed",
              flush=True)
        self.assertEqual(len(result["sent"]), TOTAL)
        self.assertEqual(result["duplicates"], 0)

        log = self.stack.log("worker", whole=True)
        self.assertNotIn("lease had passed", log)
        waited = log.count("the database cannot record it")
        print(f"outcomes that waited for the database: {waited}", flush=True)

        # Every outcome recorded once: one SENT entry per notification in the trail.
        sent_entries = {}
        for e in self.stack.db.notification_logs.find({"status": "SENT"}, {"notificationId": 1}):
            nid = str(e["notificationId"])
            sent_entries[nid] = sent_entries.get(nid, 0) + 1
        self.assertEqual({n for n, c in sent_entries.items() if c > 1}, set())
        self.assertIsNone(self.stack.worker.poll(), "the worker master exited")


if __name__ == "__main__":
    unittest.main()
