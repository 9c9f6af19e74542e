"""A RabbitMQ memory alarm (publishes blocked) mid-load: 503 instead of 201, then recovery.

The test raises the memory alarm of its own RabbitMQ node (private_services.py)
by dropping the memory high watermark far below what the node uses. The broker
then stops reading publishes; the API hears connection.blocked and answers 503
with Retry-After at once rather than holding each request to the confirm
timeout, and /api/health reports RabbitMQ "blocked". No request started once
the alarm is in force gets a 201: nothing is confirmed then. When the alarm
clears the API accepts again, and every 201 is delivered once.
"""
import time
import unittest

from fault_support import Load, reconcile
from harness import Stack, mails_for, wait_until
from private_services import PrivateRabbitMQ

BEFORE = 80
AFTER = 80
ALARM_SECONDS = 8


class BrokerAlarmTest(unittest.TestCase):
    def setUp(self):
        self.rabbit = PrivateRabbitMQ()
        self.addCleanup(self.rabbit.close)
        self.rabbit.start()
        self.stack = Stack(workers=2, amqp_url=self.rabbit.url,
                           env={"WAVECOM_PENDING_REPUBLISH_SECONDS": "3",
                                "WAVECOM_SCHEDULER_INTERVAL_MS": "500"})
        self.addCleanup(self.stack.close)
        self.stack.start_api()
        self.stack.start_worker()
        self.tenant, self.key = self.stack.new_tenant_key()

    def health(self):
        r = self.stack.request("GET", "/api/health", timeout=30)
        return r.status, r.json["services"]["rabbitmq"]

    def test_memory_alarm_blocks_publishes(self):
        load = Load(self.stack, self.key, lambda n, i: {
            "type": "EMAIL", "recipient": f"alarm-{n}-{i}@example.com",
            "subject": f"memory alarm {n}-{i}", "message": "body"})
        self.addCleanup(load.stopping.set)
        self.addCleanup(lambda: self.rabbit.proc.poll() is None and
                        self.rabbit.set_memory_alarm(False))
        load.start()
        load.wait_accepted(BEFORE)

        self.rabbit.set_memory_alarm(True)
        alarm_on = time.monotonic()
        refused_before = load.refused_count()
        wait_until(lambda: load.refused_count() > refused_before, 30,
                   what="a 503 once publishes are blocked")
        first_refusal = time.monotonic()
        wait_until(lambda: self.health() == (503, "blocked"), 10, interval=0.2,
                   what="/api/health to report RabbitMQ blocked")
        time.sleep(max(0.0, ALARM_SECONDS - (time.monotonic() - alarm_on)))
        alarm_off = time.monotonic()
        self.rabbit.set_memory_alarm(False)

        # Nothing started once the API was refusing, and answered before the
        # alarm cleared, got a 201.
        with load.lock:
            during = [nid for nid, started, ended in load.accepted
                      if started > first_refusal and ended < alarm_off]
        self.assertEqual(during, [], "201 while publishes were blocked")
        self.assertGreater(load.refused_count(), refused_before)

        load.wait_accepted(AFTER, timeout=60)
        load.stop()
        wait_until(lambda: self.health()[0] == 200, 30, interval=0.5,
                   what="/api/health healthy once the alarm cleared")
        reconcile(self, self.stack, load,
                  deliveries=lambda ids: {k: len(v) for k, v in mails_for(ids).items()},
                  label="RabbitMQ memory alarm")


if __name__ == "__main__":
    unittest.main()
