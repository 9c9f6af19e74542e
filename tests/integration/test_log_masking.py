"""After a workload over every channel — deliveries, permanent and transient
failures, refused keys, at debug level — neither the API's nor the worker's
log holds an API key, the webhook secret, the provider's token, or a full
recipient address (email, phone number, device token, webhook path)."""
import unittest
import uuid

import providers
from harness import Stack, close_cleanly, purge_queues, wait_until


class LogMaskingTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        providers.reset()
        env = providers.worker_env()
        env.update({"WAVECOM_LOG_LEVEL": "debug", "WAVECOM_MAX_RETRIES": "1"})
        self.stack = Stack(workers=1, env=env)
        self.stack.start_api()
        self.stack.start_worker()

    def tearDown(self):
        close_cleanly(self.stack)

    def test_logs_hold_no_secret_and_no_full_recipient(self):
        tenant, key = self.stack.new_tenant_key(role="admin")
        secret = self.stack.db.tenants.find_one({"_id": tenant})["webhookSecret"]
        hook_path = f"/mask-{tenant}/s3cr3t-{uuid.uuid4().hex}"
        providers.register_webhook_secret(f"/mask-{tenant}", secret)
        tag = uuid.uuid4().hex[:10]
        email_to = f"alice.{tag}@example.com"
        phone_ok, phone_bad = "+14155557" + tag[:0] + "123", "+15550001234"
        fcm_token = "fcm:" + "A" * 20 + tag + "b" * 60
        sent = [
            {"type": "EMAIL", "recipient": email_to, "subject": "s", "message": "m"},
            {"type": "SMS", "recipient": phone_ok, "message": "code 1"},
            {"type": "SMS", "recipient": phone_bad, "message": "code 2"},  # 21610, permanent
            {"type": "PUSH", "platform": "fcm", "recipient": fcm_token, "message": "p"},
            {"type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + hook_path, "message": "w",
             "payload": {"a": 1}},
            {"type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + f"/gone/{tenant}/{tag}",
             "message": "g", "payload": {"a": 1}},  # 410, permanent
        ]
        ids = []
        for body in sent:
            r = self.stack.request("POST", "/api/notifications", key=key, body=body,
                                   headers={"X-Request-Id": f"mask-{tag}"})
            self.assertEqual(r.status, 201, r)
            ids.append(r.json["data"]["_id"])
        wrong = "wck_" + "0" * 48
        self.assertEqual(self.stack.request("GET", "/api/notifications", key=wrong).status, 401)
        self.assertEqual(self.stack.request("GET", "/api/notifications",
                                            headers={"Authorization": "Bearer " + key[:-1]}).status, 401)

        def settled():
            statuses = [self.stack.get(key, i).json["data"]["notification"]["status"] for i in ids]
            return all(s in ("SENT", "FAILED") for s in statuses)
        wait_until(settled, 90, interval=0.5, what="the workload to settle")
        self.stack.close()

        logs = self.stack.log("api", whole=True) + self.stack.log("worker", whole=True)
        self.assertIn("sent via", logs)  # the workload was logged at all
        forbidden = {
            "the API key": key, "a refused key": wrong, "the webhook secret": secret,
            "the webhook secret's key": secret[len("whsec_"):],
            "the Twilio token": providers.worker_env()["WAVECOM_TWILIO_AUTH_TOKEN"],
            "the email address": email_to, "its local part": f"alice.{tag}",
            "the phone number": phone_ok, "the failing phone number": phone_bad,
            "the device token": fcm_token, "the webhook path": hook_path,
        }
        for what, value in forbidden.items():
            with self.subTest(what=what):
                self.assertNotIn(value, logs)


if __name__ == "__main__":
    unittest.main()
