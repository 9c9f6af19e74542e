"""kill -9 of the API between a group commit's insert and its broker confirms, 20 times, loses
nothing (docs/ARCHITECTURE.md §3.2).

A commit inserts its notifications already QUEUED, named by one outbox record, then publishes
them and deletes the record once the broker has confirmed every publish. To cut commits exactly
in that window the test runs its own RabbitMQ node and freezes it (SIGSTOP) under load: the API
inserts the commit's documents, then waits for confirms that cannot come. It is then killed with
SIGKILL, the broker resumed and the API started again. The sweeper finds each record left open
once it is older than WAVECOM_PENDING_REPUBLISH_SECONDS and publishes its notifications again;
the worker's claim lets one delivery of each through. Every notification that got a 201, and
every one stored by a cut-off request, must be delivered exactly once (counted from the SMTP
catcher's Maildir), and no outbox record may stay open.
"""
import os
import signal
import unittest

from fault_support import Load, mail_deliveries, private_rabbitmq, reconcile, start_stack
from harness import mails_for, wait_until

KILLS = 20


class OutboxKillTest(unittest.TestCase):
    def setUp(self):
        self.rabbit = private_rabbitmq(self)
        start_stack(self, env={"WAVECOM_SCHEDULER_INTERVAL_MS": "200"}, amqp_url=self.rabbit.url)

    def freeze_broker(self, frozen):
        os.killpg(self.rabbit.proc.pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    def open_commit_with_documents(self):
        """An outbox record at least one of whose notifications is stored: a commit cut between
        its insert and its confirms."""
        for record in self.stack.db.outbox.find({}):
            if self.stack.db.notifications.count_documents({"_id": {"$in": record["ids"]}}) > 0:
                return record
        return None

    def test_kill_9_api_between_insert_and_confirms(self):
        load = Load.emails(self, "outbox", clients=4, timeout=5)
        cut = 0
        for _ in range(KILLS):
            load.wait_accepted(5)
            self.freeze_broker(True)
            try:
                record = wait_until(self.open_commit_with_documents, 20, interval=0.1,
                                    what="a commit stored and waiting for its confirms")
                cut += 1 if record is not None else 0
                api = self.stack.api
                os.kill(api.pid, signal.SIGKILL)
                self.assertEqual(api.wait(timeout=10), -signal.SIGKILL)
            finally:
                self.freeze_broker(False)
            self.stack.start_api()
        load.wait_accepted(20)
        load.stop()

        result = reconcile(self, self.stack, load, mail_deliveries,
                           "API killed 20 times between insert and confirms", timeout=240)
        # The cut-off requests' notifications were stored and are delivered too, once each.
        stored = {str(d["_id"]) for d in self.stack.db.notifications.find({}, {"_id": 1})}
        mails = wait_until(lambda: (lambda m: m if len(m) == len(stored) else None)(
            mails_for(stored)), 60, what="a mail for every stored notification")
        twice = {nid: len(m) for nid, m in mails.items() if len(m) > 1}
        self.assertEqual(twice, {}, "a notification was mailed twice")
        wait_until(lambda: self.stack.db.outbox.count_documents({}) == 0, 30, interval=0.5,
                   what="every outbox record closed")
        self.assertEqual(cut, KILLS)
        print(f"outbox: {KILLS} kills, each with a commit stored and unconfirmed; "
              f"{len(stored) - len(result['sent'])} notifications stored without a 201 and "
              f"delivered by the sweeper; duplicates 0 (republished copies dropped by the claim)",
              flush=True)


if __name__ == "__main__":
    unittest.main()
