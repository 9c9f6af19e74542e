"""Suppression, preferences and the unsubscribe link (docs/ARCHITECTURE.md §16), end to end.

Permanent provider answers put the recipient on the tenant's suppression list: a hard bounce
from the SMTP catcher (it answers 550 5.1.1 for bounce*@), Twilio's 21610 (the doubles answer it
for numbers starting +1555000) and 21211 (+1555001), FCM's UNREGISTERED (tokens starting "unregistered-") and APNs'
410 Unregistered (tokens starting "dead"). The next notification to such a recipient ends
SUPPRESSED and reaches no provider: the doubles' request counters and the worker's provider
metrics stay where they were. Preferences opt a user out of a channel or a category; a
transactional category passes an opt-out but never an invalid address. The List-Unsubscribe
link of an email works once and twice, and refuses a tampered or expired token."""
import base64
import hashlib
import hmac
import json
import os
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import providers
from api_support import field_rules
from harness import close_cleanly, mails_for, wait_until

SECRET = "suppression-test-secret-0123456789abcdef"
PUBLIC_BASE = "https://notify.example.test/wc"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_token(tenant, channel, recipient, expires):
    """The token as docs/ARCHITECTURE.md §16 defines it, made independently of the C code."""
    head = f"{tenant}.{channel}.{expires}.{b64url(recipient.encode())}"
    mac = hmac.new(SECRET.encode(), b"wavecom-unsubscribe-v1\n" + head.encode(), hashlib.sha256)
    return head + "." + b64url(mac.digest())


class SuppressionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            WAVECOM_PUBLIC_BASE_URL=PUBLIC_BASE, WAVECOM_UNSUBSCRIBE_SECRET=SECRET,
            WAVECOM_WORKER_REPORT_SECONDS="1")
        cls.operator = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant,
                                     "--role", "operator").stdout.strip()

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    # -- helpers --

    def call(self, method, path, body=None, key=None):
        return self.stack.request(method, path, body=body, key=key or self.key)

    def create(self, body):
        r = self.call("POST", "/api/notifications", body)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def final(self, nid, status, timeout=30):
        return self.stack.wait_for_status(self.key, nid, status, timeout).json["data"]

    def entry(self, channel, recipient):
        path = "/api/suppressions/" + urllib.parse.quote(f"{channel}:{recipient}", safe=":@+")
        return self.call("GET", path)

    def worker_metric(self, name, **labels):
        port = self.stack.env["WAVECOM_WORKER_METRICS_PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in text.splitlines():
            if line.startswith(f"{name}{{{want}}} "):
                return float(line.split()[-1])
        return 0.0

    def assert_suppressed(self, nid, words):
        data = self.final(nid, "SUPPRESSED")
        messages = " ".join(e.get("message", "") for e in data["logs"])
        self.assertIn(words, messages)
        self.assertEqual([e["status"] for e in data["logs"]][-2:], ["PROCESSING", "SUPPRESSED"])
        return data

    # -- automatic entries from permanent provider answers --

    def test_smtp_hard_bounce_lists_the_address_and_the_next_email_is_suppressed(self):
        address = f"bounce-{uuid.uuid4().hex[:8]}@Example.com"
        first = self.create({"type": "EMAIL", "recipient": address, "subject": "s", "message": "m"})
        data = self.final(first, "FAILED")
        self.assertIn("5.1.1", data["notification"]["error"])
        r = self.entry("EMAIL", address)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"]["reason"], "hard_bounce")
        self.assertEqual(r.json["data"]["source"], "smtp")
        self.assertEqual(r.json["data"]["recipient"], address.lower())

        attempts = self.worker_metric("provider_request_duration_seconds_count", provider="smtp")
        second = self.create({"type": "EMAIL", "recipient": address.upper(), "subject": "s",
                              "message": "m"})
        data = self.assert_suppressed(second, "suppression list (hard_bounce)")
        self.assertEqual(data["notification"]["suppressionReason"], "hard_bounce")
        self.assertEqual(self.worker_metric("provider_request_duration_seconds_count",
                                            provider="smtp"), attempts)
        self.assertEqual(mails_for([second]), {})

    def test_twilio_21610_lists_the_number_and_the_next_sms_reaches_no_provider(self):
        number = "+1555000" + str(uuid.uuid4().int)[:4]
        first = self.create({"type": "SMS", "recipient": number, "message": "hi"})
        self.assertIn("21610", self.final(first, "FAILED")["notification"]["error"])
        r = self.entry("SMS", number)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["data"]["reason"], r.json["data"]["source"]),
                         ("unsubscribed", "twilio"))
        before = providers.stats()
        second = self.create({"type": "SMS", "recipient": number, "message": "again"})
        self.assert_suppressed(second, "suppression list (unsubscribed)")
        after = providers.stats()
        for name in ("twilio", "vonage"):
            if name in before:
                self.assertEqual(after[name]["received"], before[name]["received"], name)

    def test_twilio_21211_lists_the_number_as_invalid(self):
        number = "+1555001" + str(uuid.uuid4().int)[:4]
        first = self.create({"type": "SMS", "recipient": number, "message": "hi"})
        self.assertIn("21211", self.final(first, "FAILED")["notification"]["error"])
        r = self.entry("SMS", number)
        self.assertEqual((r.json["data"]["reason"], r.json["data"]["source"]),
                         ("invalid_number", "twilio"))
        # Even a transactional category does not pass an invalid number.
        self.call("PUT", "/api/categories/otp", {"transactional": True}, key=self.operator)
        received = providers.stats()["twilio"]["received"]
        self.assert_suppressed(self.create({"type": "SMS", "recipient": number, "message": "1234",
                                            "category": "otp"}), "suppression list (invalid_number)")
        self.assertEqual(providers.stats()["twilio"]["received"], received)

    def test_fcm_unregistered_lists_the_token_and_the_next_push_reaches_no_provider(self):
        token = "unregistered-" + uuid.uuid4().hex
        first = self.create({"type": "PUSH", "platform": "fcm", "recipient": token, "message": "x"})
        self.assertIn("UNREGISTERED", self.final(first, "FAILED")["notification"]["error"])
        r = self.entry("PUSH", token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["data"]["reason"], r.json["data"]["source"]),
                         ("invalid_number", "fcm"))
        received = providers.stats()["fcm"]["received"]
        second = self.create({"type": "PUSH", "platform": "fcm", "recipient": token, "message": "y"})
        self.assert_suppressed(second, "suppression list (invalid_number)")
        self.assertEqual(providers.stats()["fcm"]["received"], received)

    def test_apns_410_unregistered_lists_the_token(self):
        token = "dead" + uuid.uuid4().hex + uuid.uuid4().hex[:28]
        first = self.create({"type": "PUSH", "platform": "apns", "recipient": token, "message": "x"})
        self.final(first, "FAILED")
        r = self.entry("PUSH", token)
        self.assertEqual((r.json["data"]["reason"], r.json["data"]["source"]),
                         ("invalid_number", "apns"))

    def test_suppressed_counts_in_stats_list_and_metrics(self):
        number = "+1415555" + str(uuid.uuid4().int)[:4]
        r = self.call("POST", "/api/suppressions",
                      {"channel": "SMS", "recipient": number, "reason": "manual"}, key=self.operator)
        self.assertEqual(r.status, 201, r)
        nid = self.create({"type": "SMS", "recipient": number, "message": "x"})
        self.assert_suppressed(nid, "suppression list (manual)")
        listed = self.call("GET", "/api/notifications?status=SUPPRESSED&limit=100")
        self.assertEqual(listed.status, 200, listed)
        self.assertIn(nid, [n["_id"] for n in listed.json["data"]["notifications"]])
        def counted():
            s = self.call("GET", "/api/notifications/stats/system")
            return s.status == 200 and s.json["data"]["byStatus"].get("SUPPRESSED", 0) >= 1
        wait_until(counted, 30, what="stats to count SUPPRESSED")
        self.assertGreaterEqual(self.worker_metric("notifications_suppressed_total", type="SMS"), 1)
        with urllib.request.urlopen(self.stack.url + "/api/metrics", timeout=10) as resp:
            self.assertIn('notifications_suppressed_total{type="SMS"}', resp.read().decode())

    # -- the routes --

    def test_list_add_get_delete(self):
        address = f"ann-{uuid.uuid4().hex[:6]}@example.com"
        r = self.call("POST", "/api/suppressions", {"channel": "EMAIL", "recipient": address},
                      key=self.operator)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["data"]["reason"], "manual")
        self.assertEqual(r.json["data"]["source"], "api")
        again = self.call("POST", "/api/suppressions",
                          {"channel": "EMAIL", "recipient": address, "reason": "complaint"},
                          key=self.operator)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json["data"]["reason"], "complaint")
        self.assertEqual(self.stack.db.suppressions.count_documents(
            {"tenantId": self.tenant, "recipient": address}), 1)
        page = self.call("GET", "/api/suppressions?channel=EMAIL&limit=100")
        self.assertIn(address, [e["recipient"] for e in page.json["data"]["suppressions"]])
        # A sender may read the list but not change it.
        self.assertEqual(self.call("DELETE", f"/api/suppressions/EMAIL:{address}").status, 403)
        gone = self.call("DELETE", f"/api/suppressions/EMAIL:{address}", key=self.operator)
        self.assertEqual(gone.status, 200, gone)
        self.assertEqual(self.entry("EMAIL", address).status, 404)
        self.assertEqual(self.call("DELETE", f"/api/suppressions/EMAIL:{address}",
                                   key=self.operator).status, 404)

    def test_bad_input_is_400_naming_field_and_rule_and_stores_nothing(self):
        before = self.stack.db.suppressions.count_documents({})
        cases = [
            ({"channel": "FAX", "recipient": "x"}, ("channel", "enum")),
            ({"channel": "WEBHOOK", "recipient": "https://a.example"}, ("channel", "enum")),
            ({"recipient": "a@example.com"}, ("channel", "required")),
            ({"channel": "EMAIL"}, ("recipient", "required")),
            ({"channel": "EMAIL", "recipient": "not-an-address"}, ("recipient", "email")),
            ({"channel": "SMS", "recipient": "12345"}, ("recipient", "e164")),
            ({"channel": "EMAIL", "recipient": "a@example.com", "reason": "bored"}, ("reason", "enum")),
            ({"channel": "EMAIL", "recipient": "a@example.com", "extra": 1}, ("extra", "unknown")),
        ]
        for body, rule in cases:
            r = self.call("POST", "/api/suppressions", body, key=self.operator)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(rule, field_rules(r), body)
        self.assertIn(("entry", "format"),
                      field_rules(self.call("GET", "/api/suppressions/no-colon")))
        self.assertIn(("channel", "enum"),
                      field_rules(self.call("GET", "/api/suppressions?channel=FAX")))
        self.assertEqual(self.stack.db.suppressions.count_documents({}), before)

        prefs_before = self.stack.db.recipient_preferences.count_documents({})
        for body, rule in [
            ({"optOutChannels": ["FAX"], "optOutCategories": []}, ("optOutChannels", "enum")),
            ({"optOutChannels": [], "optOutCategories": ["Bad Name"]}, ("optOutCategories", "format")),
            ({"optOutChannels": ["SMS", "SMS"], "optOutCategories": []}, ("optOutChannels", "unique")),
            ({"optOutChannels": "SMS", "optOutCategories": []}, ("optOutChannels", "type")),
            ({"optOutCategories": []}, ("optOutChannels", "required")),
            ({"optOutChannels": [], "optOutCategories": [], "x": 1}, ("x", "unknown")),
        ]:
            r = self.call("PUT", "/api/preferences/user-bad", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(rule, field_rules(r), body)
        self.assertEqual(self.stack.db.recipient_preferences.count_documents({}), prefs_before)
        for path, body, rule in [
            ("/api/categories/otp", {"transactional": "yes"}, ("transactional", "type")),
            ("/api/categories/otp", {}, ("transactional", "required")),
            ("/api/categories/Not%20Valid", {"transactional": True}, ("name", "format")),
        ]:
            r = self.call("PUT", path, body, key=self.operator)
            self.assertEqual(r.status, 400, (path, body, r))
            self.assertIn(rule, field_rules(r))
        bad = self.call("POST", "/api/notifications",
                        {"type": "SMS", "recipient": "+14155550100", "message": "x",
                         "category": "Has Space", "userId": "a/b"})
        self.assertEqual(bad.status, 400, bad)
        self.assertIn(("category", "format"), field_rules(bad))
        self.assertIn(("userId", "format"), field_rules(bad))

    def test_wavecomctl_lists_adds_and_removes(self):
        number = "+1415777" + str(uuid.uuid4().int)[:4]
        out = self.stack.ctl("suppressions", "add", "--tenant", self.tenant, "SMS", number,
                             "--reason", "complaint", "--json").stdout
        self.assertIn('"suppressed": true', out)
        r = self.entry("SMS", number)
        self.assertEqual((r.json["data"]["reason"], r.json["data"]["source"]), ("complaint", "wavecomctl"))
        listed = json.loads(self.stack.ctl("suppressions", "list", "--tenant", self.tenant,
                                           "--channel", "SMS", "--json").stdout)
        self.assertIn(number, [row["recipient"] for row in listed])
        self.assertIn(number, self.stack.ctl("suppressions", "list", "--tenant", self.tenant).stdout)
        self.stack.ctl("suppressions", "remove", "--tenant", self.tenant, "SMS", number)
        self.assertEqual(self.entry("SMS", number).status, 404)
        again = self.stack.ctl("suppressions", "remove", "--tenant", self.tenant, "SMS", number,
                               check=False)
        self.assertEqual(again.returncode, 3, again.stderr)
        for args in (["add", "--tenant", self.tenant, "FAX", number],
                     ["add", "--tenant", self.tenant, "SMS", "12"],
                     ["add", "--tenant", self.tenant, "SMS", number, "--reason", "bored"],
                     ["add", "SMS", number]):
            bad = self.stack.ctl("suppressions", *args, check=False)
            self.assertEqual(bad.returncode, 2, (args, bad.stderr))
        self.assertEqual(self.entry("SMS", number).status, 404)

    # -- preferences and categories --

    def test_opt_out_per_channel_and_category_and_transactional_categories(self):
        user = "user-" + uuid.uuid4().hex[:8]
        r = self.call("PUT", f"/api/preferences/{user}",
                      {"optOutChannels": ["SMS"], "optOutCategories": ["marketing"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"]["optOutChannels"], ["SMS"])
        r = self.call("PUT", "/api/categories/otp", {"transactional": True}, key=self.operator)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.call("GET", "/api/categories/otp").json["data"]["transactional"], True)
        mail = f"pref-{uuid.uuid4().hex[:6]}@example.com"
        number = "+1415666" + str(uuid.uuid4().int)[:4]

        sms = self.create({"type": "SMS", "recipient": number, "message": "x", "userId": user})
        promo = self.create({"type": "EMAIL", "recipient": mail, "subject": "s", "message": "m",
                             "userId": user, "category": "marketing"})
        news = self.create({"type": "EMAIL", "recipient": mail, "subject": "s", "message": "m",
                            "userId": user, "category": "news"})
        otp = self.create({"type": "SMS", "recipient": number, "message": "code 1234",
                           "userId": user, "category": "otp"})
        self.assert_suppressed(sms, f"user {user} opted out of SMS")
        self.assert_suppressed(promo, f"user {user} opted out of category marketing")
        self.final(news, "SENT")
        self.final(otp, "SENT")

        # Transactional passes an unsubscribe, never an invalid address.
        self.call("POST", "/api/suppressions",
                  {"channel": "SMS", "recipient": number, "reason": "unsubscribed"}, key=self.operator)
        self.final(self.create({"type": "SMS", "recipient": number, "message": "code 5678",
                                "userId": user, "category": "otp"}), "SENT")
        self.call("POST", "/api/suppressions",
                  {"channel": "SMS", "recipient": number, "reason": "hard_bounce"}, key=self.operator)
        self.assert_suppressed(self.create({"type": "SMS", "recipient": number, "message": "c",
                                            "userId": user, "category": "otp"}),
                               "suppression list (hard_bounce)")

        self.assertEqual(self.call("DELETE", f"/api/preferences/{user}").status, 200)
        self.assertEqual(self.call("GET", f"/api/preferences/{user}").status, 404)

    # -- the RFC 8058 link --

    def test_unsubscribe_link_once_twice_tampered_and_expired(self):
        address = f"reader-{uuid.uuid4().hex[:8]}@example.com"
        nid = self.create({"type": "EMAIL", "recipient": address, "subject": "News", "message": "m"})
        self.final(nid, "SENT")
        mail = wait_until(lambda: mails_for([nid]).get(nid), 30, what="the email in the Maildir")[0]
        self.assertEqual(mail["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        link = mail["List-Unsubscribe"].strip()
        self.assertTrue(link.startswith(f"<{PUBLIC_BASE}/unsubscribe?token=") and link.endswith(">"), link)
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link[1:-1]).query)["token"][0]
        path = "/unsubscribe?token=" + token

        page = self.stack.request("GET", path)
        self.assertEqual(page.status, 200, page)
        self.assertIn(b"<form method=\"post\"", page.raw)
        self.assertEqual(self.entry("EMAIL", address).status, 404, "a GET must change nothing")

        once = self.stack.request("POST", path, raw=b"List-Unsubscribe=One-Click",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(once.status, 200, once)
        self.assertFalse(once.json["data"]["alreadyUnsubscribed"])
        twice = self.stack.request("POST", path, raw=b"List-Unsubscribe=One-Click",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(twice.status, 200, twice)
        self.assertTrue(twice.json["data"]["alreadyUnsubscribed"])
        r = self.entry("EMAIL", address)
        self.assertEqual((r.json["data"]["reason"], r.json["data"]["source"]),
                         ("unsubscribed", "unsubscribe-link"))
        self.assertEqual(self.stack.db.suppressions.count_documents({"recipient": address}), 1)
        self.assert_suppressed(self.create({"type": "EMAIL", "recipient": address, "subject": "s",
                                            "message": "m"}), "suppression list (unsubscribed)")

        other = f"victim-{uuid.uuid4().hex[:8]}@example.com"
        head, mac = token.rsplit(".", 1)
        parts = head.split(".")
        parts[3] = b64url(other.encode())
        tampered = ".".join(parts) + "." + mac
        flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        expired = sign_token(self.tenant, "EMAIL", other, int(time.time()) - 5)
        fresh = sign_token(self.tenant, "EMAIL", other, int(time.time()) + 600)
        for bad, rule in [(tampered, "signature"), (flipped, "signature"),
                          (expired, "expired"), ("not-a-token", "format")]:
            r = self.stack.request("POST", "/unsubscribe?token=" + bad)
            self.assertEqual(r.status, 400, (bad, r))
            self.assertIn(("token", rule), field_rules(r))
        self.assertIn(("token", "required"), field_rules(self.stack.request("POST", "/unsubscribe")))
        self.assertEqual(self.entry("EMAIL", other).status, 404)
        # The same rules written independently in Python make a token the API accepts.
        self.assertEqual(self.stack.request("POST", "/unsubscribe?token=" + fresh).status, 200)
        self.assertEqual(self.entry("EMAIL", other).status, 200)


if __name__ == "__main__":
    unittest.main()
