"""RabbitMQ killed and started again in the middle of a steady load loses nothing.

The test runs its own RabbitMQ node (private_services.py) and kills it with
SIGKILL while clients submit and workers deliver. While it is down the API
answers 503 with Retry-After and /api/health names RabbitMQ; the API and the
worker reconnect by themselves once it is back (topology declared again,
confirms re-enabled, consumers subscribed again). Every 201 is delivered once:
it was stored and confirmed by the broker before the answer, and confirmed
messages survive the crash on disk.
"""
import unittest

from fault_support import kill_and_restart_mid_load, private_rabbitmq, start_stack


class BrokerRestartTest(unittest.TestCase):
    def setUp(self):
        self.rabbit = private_rabbitmq(self)
        start_stack(self, amqp_url=self.rabbit.url)

    def test_rabbitmq_killed_and_restarted_mid_load(self):
        kill_and_restart_mid_load(self, "rabbitmq", self.rabbit.kill, self.rabbit.start,
                                  "RabbitMQ killed and restarted")


if __name__ == "__main__":
    unittest.main()
