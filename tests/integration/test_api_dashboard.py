"""The operator dashboard's routes on a real API and worker pool: the embedded page and its files
(types, caching, Content-Security-Policy), GET /api/me, the throughput series, the DLQ list and
replay (roles, tenants, bad input, a real dead letter replayed to SENT).

A webhook to a path with no signing secret registered at the receiver double fails with 401, a
permanent failure: with maxRetries 0 it goes straight to FAILED and the DLQ. Registering the
tenant's secret for that path then lets the replay deliver it.
"""
import re
import unittest
import uuid

import bson

import providers
from api_support import call, email, started
from harness import Stack, close_cleanly, purge_queues, wait_until


class DashboardRoutesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        purge_queues()
        env = providers.worker_env()
        env["WAVECOM_API_STATS_CACHE_SECONDS"] = "0"
        cls.stack = started(Stack(workers=1, env=env), worker=True)
        cls.tenant, cls.admin = cls.stack.new_tenant_key(role="admin")
        cls.operator = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant, "--role", "operator").stdout.strip()
        cls.sender = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant, "--role", "sender").stdout.strip()
        cls.viewer = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant, "--role", "viewer").stdout.strip()
        cls.secret = cls.stack.db.tenants.find_one({"_id": cls.tenant})["webhookSecret"]
        cls.other_tenant, cls.other = cls.stack.new_tenant_key(role="admin")

    @classmethod
    def tearDownClass(cls):
        purge_queues()
        close_cleanly(cls.stack)

    def get(self, path, key=None, **kw):
        return call(self.stack, "GET", path, key=key or self.admin, **kw)

    def replay(self, body, key=None):
        return call(self.stack, "POST", "/api/dlq/replay", body=body, key=key or self.admin)

    def dead_letter(self, key, prefix):
        r = call(self.stack, "POST", "/api/notifications", key=key, body={
            "type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + prefix + "/0", "message": "m",
            "payload": {"n": 1}, "maxRetries": 0})
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        self.stack.wait_for_status(key, nid, "FAILED", timeout=60)
        return nid

    # -- the page and its files --

    def test_page_and_files_are_served_with_their_types_and_policy(self):
        page = call(self.stack, "GET", "/")
        self.assertEqual(page.status, 200, page)
        self.assertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        csp = page.header("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(page.header("X-Frame-Options"), "DENY")
        self.assertEqual(page.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(page.header("Cache-Control"), "private, no-cache")
        # Every file the page names is served, with the type its name says.
        names = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
        self.assertIn("/assets/app.js", names)
        types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml"}
        for name in names + ["/assets/api.js", "/assets/overview.js", "/assets/dlq.js"]:
            r = call(self.stack, "GET", name)
            self.assertEqual(r.status, 200, name)
            self.assertEqual(r.header("Content-Type"), types[name[name.rindex("."):]], name)
            self.assertIsNotNone(r.header("Content-Security-Policy"), name)
            # Revalidation is cheap: the ETag answers 304 with no body.
            again = call(self.stack, "GET", name, headers={"If-None-Match": r.header("ETag")})
            self.assertEqual((again.status, again.raw), (304, b""), name)
        # No inline script or style: the policy would refuse it.
        self.assertNotRegex(page.text, r"<script>|<style|style=")

    def test_unknown_files_and_paths_are_404(self):
        for path in ("/assets/nothing.js", "/assets/../api/health", "/assets/", "/index.html"):
            r = call(self.stack, "GET", path)
            self.assertEqual(r.status, 404, (path, r))
        self.assertEqual(call(self.stack, "POST", "/").status, 405)
        self.assertEqual(call(self.stack, "GET", "/?x=1").status, 400)

    # -- who am I --

    def test_me_names_the_keys_tenant_and_role(self):
        for key, role in ((self.admin, "admin"), (self.viewer, "viewer")):
            r = self.get("/api/me", key=key)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["data"], {"tenantId": self.tenant, "role": role})
        self.assertEqual(call(self.stack, "GET", "/api/me").status, 401)
        self.assertEqual(self.get("/api/me", key="wck_" + "0" * 48).status, 401)

    # -- throughput --

    def test_throughput_counts_this_hours_notifications(self):
        _, key = self.stack.new_tenant_key(role="sender")
        ids = []
        for _ in range(3):
            r = call(self.stack, "POST", "/api/notifications", key=key,
                     body=email(recipient=f"tp-{uuid.uuid4().hex[:8]}@example.com"))
            self.assertEqual(r.status, 201, r)
            ids.append(r.json["data"]["_id"])
        for nid in ids:
            self.stack.wait_for_status(key, nid, "SENT", timeout=60)
        # The worker writes what it counted about once a second (docs/ARCHITECTURE.md §3.3).
        r = wait_until(lambda: (lambda r: r if sum(r.json["data"]["sent"]) == 3 else None)(
            self.get("/api/notifications/stats/throughput", key=key)), 10, interval=0.3,
            what="the three SENT in the throughput counters")
        self.assertEqual(r.status, 200, r)
        data = r.json["data"]
        self.assertEqual(len(data["created"]), 60)
        self.assertEqual(sum(data["created"]), 3)
        self.assertEqual(sum(data["sent"]), 3)
        self.assertEqual(sum(data["failed"]), 0)
        self.assertFalse(data["truncated"])
        # Processing times come from the same counters: the average exact, each
        # percentile within one bucket (a ratio of 2^(1/8)) of the stored times' own.
        stored = sorted(self.stack.db.notifications.find_one({"_id": bson.ObjectId(nid)})[
            "processingTimeMs"] for nid in ids)
        times = data["processingTime"]
        self.assertEqual(times["count"], 3)
        self.assertEqual(times["averageMs"], int(sum(stored) / 3 + 0.5))
        width = 2 ** (1 / 8)
        for pct, name in ((50, "p50Ms"), (95, "p95Ms"), (99, "p99Ms")):
            want = stored[-(-3 * pct // 100) - 1]
            self.assertGreaterEqual(times[name], int(want / width), (name, stored, times))
            self.assertLessEqual(times[name], int(want * width) + 1, (name, stored, times))
        stats = self.get("/api/notifications/stats/system", key=key).json["data"]
        self.assertEqual(stats["averageProcessingTime"], times["averageMs"])
        # Another tenant's notifications are not in it.
        other = self.get("/api/notifications/stats/throughput", key=self.other).json["data"]
        self.assertEqual(sum(other["created"]), 0)
        self.assertEqual(self.get("/api/notifications/stats/throughput?x=1").status, 400)

    # -- the DLQ --

    def test_dead_letter_listed_with_reason_and_replayed_to_sent(self):
        prefix = f"/dash-{uuid.uuid4().hex[:10]}"
        nid = self.dead_letter(self.sender, prefix)
        # The list walks the stats counters, which the worker writes about once a second
        # (docs/ARCHITECTURE.md §3.3): the FAILED it recorded shows within that.
        listed = wait_until(lambda: (lambda r: r if nid in {n["_id"] for n in r.json["data"][
            "notifications"]} else None)(self.get("/api/dlq")), 10, interval=0.2,
            what="the dead-lettered notification in the DLQ list")
        self.assertEqual(listed.status, 200, listed)
        items = {n["_id"]: n for n in listed.json["data"]["notifications"]}
        self.assertIn(nid, items)
        self.assertIn("401", items[nid]["error"])
        self.assertTrue(all(n["status"] == "FAILED" for n in items.values()))
        self.assertEqual(self.get("/api/dlq?type=SMS").json["data"]["notifications"], [])
        # Other tenants see none of it, and cannot replay it.
        self.assertNotIn(nid, [n["_id"] for n in self.get("/api/dlq", key=self.other).json["data"]["notifications"]])
        r = self.replay({"ids": [nid]}, key=self.other)
        self.assertEqual(r.json["data"]["results"], [{"id": nid, "outcome": "not_found", "status": None}])
        # Senders and viewers may not replay.
        for key in (self.sender, self.viewer):
            self.assertEqual(self.replay({"ids": [nid]}, key=key).status, 403)
        self.assertEqual(self.stack.get(self.admin, nid).json["data"]["notification"]["status"], "FAILED")

        providers.register_webhook_secret(prefix, self.secret)
        r = self.replay({"ids": [nid]}, key=self.operator)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"], {"replayed": 1, "results": [
            {"id": nid, "outcome": "replayed", "status": "QUEUED"}]})
        done = self.stack.wait_for_status(self.admin, nid, "SENT", timeout=60).json["data"]
        self.assertEqual(done["notification"]["retryCount"], 0)
        trail = [(e["status"], e["actor"]) for e in done["logs"]]
        # After the failure: reopened by the operator's key (FAILED -> PENDING), then queued.
        failed_at = [s for s, _ in trail].index("FAILED")
        after = trail[failed_at + 1:]
        self.assertEqual(after[0][0], "PENDING", trail)
        self.assertTrue(after[0][1].startswith("api:key:"), trail)
        self.assertIn("QUEUED", [s for s, _ in after])
        self.assertEqual([s for s, _ in trail][-1], "SENT")
        # A second replay changes nothing.
        again = self.replay({"ids": [nid]})
        self.assertEqual(again.json["data"], {"replayed": 0, "results": [
            {"id": nid, "outcome": "not_failed", "status": "SENT"}]})
        self.assertNotIn(nid, [n["_id"] for n in self.get("/api/dlq").json["data"]["notifications"]])

    def test_replay_keeping_attempts(self):
        prefix = f"/dash-keep-{uuid.uuid4().hex[:10]}"
        nid = self.dead_letter(self.admin, prefix)
        before = self.stack.db.notifications.find_one({"_id": bson.ObjectId(nid)})["retryCount"]
        r = self.replay({"ids": [nid], "keepAttempts": True})
        self.assertEqual(r.json["data"]["replayed"], 1, r)
        # The receiver still refuses it: it fails again, its attempts kept and counted on.
        doc = self.stack.wait_for_status(self.admin, nid, "FAILED", timeout=60).json["data"]
        self.assertGreaterEqual(doc["notification"]["retryCount"], before)
        self.assertIn("attempts kept", " ".join(e.get("message", "") for e in doc["logs"]))

    def test_bad_replay_bodies_name_the_field(self):
        cases = [
            ({}, ("ids", "required")),
            ({"ids": []}, ("ids", "length")),
            ({"ids": "x"}, ("ids", "type")),
            ({"ids": ["zz"]}, ("ids[0]", "objectid")),
            ({"ids": ["0" * 24, "0" * 24]}, ("ids[1]", "duplicate")),
            ({"ids": ["0" * 24] + [f"{i:024x}" for i in range(1, 101)]}, ("ids", "length")),
            ({"ids": ["0" * 24], "keepAttempts": "yes"}, ("keepAttempts", "type")),
            ({"ids": ["0" * 24], "all": True}, ("all", "unknown")),
            ([], ("body", "type")),
        ]
        for body, expected in cases:
            r = self.replay(body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(expected, [(e["field"], e["rule"]) for e in r.json["errors"]], body)
        r = call(self.stack, "POST", "/api/dlq/replay", raw=b"{", key=self.admin,
                 headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        r = call(self.stack, "POST", "/api/dlq/replay", raw=b"{}", key=self.admin,
                 headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        self.assertEqual(self.get("/api/dlq?limit=0").status, 400)
        self.assertEqual(self.get("/api/dlq?type=FAX").status, 400)
        self.assertEqual(self.get("/api/dlq?status=SENT").status, 400)
        self.assertEqual(call(self.stack, "GET", "/api/dlq").status, 401)


if __name__ == "__main__":
    unittest.main()
