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
import unittest

from fault_support import kill_and_restart_mid_load, needs_ferretdb, private_database, start_stack
from harness import purge_queues


@needs_ferretdb
class DatabaseRestartTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        self.database = private_database(self)
        start_stack(self, mongodb_uri=self.database.uri)

    def test_database_killed_and_restarted_mid_load(self):
        kill_and_restart_mid_load(self, "mongodb", self.database.kill, self.database.restart,
                                  "database killed and restarted", refused_within=30)


if __name__ == "__main__":
    unittest.main()
