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
import os
import time
import unittest

import providers
from fault_support import Load, reconcile
from harness import Stack, purge_queues, wait_until
from private_services import FERRETDB_BIN, PrivateDatabase

BEFORE = 150
AFTER = 100
DOWN_SECONDS = 120


@unittest.skipUnless(os.path.exists(FERRETDB_BIN),
                     f"no FerretDB launcher at {FERRETDB_BIN}: set WAVECOM_TEST_FERRETDB_BIN")
class PostgresDownTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        providers.reset()
        self.addCleanup(providers.reset)
        # 500 ms at the provider: deliveries are in flight when PostgreSQL dies.
        providers.configure("twilio", latency_ms=500)
        self.database = PrivateDatabase()
        self.addCleanup(self.database.close)
        self.database.start()
        env = providers.worker_env()
        env.update({"WAVECOM_PENDING_REPUBLISH_SECONDS": "3",
                    "WAVECOM_SCHEDULER_INTERVAL_MS": "500"})
        self.stack = Stack(workers=2, mongodb_uri=self.database.uri, env=env)
        self.addCleanup(self.stack.close)
        self.stack.start_api()
        self.stack.start_worker()
        self.tenant, self.key = self.stack.new_tenant_key()

    def deliveries(self, ids):
        per_id = providers.stats(ids=True)["twilio"].get("per_id", {})
        return {nid: per_id.get(nid, 0) for nid in ids}

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

        result = reconcile(self, self.stack, load, deliveries=self.deliveries,
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
