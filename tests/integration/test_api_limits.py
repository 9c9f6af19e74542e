"""Rate limits per tenant and per API key, the global ceiling that sheds
non-CRITICAL work first, and the in-flight quota that keeps one tenant's flood
from delaying another tenant's CRITICAL notifications. Limits are small and
configured; nothing here times the service."""
import subprocess
import time
import unittest

from api_support import started, email, post
from harness import CTL_BIN, Stack, StackTestCase, close_cleanly, purge_queues, wait_until


def rate_headers(test, r):
    for name in ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        test.assertIsNotNone(r.headers.get(name), (name, r.headers))
    test.assertGreaterEqual(int(r.headers["Retry-After"]), 1)


class RateLimitTest(StackTestCase):
    # Every key: 4 requests/s; tenants: no default limit, their own where set.
    ENV = {"WAVECOM_RATE_KEY_RPS": "4"}

    def tenant_with_keys(self, n, *limits):
        tenant, key = self.stack.new_tenant_key(role="sender")
        keys = [key] + [self.stack.ctl("apikey", "create", "--tenant", tenant).stdout.strip()
                        for _ in range(n - 1)]
        if limits:
            self.stack.ctl("tenant", "limits", tenant, *limits)
        return tenant, keys

    def list_(self, key):
        return self.stack.request("GET", "/api/notifications?limit=1", key=key)

    def test_api_key_requests_per_second_then_recovery(self):
        _, (k1, k2) = self.tenant_with_keys(2)
        statuses = [self.list_(k1).status for _ in range(12)]
        self.assertIn(429, statuses)
        self.assertLessEqual(statuses.count(200), 4 + 2, statuses)  # the burst and a little refill
        r = self.list_(k1)
        self.assertEqual(r.status, 429)
        self.assertIn("API key", r.json["message"])
        rate_headers(self, r)
        self.assertEqual(r.headers["RateLimit-Limit"], "4")
        # The other key of the same tenant is untouched.
        self.assertEqual(self.list_(k2).status, 200)
        time.sleep(int(r.headers["Retry-After"]) + 0.3)
        self.assertEqual(self.list_(k1).status, 200)

    def test_tenant_requests_per_second_across_its_keys(self):
        _, keys = self.tenant_with_keys(3, "--rps", "3")
        statuses = [self.list_(keys[i % 3]).status for i in range(9)]
        self.assertIn(429, statuses)
        self.assertLessEqual(statuses.count(200), 3 + 2, statuses)
        r = self.list_(keys[0])
        self.assertEqual(r.status, 429)
        self.assertIn("tenant", r.json["message"])
        rate_headers(self, r)
        self.assertEqual(r.headers["RateLimit-Limit"], "3")
        time.sleep(int(r.headers["Retry-After"]) + 0.3)
        self.assertEqual(self.list_(keys[1]).status, 200)

    def test_tenant_notifications_per_second(self):
        _, (key,) = self.tenant_with_keys(1, "--nps", "5")
        batch = self.stack.request("POST", "/api/notifications/batch", key=key,
                                   body={"notifications": [email() for _ in range(5)]})
        self.assertEqual(batch.status, 201, batch)
        r = post(self.stack, key, email())
        self.assertEqual(r.status, 429, r)
        self.assertIn("notifications per second", r.json["message"])
        rate_headers(self, r)
        self.assertEqual(r.headers["RateLimit-Limit"], "5")
        # Refused means not written.
        self.assertEqual(self.stack.db.notifications.count_documents(
            {"recipient": r.json and "nobody"}), 0)
        time.sleep(int(r.headers["Retry-After"]) + 0.3)
        self.assertEqual(post(self.stack, key, email()).status, 201)

    def test_in_flight_quota(self):
        tenant, (key,) = self.tenant_with_keys(1, "--in-flight", "3")
        codes = []
        for _ in range(4):
            codes.append(post(self.stack, key, email()).status)
            time.sleep(0.3)  # the key's 4 requests/s
        self.assertEqual(codes, [201, 201, 201, 429])
        self.assertEqual(self.stack.db.notifications.count_documents({"tenantId": tenant}), 3)
        # One settles (an operator cancels it: a real change, counted like every other one):
        # room for one more (the count is re-read within half a second).
        nid = str(self.stack.db.notifications.find_one({"tenantId": tenant})["_id"])
        subprocess.run([CTL_BIN, "notification", "cancel", nid], env=self.stack.env, check=True,
                       capture_output=True, timeout=60)
        time.sleep(1.1)
        self.assertEqual(post(self.stack, key, email()).status, 201)
        time.sleep(0.3)
        self.assertEqual(post(self.stack, key, email()).status, 429)


