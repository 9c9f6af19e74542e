"""A RabbitMQ memory alarm (publishes blocked) mid-load: 503 instead of 201, then recovery.

The test raises the memory alarm of its own RabbitMQ node (private_services.py)
by dropping the memory high watermark far below what the node uses. The broker
then stops reading publishes; the API hears connection.blocked and answers 503
with Retry-After at once rather than holding each request to the confirm
timeout, and /api/health reports RabbitMQ "blocked". No request started once
the alarm is in force gets a 201: nothing is confirmed then. When the alarm
clears the API accepts again, and every 201 is delivered once.

A publish too large for the socket buffers meets a broker that stopped
reading before any connection.blocked can be read: the write itself stalls.
The kernel ends that connection (TCP_USER_TIMEOUT, twice the 10 s broker
timeout), so the publisher fails in bounded time instead of hanging.
"""
import os
import signal
import subprocess
import time
import unittest

from fault_support import Load, health, mail_deliveries, private_rabbitmq, reconcile, start_stack
from harness import BUILD_DIR, Stack, wait_until

PUBLISH_RAW = os.path.join(BUILD_DIR, "tests", "publish_raw")

BEFORE = 80
AFTER = 80
ALARM_SECONDS = 8


class BrokerAlarmTest(unittest.TestCase):
    def setUp(self):
        self.rabbit = private_rabbitmq(self)
        self.addCleanup(lambda: self.rabbit.proc.poll() is None and
                        self.rabbit.set_memory_alarm(False))

    def health(self):
        return health(self.stack, "rabbitmq")[:2]

    def test_memory_alarm_blocks_publishes(self):
        start_stack(self, amqp_url=self.rabbit.url)
        load = Load.emails(self, "alarm")
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
        reconcile(self, self.stack, load, deliveries=mail_deliveries, label="RabbitMQ memory alarm")


    def test_publish_stalled_by_a_blocked_broker_fails_in_bounded_time(self):
        env = dict(os.environ, WAVECOM_AMQP_URL=self.rabbit.url)
        self.rabbit.set_memory_alarm(True)
        started = time.monotonic()
        try:
            result = subprocess.run([PUBLISH_RAW, "notifications", "-"], env=env,
                                    input=b"x" * (64 << 20), capture_output=True, timeout=90)
        except subprocess.TimeoutExpired:
            self.fail("a publish to a broker that stopped reading hung")
        took = time.monotonic() - started
        self.assertNotEqual(result.returncode, 0, "a blocked publish was reported confirmed")
        self.assertIn(b"not confirmed", result.stderr)
        print(f"\nblocked 64 MiB publish failed after {took:.1f} s", flush=True)


class BrokerFrozenTest(unittest.TestCase):
    """A broker that stops answering altogether (SIGSTOP): a create waits at most
    WAVECOM_PUBLISH_TIMEOUT_SECONDS for the broker, its reconnect and second attempt
    included, then answers 503 with Retry-After (docs/API.md). Two attempts of a full
    timeout each used to hold the client twice as long."""

    BOUND_SECONDS = 4

    def setUp(self):
        self.rabbit = private_rabbitmq(self)
        self.stack = Stack(workers=1, amqp_url=self.rabbit.url,
                           env={"WAVECOM_PUBLISH_TIMEOUT_SECONDS": str(self.BOUND_SECONDS)})
        self.addCleanup(self.stack.close)
        self.stack.start_api()
        self.tenant, self.key = self.stack.new_tenant_key()

    def test_a_frozen_broker_holds_a_create_at_most_the_publish_bound(self):
        r = self.stack.create_email(self.key, "frozen-0@example.com", "before", "body")
        self.assertEqual(r.status, 201, r)
        os.killpg(self.rabbit.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: os.killpg(self.rabbit.proc.pid, signal.SIGCONT))
        started = time.monotonic()
        r = self.stack.create_email(self.key, "frozen-1@example.com", "frozen", "body")
        took = time.monotonic() - started
        print(f"\ncreate with the broker frozen: {r.status} after {took:.1f} s "
              f"(bound {self.BOUND_SECONDS} s)", flush=True)
        self.assertEqual(r.status, 503, r)
        self.assertTrue(r.headers.get("Retry-After"))
        # The bound, plus the database insert and the request's own handling.
        self.assertLess(took, self.BOUND_SECONDS + 2.5)


if __name__ == "__main__":
    unittest.main()
