"""Hostile input on every endpoint of the intake API: each gets a 4xx JSON
error, never a 5xx, and nothing is written to the database or the broker."""
import json
import unittest

from api_support import call, email, sms, started
from harness import Stack, close_cleanly, purge_queues, queue_depths, wait_until

JSON = {"Content-Type": "application/json"}
ID = "0123456789abcdef01234567"

# Raw bodies that are not acceptable JSON, for every endpoint that takes one.
MALFORMED = [
    b"", b"{", b"{bad}", b'{"type": "SMS",}', b'{"a":1} trailing', b"[1,2", b"nul\x00l",
    b'{"message": "\xc3\x28"}', b'{"message": "\xc0\xaf"}', b'{"message": "\xed\xa0\x80"}',
    b'{"message": "\xff"}', b"\xef\xbb\xbf{}", b'{"a\\u0000b": 1}', b'{"x":"' + b"\x00" + b'"}',
    b"[" * 40 + b"]" * 40, b'{"a":' * 30 + b"1" + b"}" * 30, b"'single'", b"NaN", b"Infinity",
    b'{"n": 1e}', b'{"n": 01}', b'{"n": -}', b'{"s": "\\x41"}', b'{"s": "\\ud800"', b"\x80\x81\x82",
]

# Well-formed JSON that breaks the contract: wrong types, unknown fields, huge numbers.
HOSTILE_NOTIFICATIONS = [
    [], "EMAIL", 42, None, True, {"type": None}, {"type": ["SMS"]}, {"type": {"$ne": 1}},
    sms(recipient={"$gt": ""}), sms(message=["m"]), sms(message={"$where": "1"}),
    sms(maxRetries=1e400), sms(maxRetries=2 ** 64), sms(maxRetries=-(2 ** 63) - 1),
    sms(maxRetries=True), sms(metadata={"n": 1e400}), sms(metadata={"n": 2 ** 100}),
    sms(metadata={"k": {"$date": "2020-01-01"}}), sms(metadata={"": 1}),
    sms(metadata={"deep": [[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}),
    sms(metadata={"pairs": [[1, 2]]}),
    sms(scheduledAt="9999-99-99T99:99:99Z"), sms(scheduledAt="2024-12-11T10:30:00+99:00"),
    sms(priority="HIGH\u0000"), sms(type="SMS\u0000"), sms(recipient="+1415555\u00000100"),
    sms(unknownField=1), sms(**{"$set": 1}), sms(_id=ID), sms(tenantId="someone-else"),
    email(subject="s" * 100000), sms(message="m" * 100000),
]


class BadInputEverywhereTest(unittest.TestCase):
    """No worker runs: whatever reached a queue would still be in it."""

    @classmethod
    def setUpClass(cls):
        purge_queues()
        cls.stack = started(Stack(workers=1, env={"WAVECOM_API_MAX_BODY_BYTES": "131072",
                                                  "WAVECOM_API_MAX_BATCH_BODY_BYTES": "262144"}))
        cls.tenant, cls.key = cls.stack.new_tenant_key(role="operator")
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def refused(self, reply, what):
        """A 4xx with a JSON error body."""
        self.count += 1
        self.assertTrue(400 <= reply.status < 500, f"{what}: {reply}")
        self.assertEqual(reply.header("Content-Type"), "application/json", what)
        self.assertIsNotNone(reply.json, what)
        self.assertIs(reply.json["success"], False, what)
        self.assertTrue(reply.json["message"], what)

    def send(self, method, path, **kw):
        kw.setdefault("key", self.key)
        return call(self.stack, method, path, **kw)

    def test_malformed_bodies_on_every_endpoint_with_one(self):
        for path in ("/api/notifications", "/api/notifications/batch",
                     f"/api/notifications/{ID}/cancel"):
            for raw in MALFORMED:
                if raw == b"" and path.endswith("/cancel"):
                    continue  # an empty body is a valid cancel; there is nothing to cancel here
                with self.subTest(path=path, raw=raw[:30]):
                    self.refused(self.send("POST", path, raw=raw, headers=JSON), (path, raw))

    def test_hostile_notifications(self):
        for body in HOSTILE_NOTIFICATIONS:
            with self.subTest(body=str(body)[:80]):
                self.refused(self.send("POST", "/api/notifications", body=body), body)
                r = self.send("POST", "/api/notifications/batch", body={"notifications": [body]})
                self.refused(r, ("batch", body))
        for top in ([], {}, {"notifications": None}, {"notifications": [[]]},
                    {"notifications": "x" * 10}, {"notifications": [sms()], "x": 1},
                    {"notifications": [sms()] * 1001}, {"Notifications": [sms()]}):
            with self.subTest(top=str(top)[:60]):
                self.refused(self.send("POST", "/api/notifications/batch", body=top), top)

    def test_oversized_bodies(self):
        for path, limit in (("/api/notifications", 131072), ("/api/notifications/batch", 262144),
                            (f"/api/notifications/{ID}/cancel", 131072)):
            big = b'{"x":"' + b"a" * (limit + 10) + b'"}'
            with self.subTest(path=path):
                r = self.send("POST", path, raw=big, headers=JSON)
                self.refused(r, path)
                self.assertEqual(r.status, 413)
                # Without a Content-Length (chunked), the limit holds as well.
                r = self.send("POST", path, raw=iter([big[:1000], big[1000:]]), headers=JSON)
                self.assertEqual(r.status, 413, r)

    def test_content_types(self):
        for ctype in (None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                      "multipart/form-data; boundary=x"):
            headers = {} if ctype is None else {"Content-Type": ctype}
            for path in ("/api/notifications", "/api/notifications/batch",
                         f"/api/notifications/{ID}/cancel"):
                with self.subTest(ctype=ctype, path=path):
                    r = self.send("POST", path, raw=json.dumps(sms()).encode(), headers=headers)
                    self.refused(r, (ctype, path))
                    self.assertEqual(r.status, 415)

    def test_bad_ids(self):
        for bad in ("xyz", ID[:-1], ID + "0", "g" * 24, "%00" + ID[3:], "%2e%2e", "..",
                    "0123456789ABCDEF0123456%C3%A9", "%FF" * 8, "%20" * 24, "-1", "1e3",
                    "999999999999999999999999999999"):
            with self.subTest(id=bad):
                self.refused(self.send("GET", f"/api/notifications/{bad}"), bad)
                self.refused(self.send("POST", f"/api/notifications/{bad}/cancel"), bad)

    def test_bad_query_arguments(self):
        for query in ("page=0", "page=-5", "page=1000001", "page=1e9", "page=0x10", "page=%201",
                      "page=99999999999999999999999999", "page=%00", "page=%D9%A1", "limit=0",
                      "limit=101", "limit=-1", "limit=abc", "limit=", "status=sent", "type=FAX",
                      "priority=%FF", "from=now", "to=2024-13-01T00:00:00Z", "page=1&page=1",
                      "nope=1", "%00=1", "status=SENT%00", "from=2024-01-01T00:00:00Z&to=2023-01-01T00:00:00Z"):
            with self.subTest(query=query):
                self.refused(self.send("GET", "/api/notifications?" + query), query)
        for path in (f"/api/notifications/{ID}?x=1", "/api/notifications/stats/system?page=1",
                     "/api/notifications?limit=1&limit=2"):
            with self.subTest(path=path):
                self.refused(self.send("GET", path), path)
        self.refused(self.send("POST", "/api/notifications?dryRun=1", body=sms()), "query on POST")
        self.refused(self.send("POST", "/api/notifications/batch?x",
                               body={"notifications": [sms()]}), "query on batch")
        self.refused(self.send("POST", f"/api/notifications/{ID}/cancel?force=1"), "query on cancel")

    def test_bad_credentials_and_headers(self):
        for headers in ({"Authorization": "Bearer " + "k" * 5000}, {"Authorization": "Bearer \xff\xfe"},
                        {"Authorization": "Bearer"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                        {"Authorization": "Bearer a b c"}):
            for method, path in (("POST", "/api/notifications"), ("GET", "/api/notifications"),
                                 ("GET", "/api/notifications/stats/system")):
                with self.subTest(headers=str(headers)[:40], path=path):
                    r = call(self.stack, method, path, headers=headers,
                             body=sms() if method == "POST" else None)
                    self.refused(r, headers)
        for idem in ("", " ", "x" * 256, "tab\tkey", "\xff"):
            with self.subTest(idem=idem):
                self.refused(self.send("POST", "/api/notifications", body=sms(),
                                       headers={"Idempotency-Key": idem}), idem)
                self.refused(self.send("POST", "/api/notifications/batch",
                                       body={"notifications": [sms()]},
                                       headers={"Idempotency-Key": idem}), idem)

    def test_wrong_methods_and_routes(self):
        for method, path in (("DELETE", "/api/notifications"), ("PUT", f"/api/notifications/{ID}"),
                             ("GET", f"/api/notifications/{ID}/cancel"), ("PATCH", "/api/health"),
                             ("POST", "/api/metrics"), ("GET", "/api/notifications/stats"),
                             ("GET", "/api/notifications/stats/system/x"), ("GET", "/api/"),
                             ("GET", "/api/notifications/"), ("FOO", "/api/notifications")):
            with self.subTest(method=method, path=path):
                self.refused(self.send(method, path), (method, path))

    def test_viewer_writes_nothing(self):
        _, viewer = self.stack.new_tenant_key(role="viewer")
        self.refused(call(self.stack, "POST", "/api/notifications", body=sms(), key=viewer), "viewer")
        self.refused(call(self.stack, "POST", "/api/notifications/batch",
                          body={"notifications": [sms()]}, key=viewer), "viewer batch")

    def test_zz_nothing_was_written(self):
        """Runs last: after all of the above, no notification, no idempotency key,
        no queued message."""
        self.assertEqual(self.stack.db.notifications.count_documents({}), 0)
        self.assertEqual(self.stack.db.idempotency_keys.count_documents({}), 0)
        # A good request, then the broker's counts: they lag by a few seconds (and may still
        # show what the purge in setUpClass removed), so wait for them to settle on exactly the
        # good message; a leaked one would keep them from it.
        good = call(self.stack, "POST", "/api/notifications", body=sms(priority="HIGH"), key=self.key)
        self.assertEqual(good.status, 201, good)
        expected = {"high_priority": 1, "notifications": 0}
        last = {}

        def settled():
            last.update(queue_depths())
            return all(last.get(q) == n for q, n in expected.items())

        try:
            wait_until(settled, 30, interval=1, what="the broker to count only the good message")
        except AssertionError:
            self.fail(f"queues hold more than the one good message: {last}")
        purge_queues()


if __name__ == "__main__":
    unittest.main()
