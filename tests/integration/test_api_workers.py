"""Each worker host reports its circuit breakers to the database, and GET /api/workers shows them:
a breaker opened for real by a failing provider double reads "open", and "closed" again once the
provider recovers and a probe succeeds; a host that stops reporting is shown as stale."""
import datetime
import unittest
import uuid

import providers
from harness import Stack, purge_queues, wait_until
from test_api_openapi import SPEC, validator

REPORT_SECONDS = 1


def parse_ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


class WorkerHostsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        purge_queues()
        providers.reset()
        cls.host_id = "host-" + uuid.uuid4().hex[:8]
        env = providers.worker_env()
        env.update({"WAVECOM_BREAKER_THRESHOLD": "3", "WAVECOM_BREAKER_OPEN_SECONDS": "3",
                    "WAVECOM_WORKER_REPORT_SECONDS": str(REPORT_SECONDS),
                    "WAVECOM_WORKER_ID": cls.host_id})
        cls.stack = Stack(workers=2, env=env)
        cls.stack.start_api()
        cls.stack.start_worker()
        cls.tenant, cls.key = cls.stack.new_tenant_key()
        _, cls.viewer = cls.stack.new_tenant_key(role="viewer")
        cls.schema = validator(
            SPEC["paths"]["/api/workers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"])

    @classmethod
    def tearDownClass(cls):
        providers.reset()
        codes = cls.stack.close()
        assert codes.get("api") == 0 and codes.get("worker") in (0, None), (codes, cls.stack.log("worker"))

    def hosts(self):
        r = self.stack.request("GET", "/api/workers", key=self.viewer)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(self.schema.iter_errors(r.json)), [], r.json)
        return {h["id"]: h for h in r.json["data"]["hosts"]}

    def breaker(self, name):
        host = self.hosts().get(self.host_id)
        if host is None:
            return None
        return next((b for b in host["breakers"] if b["name"] == name), None)

    def wait_state(self, name, state, timeout):
        return wait_until(lambda: (b := self.breaker(name)) is not None and b["state"] == state and b,
                          timeout, interval=0.3, what=f"{name} breaker to read {state}")

    def test_1_the_host_reports_every_provider_closed(self):
        host = wait_until(lambda: self.hosts().get(self.host_id), 30, interval=0.3,
                          what="the worker host's first report")
        self.assertFalse(host["stale"], host)
        self.assertEqual(host["children"], 2)
        self.assertEqual(host["reportIntervalMs"], REPORT_SECONDS * 1000)
        self.assertEqual({b["name"]: b["state"] for b in host["breakers"]},
                         {"smtp": "closed", "smtp2": "closed", "twilio": "closed", "vonage": "closed",
                          "fcm": "closed", "apns": "closed"})
        # One document per host, upserted: later reports replace it, never add another.
        first = parse_ts(host["updatedAt"])
        wait_until(lambda: parse_ts(self.hosts()[self.host_id]["updatedAt"]) > first, 15, interval=0.3,
                   what="a later report")
        self.assertEqual(self.stack.db.worker_hosts.count_documents({}), 1)

    def test_2_a_failing_provider_reads_open_then_closed_after_recovery(self):
        providers.configure("twilio", down=True, failure_kind="503")
        try:
            ids = []
            for i in range(6):
                r = self.stack.request("POST", "/api/notifications", key=self.key,
                                       body={"type": "SMS", "recipient": f"+1415555{2000 + i}",
                                             "message": f"breaker {i}", "maxRetries": 5})
                self.assertEqual(r.status, 201, r)
                ids.append(r.json["data"]["_id"])
            opened = self.wait_state("twilio", "open", 30)
            self.assertIsNotNone(opened["since"])
            self.assertLess(abs((datetime.datetime.now(datetime.timezone.utc) -
                                 parse_ts(opened["since"])).total_seconds()), 60)
            # The other providers' breakers are untouched.
            self.assertEqual(self.breaker("smtp")["state"], "closed")
        finally:
            providers.configure("twilio")
        # The retries come back after their tier; once the open period is over the probe succeeds
        # and closes the breaker, and every notification is delivered.
        for nid in ids:
            self.stack.wait_for_status(self.key, nid, "SENT", timeout=120)
        closed = self.wait_state("twilio", "closed", 15)
        self.assertIsNone(closed["since"])

    def test_3_a_silent_host_is_stale(self):
        wait_until(lambda: self.hosts().get(self.host_id), 30, interval=0.3, what="a report")
        self.assertEqual(self.stack.stop(self.stack.worker), 0, self.stack.log("worker"))
        host = wait_until(lambda: (h := self.hosts()[self.host_id])["stale"] and h, 30, interval=0.3,
                          what="the stopped host to be shown stale")
        self.assertGreater(host["ageMs"], 3 * REPORT_SECONDS * 1000)


if __name__ == "__main__":
    unittest.main()
