"""The reads: GET /api/notifications/:id, the list with pagination and
filters, system statistics, health and metrics; ETags and gzip on GETs."""
import datetime
import gzip
import re
import subprocess
import time
import unittest

from bson import ObjectId

from api_support import call, email, field_rules, post, push, sms, wait_for, webhook
from harness import CTL_BIN, StackTestCase

UTC = datetime.timezone.utc


def iso(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class ReadsTest(StackTestCase):
    """No worker: statuses stay where the API (or the test) put them."""

    ENV = {"WAVECOM_API_STATS_CACHE_SECONDS": "3"}
    ROLE = "operator"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_tenant, cls.other_key = cls.stack.new_tenant_key(role="admin")
        _, cls.viewer = cls.stack.new_tenant_key(role="viewer")
        # 25 notifications, one at a time so that createdAt orders them.
        makers = [lambda: email(priority="HIGH"), lambda: sms(priority="LOW"),
                  lambda: push(priority="CRITICAL"), lambda: webhook(), lambda: sms()]
        cls.ids = []
        cls.bodies = []
        for i in range(25):
            body = makers[i % 5]()
            r = post(cls.stack, cls.key, body)
            assert r.status == 201, r
            cls.ids.append(r.json["data"]["_id"])
            cls.bodies.append(body)
            time.sleep(0.002)

    def get(self, path, key=None, headers=None):
        return call(self.stack, "GET", path, key=key or self.key, headers=headers)

    # -- GET /api/notifications/:id --

    def test_get_has_the_document_and_its_trail_newest_last(self):
        nid = self.ids[3]
        r = self.get(f"/api/notifications/{nid}")
        self.assertEqual(r.status, 200, r)
        n = r.json["data"]["notification"]
        self.assertEqual(n["_id"], nid)
        self.assertEqual(n["type"], "WEBHOOK")
        self.assertEqual(n["payload"], self.bodies[3]["payload"])
        self.assertNotIn("logs", n)
        self.assertNotIn("lease", n)
        self.assertEqual([e["status"] for e in r.json["data"]["logs"]], ["PENDING", "QUEUED"])
        r = call(self.stack, "POST", f"/api/notifications/{nid}/cancel", key=self.key)
        self.assertEqual(r.status, 200, r)
        logs = self.get(f"/api/notifications/{nid}").json["data"]["logs"]
        self.assertEqual([e["status"] for e in logs], ["PENDING", "QUEUED", "CANCELLED"])
        stamps = [parse_iso(e["timestamp"]) for e in logs]
        self.assertEqual(stamps, sorted(stamps))
        for e in logs:
            self.assertEqual(e["notificationId"], nid)
            self.assertTrue(e["actor"])

    def test_get_other_tenant_or_missing_is_404(self):
        self.assertEqual(self.get(f"/api/notifications/{self.ids[0]}", key=self.other_key).status, 404)
        self.assertEqual(self.get("/api/notifications/" + "f" * 24).status, 404)
        self.assertIn(("id", "objectid"), field_rules(self.get("/api/notifications/xyz")))

    # -- GET /api/notifications --

    def test_list_pages_newest_first(self):
        r = self.get("/api/notifications")
        self.assertEqual(r.status, 200, r)
        page = r.json["data"]
        self.assertEqual({k: page["pagination"][k] for k in
                          ("currentPage", "totalPages", "totalItems", "itemsPerPage")},
                         {"currentPage": 1, "totalPages": 2, "totalItems": 25, "itemsPerPage": 20})
        self.assertIsNotNone(page["pagination"]["nextCursor"])
        listed = [n["_id"] for n in page["notifications"]]
        self.assertEqual(listed, list(reversed(self.ids))[:20])
        stamps = [n["createdAt"] for n in page["notifications"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))
        for n in page["notifications"]:
            for internal in ("logs", "lease", "payload", "data"):
                self.assertNotIn(internal, n)
        r = self.get("/api/notifications?page=2&limit=20")
        self.assertEqual([n["_id"] for n in r.json["data"]["notifications"]],
                         list(reversed(self.ids))[20:])
        r = self.get("/api/notifications?page=3&limit=10")
        self.assertEqual(len(r.json["data"]["notifications"]), 5)
        self.assertEqual(r.json["data"]["pagination"]["totalPages"], 3)
        r = self.get("/api/notifications?page=9")
        self.assertEqual(r.json["data"]["notifications"], [])
        r = self.get("/api/notifications?limit=100")
        self.assertEqual(len(r.json["data"]["notifications"]), 25)

    def test_list_filters(self):
        def listed(query, key=None):
            r = self.get("/api/notifications?limit=100&" + query, key=key)
            self.assertEqual(r.status, 200, r)
            return [n["_id"] for n in r.json["data"]["notifications"]]

        sms_ids = [i for i, b in zip(self.ids, self.bodies) if b["type"] == "SMS"]
        self.assertEqual(sorted(listed("type=SMS")), sorted(sms_ids))
        high = [i for i, b in zip(self.ids, self.bodies) if b.get("priority") == "HIGH"]
        self.assertEqual(sorted(listed("priority=HIGH")), sorted(high))
        low_sms = [i for i, b in zip(self.ids, self.bodies)
                   if b["type"] == "SMS" and b.get("priority") == "LOW"]
        self.assertEqual(sorted(listed("type=SMS&priority=LOW&status=QUEUED")), sorted(low_sms))
        self.assertEqual(listed("status=SENT"), [])
        _, stranger = self.stack.new_tenant_key(role="viewer")
        self.assertEqual(listed("", key=stranger), [])

    def test_list_date_range(self):
        docs = {str(d["_id"]): d["createdAt"].replace(tzinfo=UTC)
                for d in self.stack.db.notifications.find({"tenantId": self.tenant})}
        start = docs[self.ids[5]]
        end = docs[self.ids[15]]
        r = self.get(f"/api/notifications?limit=100&from={iso(start)}&to={iso(end)}")
        self.assertEqual(r.status, 200, r)
        got = {n["_id"] for n in r.json["data"]["notifications"]}
        expected = {i for i, at in docs.items() if start <= at < end}
        self.assertEqual(got, expected)
        self.assertIn(self.ids[5], got)
        self.assertNotIn(self.ids[15], got)
        # An offset is as good as Z.
        shifted = (start.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
                   .isoformat(timespec="milliseconds"))
        r = self.get("/api/notifications?limit=100&from=" + shifted.replace("+", "%2B"))
        self.assertEqual({n["_id"] for n in r.json["data"]["notifications"]},
                         {i for i, at in docs.items() if at >= start})

    def test_list_bad_arguments(self):
        cases = [
            ("limit=101", "limit", "range"), ("limit=0", "limit", "range"),
            ("page=0", "page", "range"), ("page=-1", "page", "range"),
            ("page=abc", "page", "type"), ("page=1e3", "page", "type"),
            ("page=1.5", "page", "type"), ("limit=", "limit", "type"),
            ("page=99999999999999999999999", "page", "range"),
            ("status=DONE", "status", "enum"), ("type=email", "type", "enum"),
            ("priority=URGENT", "priority", "enum"),
            ("from=yesterday", "from", "format"), ("to=2024-01-01", "to", "format"),
            ("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "to", "range"),
            ("sort=createdAt", "sort", "unknown"), ("page=1&page=2", "page", "duplicate"),
            ("status=%00", "status", "nul"),
        ]
        for query, field, rule in cases:
            with self.subTest(query):
                r = self.get("/api/notifications?" + query)
                self.assertEqual(r.status, 400, r)
                self.assertIn((field, rule), field_rules(r), r)

    def test_viewer_may_read(self):
        self.assertEqual(self.get("/api/notifications", key=self.viewer).status, 200)
        self.assertEqual(self.get("/api/notifications/stats/system", key=self.viewer).status, 200)

    # -- statistics --

    def test_stats_are_computed_per_tenant_and_cached(self):
        tenant, key = self.stack.new_tenant_key(role="viewer")
        now = datetime.datetime.now(UTC)

        def doc(status, type_, priority, ms=None):
            d = {"_id": ObjectId(), "tenantId": tenant, "type": type_, "recipient": "x",
                 "message": "m", "status": status, "priority": priority, "retryCount": 0,
                 "maxRetries": 3, "createdAt": now, "updatedAt": now, "logs": []}
            if ms is not None:
                d["processingTimeMs"] = ms
            return d

        self.stack.db.notifications.insert_many([
            doc("SENT", "EMAIL", "HIGH", 100), doc("SENT", "SMS", "LOW", 200),
            doc("SENT", "SMS", "LOW", 301), doc("FAILED", "PUSH", "CRITICAL", 400),
            doc("PENDING", "WEBHOOK", "MEDIUM"), doc("SCHEDULED", "EMAIL", "MEDIUM"),
        ])
        # Written behind the API's back, so only a reconciliation counts them (docs/READS.md).
        subprocess.run([CTL_BIN, "counters", "reconcile", "--tenant", tenant], env=self.stack.env,
                       check=True, capture_output=True, timeout=120)
        r = self.get("/api/notifications/stats/system", key=key)
        self.assertEqual(r.status, 200, r)
        s = r.json["data"]
        self.assertEqual(s["total"], 6)
        self.assertEqual(s["byStatus"], {"PENDING": 1, "QUEUED": 0, "PROCESSING": 0, "SENT": 3,
                                         "FAILED": 1, "RETRYING": 0, "SCHEDULED": 1,
                                         "CANCELLED": 0, "SUPPRESSED": 0})
        self.assertEqual(s["byType"], {"EMAIL": 2, "SMS": 2, "PUSH": 1, "WEBHOOK": 1})
        self.assertEqual(s["byPriority"], {"LOW": 2, "MEDIUM": 2, "HIGH": 1, "CRITICAL": 1})
        # The average is over the last hour's deliveries, which the throughput counters keep
        # (docs/READS.md); documents written behind the API's back were never delivered.
        # test_api_dashboard checks it against real deliveries.
        self.assertIsNone(s["averageProcessingTime"])
        self.assertEqual(s["successRate"], 75.0)
        self.assertEqual(set(s["queueDepth"]),
                         {"notifications", "high_priority", "retry", "notifications_dlq"})
        for depth in s["queueDepth"].values():
            self.assertIsInstance(depth, int)

        # Served from the cache for a few seconds, then recomputed.
        self.stack.db.notifications.insert_one(doc("SENT", "EMAIL", "LOW", 50))
        subprocess.run([CTL_BIN, "counters", "reconcile", "--tenant", tenant], env=self.stack.env,
                       check=True, capture_output=True, timeout=120)
        again = self.get("/api/notifications/stats/system", key=key).json["data"]
        self.assertEqual(again["total"], 6)
        self.assertEqual(again["generatedAt"], s["generatedAt"])
        fresh = wait_for(lambda: (lambda d: d if d["total"] == 7 else None)(
            self.get("/api/notifications/stats/system", key=key).json["data"]),
            30, interval=0.5, what="the statistics cache to expire")
        self.assertEqual(fresh["byStatus"]["SENT"], 4)
        self.assertEqual(fresh["successRate"], 80.0)
        self.assertIsNone(fresh["averageProcessingTime"])

    def test_stats_of_an_empty_tenant(self):
        _, key = self.stack.new_tenant_key(role="viewer")
        s = self.get("/api/notifications/stats/system", key=key).json["data"]
        self.assertEqual(s["total"], 0)
        self.assertIsNone(s["averageProcessingTime"])
        self.assertIsNone(s["successRate"])

    # -- health and metrics --

    def test_health(self):
        r = call(self.stack, "GET", "/api/health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "healthy")
        self.assertEqual(r.json["services"], {"mongodb": "connected", "rabbitmq": "connected"})

    def test_metrics_exposition(self):
        r = call(self.stack, "GET", "/api/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"))
        samples = {}
        for line in r.text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.fullmatch(r'([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+|\+Inf)', line)
            self.assertIsNotNone(m, f"not a sample line: {line!r}")
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        names = {k.split("{")[0] for k in samples}
        for spec_name in ("notifications_created_total", "notifications_sent_total",
                          "notifications_failed_total", "queue_depth", "http_requests_total",
                          "notification_processing_duration_seconds_bucket",
                          "http_request_duration_seconds_bucket"):
            self.assertIn(spec_name, names)
        created = {b["type"]: 0 for b in self.bodies}
        for b in self.bodies:
            created[b["type"]] += 1
        for type_, n in created.items():
            self.assertGreaterEqual(samples[f'notifications_created_total{{type="{type_}"}}'], n)
        self.assertGreaterEqual(
            samples['http_requests_total{method="POST",route="/api/notifications",status="201"}'], 25)
        self.assertIn('queue_depth{queue="notifications"}', samples)
        self.assertEqual(samples['notifications_sent_total{type="EMAIL"}'],
                         self.stack.db.notifications.count_documents({"status": "SENT",
                                                                     "type": "EMAIL"}))
        # The route label is the pattern, never the raw path.
        self.get("/api/notifications/" + "0" * 24)
        r = call(self.stack, "GET", "/api/metrics")
        self.assertIn('route="/api/notifications/:id"', r.text)
        self.assertNotIn("0" * 24, r.text)

    # -- ETag and compression --

    def test_etag_and_if_none_match(self):
        # Its own notification (of the other tenant): the others' state stays put.
        nid = post(self.stack, self.other_key, sms()).json["data"]["_id"]
        path = f"/api/notifications/{nid}"
        self.get = lambda p, key=None, headers=None: call(
            self.stack, "GET", p, key=key or self.other_key, headers=headers)
        r = self.get(path)
        etag = r.header("ETag")
        self.assertRegex(etag, r'^W/"[0-9a-f]{32}"$')
        self.assertEqual(self.get(path).header("ETag"), etag)  # stable
        r = self.get(path, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.raw, b"")
        self.assertEqual(r.header("ETag"), etag)
        r = self.get(path, headers={"If-None-Match": '"something-else"'})
        self.assertEqual(r.status, 200)
        # A change makes a new tag.
        call(self.stack, "POST", f"/api/notifications/{nid}/cancel", key=self.other_key)
        r = self.get(path, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertNotEqual(r.header("ETag"), etag)
        # Lists are tagged too; POSTs and errors are not.
        lst = self.get("/api/notifications?limit=5")
        self.assertEqual(self.get("/api/notifications?limit=5",
                                  headers={"If-None-Match": lst.header("ETag")}).status, 304)
        self.assertIsNone(post(self.stack, self.other_key, sms()).header("ETag"))
        self.assertIsNone(self.get("/api/notifications/xyz").header("ETag"))

    def test_gzip_when_accepted(self):
        plain = self.get("/api/notifications?limit=50")
        self.assertIsNone(plain.header("Content-Encoding"))
        self.assertEqual(plain.header("Vary"), "Accept-Encoding")
        zipped = self.get("/api/notifications?limit=50", headers={"Accept-Encoding": "gzip, br"})
        self.assertEqual(zipped.header("Content-Encoding"), "gzip")
        self.assertLess(len(zipped.raw), len(plain.raw) / 2)
        self.assertEqual(gzip.decompress(zipped.raw), plain.raw)
        self.assertEqual(zipped.header("ETag"), plain.header("ETag"))
        refused = self.get("/api/notifications?limit=50", headers={"Accept-Encoding": "gzip;q=0"})
        self.assertIsNone(refused.header("Content-Encoding"))
        # Small bodies are not worth it.
        small = call(self.stack, "GET", "/api/notifications/" + "0" * 24, key=self.key,
                     headers={"Accept-Encoding": "gzip"})
        self.assertIsNone(small.header("Content-Encoding"))
        metrics = call(self.stack, "GET", "/api/metrics", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(metrics.header("Content-Encoding"), "gzip")
        self.assertIn("http_requests_total", metrics.text)


if __name__ == "__main__":
    unittest.main()
