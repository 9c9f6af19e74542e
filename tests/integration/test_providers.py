"""Every channel over its real protocol, against the provider test doubles.

The doubles verify what the real providers verify — Twilio's basic auth, the
RS256 service-account JWT behind FCM's OAuth token, the ES256 APNs provider
token over HTTP/2, the Standard Webhooks signature — so a wrong key fails.
"""
import subprocess
import tempfile
import unittest
import urllib.parse
import uuid

import providers
from harness import Stack, purge_queues, wait_until


class ProvidersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        purge_queues()
        providers.reset()
        cls.stack = Stack(workers=1, env=providers.worker_env())
        cls.stack.start_api()
        cls.stack.start_worker()
        cls.tenant, cls.key = cls.stack.new_tenant_key()
        secret = cls.stack.db.tenants.find_one({"_id": cls.tenant})["webhookSecret"]
        cls.hook_prefix = f"/tenant-{cls.tenant}"
        providers.register_webhook_secret(cls.hook_prefix, secret)
        providers.register_webhook_secret(f"/gone/{cls.tenant}", secret)

    @classmethod
    def tearDownClass(cls):
        codes = cls.stack.close()
        assert codes == {"api": 0, "worker": 0}, (codes, cls.stack.log("worker"))

    def create(self, body):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body=body)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def final(self, nid, status, timeout=30):
        return self.stack.wait_for_status(self.key, nid, status, timeout).json["data"]

    def test_sms_via_twilio(self):
        nid = self.create({"type": "SMS", "recipient": "+14155550123", "message": "Your code is 1234"})
        data = self.final(nid, "SENT")
        self.assertTrue(data["notification"]["providerMessageId"].startswith("SM"))
        sent = [r for r in providers.last("twilio", 50) if nid in str(r)]
        self.assertTrue(sent, "the double did not record the request")
        form = urllib.parse.parse_qs(sent[-1]["body"])
        self.assertEqual(form["Body"], ["Your code is 1234"])
        self.assertEqual(form["To"], ["+14155550123"])

    def test_sms_unsubscribed_number_fails_without_retries(self):
        nid = self.create({"type": "SMS", "recipient": "+15550001234", "message": "hi"})
        data = self.final(nid, "FAILED")
        self.assertEqual(data["notification"]["retryCount"], 0)
        self.assertIn("21610", data["notification"]["error"])

    def test_push_via_fcm(self):
        nid = self.create({"type": "PUSH", "platform": "fcm", "recipient": "fcm-token-" + uuid.uuid4().hex,
                           "title": "Hello", "message": "From WaveCom", "data": {"orderId": "42"}})
        data = self.final(nid, "SENT")
        self.assertIn("/messages/", data["notification"]["providerMessageId"])

    def test_fcm_unregistered_token_is_permanent(self):
        nid = self.create({"type": "PUSH", "platform": "fcm", "recipient": "unregistered-abc",
                           "message": "gone"})
        data = self.final(nid, "FAILED")
        self.assertEqual(data["notification"]["retryCount"], 0)
        self.assertIn("UNREGISTERED", data["notification"]["error"])

    def test_push_via_apns_over_http2(self):
        token = uuid.uuid4().hex + uuid.uuid4().hex
        nid = self.create({"type": "PUSH", "platform": "apns", "recipient": token,
                           "title": "Hi", "message": "From WaveCom", "priority": "CRITICAL"})
        data = self.final(nid, "SENT")
        # The apns-id is a UUID carrying the notification id, the same on every attempt.
        self.assertEqual(data["notification"]["providerMessageId"].replace("-", ""), "00000000" + nid)

    def test_apns_gone_device_is_permanent(self):
        token = "dead" + uuid.uuid4().hex + uuid.uuid4().hex[:28]
        nid = self.create({"type": "PUSH", "platform": "apns", "recipient": token, "message": "x"})
        data = self.final(nid, "FAILED")
        self.assertIn("410", data["notification"]["error"])

    def test_signed_webhook(self):
        url = providers.WEBHOOK_URL + self.hook_prefix + "/orders"
        nid = self.create({"type": "WEBHOOK", "recipient": url, "message": "order paid",
                           "payload": {"event": "order.paid", "amount": 1250}})
        self.final(nid, "SENT")
        requests = [r for r in providers.last("webhook", 50) if nid in str(r)]
        self.assertTrue(requests)
        self.assertIn("order.paid", str(requests[-1]))

    def test_webhook_gone_endpoint_is_permanent(self):
        url = providers.WEBHOOK_URL + f"/gone/{self.tenant}/x"
        nid = self.create({"type": "WEBHOOK", "recipient": url, "message": "m", "payload": {"a": 1}})
        self.final(nid, "FAILED")


class WrongKeysTest(unittest.TestCase):
    """The doubles refuse what a real provider refuses: these must not be SENT."""

    @classmethod
    def setUpClass(cls):
        purge_queues()
        providers.reset()
        cls.keydir = tempfile.mkdtemp(prefix="wavecom-keys-")
        wrong_p8 = f"{cls.keydir}/wrong.p8"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", wrong_p8], check=True, capture_output=True)
        env = providers.worker_env()
        env.update({"WAVECOM_APNS_KEY_FILE": wrong_p8, "WAVECOM_TWILIO_AUTH_TOKEN": "not-the-token",
                    "WAVECOM_MAX_RETRIES": "0"})
        cls.stack = Stack(workers=1, env=env)
        cls.stack.start_api()
        cls.stack.start_worker()
        cls.tenant, cls.key = cls.stack.new_tenant_key()
        providers.register_webhook_secret(f"/wrong-{cls.tenant}",
                                          "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def failed_with(self, body, fragment):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body=body)
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        data = self.stack.wait_for_status(self.key, nid, "FAILED", 30).json["data"]
        self.assertIn(fragment, data["notification"]["error"])

    def test_apns_token_signed_with_another_key_is_refused(self):
        self.failed_with({"type": "PUSH", "platform": "apns", "recipient": "ab" * 32, "message": "x"},
                         "InvalidProviderToken")

    def test_twilio_wrong_auth_token_is_refused(self):
        self.failed_with({"type": "SMS", "recipient": "+14155550199", "message": "x"}, "401")

    def test_webhook_signed_with_another_secret_is_refused(self):
        url = providers.WEBHOOK_URL + f"/wrong-{self.tenant}/hook"
        self.failed_with({"type": "WEBHOOK", "recipient": url, "message": "m", "payload": {"a": 1}},
                         "401")


if __name__ == "__main__":
    unittest.main()
