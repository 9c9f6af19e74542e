"""The database killed and started again in the middle of a steady load loses nothing.

The test runs its own database (private_services.py: a PostgreSQL cluster of
its own behind a FerretDB of its own) and kills both while clients submit and
workers deliver. While it is down the API answers 503 with Retry-After (a
notification it cannot store is never accepted) and /api/health names the
database; the worker keeps the messages it cannot claim in the broker, and
keeps every known outcome (its message unacked) until the database records
it, so nothing is delivered twice. test_fault_database_down.py holds
PostgreSQL down for 120 s, longer than the lease.
"""
import os
import time
import unittest

from fault_support import Load, reconcile
from harness import Stack, mails_for, purge_queues, wait_until
from private_services import FERRETDB_BIN, PrivateDatabase

BEFORE = 120
AFTER = 120
DOWN_SECONDS = 6


@unittest.skipUnless(os.path.exists(FERRETDB_BIN),
                     f"no FerretDB launcher at {FERRETDB_BIN} (the tests run against a real "
                     "MongoDB): set WAVECOM_TEST_FERRETDB_BIN")
class DatabaseRestartTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        self.database = PrivateDatabase()
        self.addCleanup(self.database.close)
        self.database.start()
        self.stack = Stack(workers=2, mongodb_uri=self.database.uri,
                           env={"WAVECOM_PENDING_REPUBLISH_SECONDS": "3",
                                "WAVECOM_SCHEDULER_INTERVAL_MS": "500"})
        self.addCleanup(self.stack.close)
        self.stack.start_api()
        self.stack.start_worker()
        self.tenant, self.key = self.stack.new_tenant_key()

    def health(self):
        r = self.stack.request("GET", "/api/health", timeout=30)
        return r.status, r.json["services"]["mongodb"], r.headers.get("Retry-After")

    def test_database_killed_and_restarted_mid_load(self):
        load = Load(self.stack, self.key, lambda n, i: {
            "type": "EMAIL", "recipient": f"db-{n}-{i}@example.com",
            "subject": f"database restart {n}-{i}", "message": "body"})
        self.addCleanup(load.stopping.set)
        load.start()
        load.wait_accepted(BEFORE)

        self.database.kill()
        killed_at = time.monotonic()
        self.assertEqual(self.health(), (503, "disconnected", "5"))
        wait_until(lambda: load.refused_count() > 0, 30, what="a 503 while the database is down")
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - killed_at)))

        self.database.restart()
        wait_until(lambda: self.health()[0] == 200, 60, interval=0.5,
                   what="the API to report the database connected again")
        load.wait_accepted(AFTER)
        load.stop()

        reconcile(self, self.stack, load,
                  deliveries=lambda ids: {k: len(v) for k, v in mails_for(ids).items()},
                  label="database killed and restarted")
        self.assertIsNone(self.stack.worker.poll(), "the worker master exited")


if __name__ == "__main__":
    unittest.main()
