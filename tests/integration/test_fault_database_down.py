"""PostgreSQL killed and kept down for 120 s under load: nothing lost, nothing sent twice.

The test runs its own database (private_services.py) and kills its PostgreSQL
(postmaster and backends, kill -9) while clients submit SMS and the worker
delivers them; FerretDB stays up and fails every command meanwhile. The
outage is longer than the lease (60 s): outcomes the provider answered just
before the kill must still be written once the database is back, by the
worker that holds them, and the sweeper must not queue those notifications
again in the meantime (docs/ARCHITECTURE.md §4, §6).

Counted from the provider double's own records (per message id): every 201
delivered exactly once, and every outcome recorded once in the trail.
"""
import time
import unittest

import providers
from fault_support import (Load, needs_ferretdb, private_database, reconcile, slow_twilio,
                           sms_deliveries, start_stack)
from harness import purge_queues, wait_until

BEFORE = 150
AFTER = 100
DOWN_SECONDS = 120


@needs_ferretdb
class PostgresDownTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        # 500 ms at the provider: deliveries are in flight when PostgreSQL dies.
        slow_twilio(self, 500)
        self.database = private_database(self)
        start_stack(self, env=providers.worker_env(), mongodb_uri=self.database.uri)

    def test_postgres_killed_and_down_120_seconds(self):
        load = Load(self.stack, self.key, lambda n, i: {
            "type": "SMS", "recipient": "+14155550123", "message": f"pg down {n}-{i}"},
            clients=4, pause=0.0)
        self.addCleanup(load.stopping.set)
        load.start()
        load.wait_accepted(BEFORE)

        self.database.kill_postgres()
        killed_at = time.monotonic()
        wait_until(lambda: load.refused_count() > 0, 30, what="a 503 while PostgreSQL is down")
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - killed_at)))
        waiting_log = self.stack.log("worker", whole=True).count("the database cannot record it")

        self.database.start_postgres()
        load.wait_accepted(AFTER, timeout=120)
        load.stop()

        result = reconcile(self, self.stack, load, deliveries=sms_deliveries,
                           label="PostgreSQL killed, down 120 s", timeout=150)
        self.assertEqual(result["duplicates"], 0)
        log = self.stack.log("worker", whole=True)
        self.assertNotIn("lease had passed", log)
        print(f"outcomes that waited for the database: {waiting_log}", flush=True)

        # Every outcome recorded once: one final entry per notification in the trail.
        finals = {}
        for e in self.stack.db.notification_logs.find(
                {"status": {"$in": ["SENT", "FAILED"]}}, {"notificationId": 1}):
            nid = str(e["notificationId"])
            finals[nid] = finals.get(nid, 0) + 1
        self.assertEqual({n for n, c in finals.items() if c > 1}, set(),
                         "an outcome recorded twice")
        self.assertIsNone(self.stack.worker.poll(), "the worker master exited")


if __name__ == "__main__":
    unittest.main()