class GlobalCeilingTest(StackTestCase):
    """Over the ceiling, non-CRITICAL work is shed with 503 while CRITICAL is taken."""

    ENV = {"WAVECOM_RATE_GLOBAL_NPS": "3"}

    def test_sheds_standard_keeps_critical(self):
        batch = self.stack.request("POST", "/api/notifications/batch", key=self.key,
                                   body={"notifications": [email(priority="LOW") for _ in range(3)]})
        self.assertEqual(batch.status, 201, batch)
        shed = post(self.stack, self.key, email(priority="MEDIUM"))
        self.assertEqual(shed.status, 503, shed)
        self.assertGreaterEqual(int(shed.headers["Retry-After"]), 1)
        for _ in range(3):
            self.assertEqual(post(self.stack, self.key, email(priority="CRITICAL")).status, 201)
        self.assertEqual(post(self.stack, self.key, email(priority="HIGH")).status, 503)
        # A batch at the ceiling: its CRITICAL items are taken, the others refused one by one.
        mixed = self.stack.request("POST", "/api/notifications/batch", key=self.key, body={
            "notifications": [email(priority="CRITICAL"), email(priority="LOW"),
                              email(priority="CRITICAL")]})
        self.assertEqual(mixed.status, 207, mixed)
        self.assertEqual([r["code"] for r in mixed.json["data"]["results"]], [201, 503, 201])
        self.assertGreaterEqual(int(mixed.headers["Retry-After"]), 1)
        time.sleep(2.5)
        self.assertEqual(post(self.stack, self.key, email(priority="MEDIUM")).status, 201)


class FairnessTest(unittest.TestCase):
    """Tenant A floods CRITICAL work; tenant B's CRITICAL notification waits
    behind at most A's in-flight quota, not behind the flood."""

    QUOTA = 5
    FLOOD = 40

    def setUp(self):
        purge_queues()
        self.stack = started(Stack(workers=1, env={
            "WAVECOM_TENANT_MAX_IN_FLIGHT": str(self.QUOTA)}))

    def tearDown(self):
        close_cleanly(self.stack)

    def test_flood_cannot_delay_another_tenants_critical(self):
        a_tenant, a_key = self.stack.new_tenant_key(role="sender")
        b_tenant, b_key = self.stack.new_tenant_key(role="sender")
        # No worker yet: nothing drains while A floods, so what A got in is
        # exactly what B's notification would have to wait behind.
        codes = [post(self.stack, a_key, email(priority="CRITICAL", subject=f"flood {i}")).status
                 for i in range(self.FLOOD)]
        self.assertEqual(codes.count(201), self.QUOTA, codes)
        self.assertEqual(codes.count(429), self.FLOOD - self.QUOTA, codes)
        b = post(self.stack, b_key, email(priority="CRITICAL", subject="B's urgent one"))
        self.assertEqual(b.status, 201, b)
        b_id = b.json["data"]["_id"]

        self.stack.start_worker()
        self.stack.wait_for_status(b_key, b_id, "SENT", timeout=60)
        from bson import ObjectId
        b_sent = self.stack.db.notifications.find_one({"_id": ObjectId(b_id)})["sentAt"]
        ahead = self.stack.db.notifications.count_documents(
            {"tenantId": a_tenant, "status": "SENT", "sentAt": {"$lt": b_sent}})
        self.assertLessEqual(ahead, self.QUOTA)
        self.assertEqual(self.stack.db.notifications.count_documents({"tenantId": a_tenant}),
                         self.QUOTA)
        # A's accepted work is delivered too.
        wait_until(lambda: self.stack.db.notifications.count_documents(
            {"tenantId": a_tenant, "status": "SENT"}) == self.QUOTA, 60, what="A's notifications")


if __name__ == "__main__":
    unittest.main()
