"""Retries through the delay tiers, the dead-letter queue, and circuit breakers."""
import base64
import datetime
import json
import time
import unittest
import urllib.request

import bson

import providers
from harness import AMQP_URL, VHOST, close_cleanly, wait_until

MANAGEMENT = "http://127.0.0.1:15672"


def parse_ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def dlq_messages():
    """The dead-letter queue's messages, read back (and requeued) through the management API."""
    vhost = urllib.request.quote(VHOST, safe="")
    req = urllib.request.Request(
        f"{MANAGEMENT}/api/queues/{vhost}/notifications_dlq/get", method="POST",
        data=json.dumps({"count": 1000, "ackmode": "ack_requeue_true", "encoding": "auto"}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


class RetryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            workers=2, WAVECOM_BREAKER_THRESHOLD="3", WAVECOM_BREAKER_OPEN_SECONDS="4")
        cls.prefix = providers.register_tenant_webhooks(cls.stack, cls.tenant, "retry")

    @classmethod
    def tearDownClass(cls):
        providers.reset()
        close_cleanly(cls.stack)

    def create(self, body):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body=body)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def test_transient_twice_then_sent_with_delays_in_tier_bounds(self):
        providers.configure("webhook", fail_first_n=2, failure_kind="503")
        try:
            nid = self.create({"type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + self.prefix + "/a",
                               "message": "m", "payload": {"n": 1}})
            data = self.stack.wait_for_status(self.key, nid, "SENT", timeout=90).json["data"]
        finally:
            providers.configure("webhook")
        self.assertEqual(data["notification"]["retryCount"], 2)
        logs = data["logs"]
        self.assertEqual([e["status"] for e in logs],
                         ["PENDING", "QUEUED", "PROCESSING", "RETRYING", "PROCESSING", "RETRYING",
                          "PROCESSING", "SENT"])
        # Each wait is at least the tier it went to (5 s for the first retry,
        # 5 or 25 s for the second) and not much more.
        for retrying, processing in ((3, 4), (5, 6)):
            waited = (parse_ts(logs[processing]["timestamp"]) - parse_ts(logs[retrying]["timestamp"])).total_seconds()
            tier = int(logs[retrying]["message"].split(" in ")[1].split(" s")[0])
            self.assertIn(tier, (5, 25))
            self.assertGreaterEqual(waited, tier - 0.5, logs)
            self.assertLess(waited, tier + 10, logs)

    def test_always_failing_ends_in_the_dlq_after_max_retries(self):
        path = self.prefix + "/always-down"
        providers.configure("webhook", fail_first_n=1000, failure_kind="500")
        try:
            nid = self.create({"type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + path,
                               "message": "m", "payload": {"n": 2}, "maxRetries": 1})
            data = self.stack.wait_for_status(self.key, nid, "FAILED", timeout=60).json["data"]
        finally:
            providers.configure("webhook")
        n = data["notification"]
        self.assertEqual(n["retryCount"], 1)
        self.assertIn("HTTP 500", n["error"])
        self.assertIn("failedAt", n)
        messages = wait_until(lambda: [m for m in dlq_messages() if nid in m["payload"]], 30,
                              interval=1, what="the DLQ message")
        headers = messages[0]["properties"]["headers"]
        self.assertEqual(headers["x-wavecom-attempts"], "2")
        self.assertIn("HTTP 500", headers["x-wavecom-reason"])
        self.assertIn("x-wavecom-failed-at", headers)

    def test_permanent_error_goes_to_the_dlq_at_once(self):
        nid = self.create({"type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + f"/gone/{self.tenant}/x",
                           "message": "m", "payload": {"n": 3}})
        data = self.stack.wait_for_status(self.key, nid, "FAILED", timeout=30).json["data"]
        self.assertEqual(data["notification"]["retryCount"], 0)
        self.assertNotIn("RETRYING", [e["status"] for e in data["logs"]])
        wait_until(lambda: [m for m in dlq_messages() if nid in m["payload"]], 30, interval=1,
                   what="the DLQ message")

    def test_breaker_opens_stops_calls_and_recovers(self):
        providers.configure("twilio", down=True, failure_kind="503")
        before = providers.stats()["twilio"]["received"]
        ids = [self.create({"type": "SMS", "recipient": f"+1415555{1000 + i}", "message": f"b{i}",
                            "maxRetries": 5}) for i in range(20)]
        # Let the first attempts fail and the breaker open, then count calls while it is open.
        time.sleep(2)
        during = providers.stats()["twilio"]["received"] - before
        self.assertLessEqual(during, 3 + 2, f"{during} calls reached a provider behind an open breaker")
        not_attempted = len(self.stack.db.notification_logs.distinct(
            "notificationId", {"notificationId": {"$in": [bson.ObjectId(i) for i in ids]},
                               "message": {"$regex": "circuit breaker open"}}))
        self.assertGreater(not_attempted, 0)
        providers.configure("twilio")
        for nid in ids:
            self.stack.wait_for_status(self.key, nid, "SENT", timeout=120)
        log = self.stack.log("worker")
        self.assertIn("circuit breaker open", log)


if __name__ == "__main__":
    unittest.main()
