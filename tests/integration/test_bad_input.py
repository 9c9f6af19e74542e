"""Bad input gets a 4xx that names the field and the rule, and writes nothing."""
import unittest

from harness import StackTestCase, purge_queues, queue_depths, wait_until

VALID = {"type": "EMAIL", "recipient": "ok@example.com", "subject": "s", "message": "m"}


def without(field):
    body = dict(VALID)
    del body[field]
    return body


def with_(**changes):
    body = dict(VALID)
    body.update(changes)
    return body


class BadInputTest(StackTestCase):
    """No worker runs here, so whatever reached a queue would still be in it."""

    ENV = {"WAVECOM_API_MAX_BODY_BYTES": "8192"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        purge_queues()

    def post(self, body=None, raw=None, headers=None, key="default"):
        key = self.key if key == "default" else key
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        return self.stack.request("POST", "/api/notifications", body=body, raw=raw, key=key,
                                  headers=hdrs)

    def assert_field_error(self, r, status, field, rule):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertFalse(r.json["success"])
        pairs = [(e["field"], e["rule"]) for e in r.json["errors"]]
        self.assertIn((field, rule), pairs, r)
        for e in r.json["errors"]:
            self.assertTrue(e["message"])

    def test_malformed_json(self):
        for raw in (b"{bad", b'{"type": "EMAIL",}', b'{"type":"EMAIL"} trailing', b"", b"\xff\xfe{}"):
            with self.subTest(raw=raw):
                self.assert_field_error(self.post(raw=raw), 400, "body", "json")

    def test_invalid_utf8_and_nul(self):
        self.assert_field_error(self.post(raw=b'{"type":"EMAIL","message":"\xc3\x28"}'),
                                400, "body", "json")
        self.assert_field_error(self.post(raw=b'{"type":"EMAIL",\x00"message":"m"}'),
                                400, "body", "json")
        self.assert_field_error(self.post(body=with_(message="a\u0000b")), 400, "message", "nul")

    def test_missing_fields(self):
        for field in ("type", "recipient", "subject", "message"):
            with self.subTest(field=field):
                self.assert_field_error(self.post(body=without(field)), 400, field, "required")

    def test_message_over_5000_characters(self):
        r = self.post(body=with_(message="x" * 6000))
        self.assert_field_error(r, 400, "message", "length")
        self.assert_field_error(self.post(body=with_(message="")), 400, "message", "length")

    def test_invalid_email(self):
        for bad in ("not-an-email", "a@b", "a b@example.com", "a@example..com", "@example.com"):
            with self.subTest(recipient=bad):
                self.assert_field_error(self.post(body=with_(recipient=bad)), 400, "recipient", "email")

    def test_unknown_type_and_priority(self):
        self.assert_field_error(self.post(body=with_(type="FAX")), 400, "type", "enum")
        self.assert_field_error(self.post(body=with_(type="email")), 400, "type", "enum")
        self.assert_field_error(self.post(body=with_(priority="URGENT")), 400, "priority", "enum")

    def test_wrong_types_and_unknown_fields(self):
        self.assert_field_error(self.post(body=with_(recipient=42)), 400, "recipient", "type")
        self.assert_field_error(self.post(body=with_(metadata="x")), 400, "metadata", "type")
        self.assert_field_error(self.post(body=with_(maxRetries=10 ** 30)), 400, "maxRetries", "range")
        self.assert_field_error(self.post(body=with_(maxRetries="3")), 400, "maxRetries", "type")
        self.assert_field_error(self.post(body=with_(maxRetries=-1)), 400, "maxRetries", "range")
        self.assert_field_error(self.post(body=with_(status="SENT")), 400, "status", "unknown")
        self.assert_field_error(self.post(body=[VALID]), 400, "body", "type")

    def test_body_over_the_size_limit(self):
        big = with_(metadata={"pad": "x" * 9000})
        r = self.post(body=big)
        self.assertEqual(r.status, 413, r)
        self.assertIn("exceeds 8192 bytes", r.json["message"])
        # Without a Content-Length the limit still holds.
        r = self.post(raw=iter([b'{"pad":"' + b"x" * 9000 + b'"}']))
        self.assertEqual(r.status, 413, r)

    def test_wrong_content_type(self):
        r = self.post(body=VALID, headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r)

    def test_missing_or_wrong_api_key(self):
        r = self.post(body=VALID, key=None)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers["WWW-Authenticate"], "Bearer")
        r = self.post(body=VALID, key="wck_" + "0" * 48)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json["message"], "invalid API key")
        r = self.post(body=VALID, headers={"Authorization": "Basic dXNlcjpwYXNz"}, key=None)
        self.assertEqual(r.status, 401, r)
        r = self.stack.request("GET", "/api/notifications/" + "0" * 24, key="x" * 5000)
        self.assertIn(r.status, (401, 431), r)

    def test_viewer_may_not_create(self):
        _, viewer = self.stack.new_tenant_key(role="viewer")
        r = self.post(body=VALID, key=viewer)
        self.assertEqual(r.status, 403, r)

    def test_bad_ids_and_routes(self):
        r = self.stack.request("GET", "/api/notifications/xyz", key=self.key)
        self.assert_field_error(r, 400, "id", "objectid")
        r = self.stack.request("GET", "/api/notifications/" + "0" * 24, key=self.key)
        self.assertEqual(r.status, 404, r)
        r = self.stack.request("DELETE", "/api/notifications", key=self.key)
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers["Allow"], "POST, GET")
        r = self.stack.request("GET", "/api/nothing-here", key=self.key)
        self.assertEqual(r.status, 404, r)

    def test_zz_nothing_was_written(self):
        """Runs last (unittest orders by name): after all the bad input above,
        the database holds no notification and the queues no message."""
        self.assertEqual(self.stack.db.notifications.count_documents({}), 0)
        # One good request, then the broker's counts: RabbitMQ refreshes them every few
        # seconds, so wait until the good message shows; a leaked one would show with it.
        self.assertEqual(self.post(body=VALID).status, 201)
        self.assertEqual(self.stack.db.notifications.count_documents({}), 1)
        depths = wait_until(lambda: (lambda d: d if d.get("notifications") else None)(queue_depths()),
                            30, interval=1, what="the broker to count the good message")
        self.assertEqual(depths.get("notifications"), 1, depths)
        self.assertEqual(depths.get("high_priority"), 0, depths)
        purge_queues()


if __name__ == "__main__":
    unittest.main()
