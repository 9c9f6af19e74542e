"""RabbitMQ killed and started again in the middle of a steady load loses nothing.

The test runs its own RabbitMQ node (private_services.py) and kills it with
SIGKILL while clients submit and workers deliver. While it is down the API
answers 503 with Retry-After and /api/health names RabbitMQ; the API and the
worker reconnect by themselves once it is back (topology declared again,
confirms re-enabled, consumers subscribed again). Every 201 is delivered once:
it was stored and confirmed by the broker before the answer, and confirmed
messages survive the crash on disk.
"""
import time
import unittest

from fault_support import Load, reconcile
from harness import Stack, mails_for, wait_until
from private_services import PrivateRabbitMQ

BEFORE = 120
AFTER = 120
DOWN_SECONDS = 6


class BrokerRestartTest(unittest.TestCase):
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
        return r.status, r.json["services"]["rabbitmq"], r.headers.get("Retry-After")

    def test_rabbitmq_killed_and_restarted_mid_load(self):
        load = Load(self.stack, self.key, lambda n, i: {
            "type": "EMAIL", "recipient": f"rmq-{n}-{i}@example.com",
            "subject": f"broker restart {n}-{i}", "message": "body"})
        self.addCleanup(load.stopping.set)
        load.start()
        load.wait_accepted(BEFORE)

        self.rabbit.kill()
        killed_at = time.monotonic()
        self.assertEqual(self.health(), (503, "disconnected", "5"))
        wait_until(lambda: load.refused_count() > 0, 20, what="a 503 while RabbitMQ is down")
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - killed_at)))

        self.rabbit.start()
        wait_until(lambda: self.health()[0] == 200, 60, interval=0.5,
                   what="the API to report RabbitMQ connected again")
        load.wait_accepted(AFTER)
        load.stop()

        reconcile(self, self.stack, load,
                  deliveries=lambda ids: {k: len(v) for k, v in mails_for(ids).items()},
                  label="RabbitMQ killed and restarted")
        # The worker came back by itself: it delivered what was accepted after the restart.
        self.assertIsNone(self.stack.worker.poll(), "the worker master exited")


if __name__ == "__main__":
    unittest.main()
