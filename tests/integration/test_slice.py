"""The foundation slice: curl -> API -> database + RabbitMQ -> worker -> SMTP."""
import unittest
import uuid

from harness import StackTestCase, mails_for, wait_until


class SliceTest(StackTestCase):
    # Closed after the last test, where both services must shut down cleanly, with no leak reports.
    WORKERS = 2
    WORKER = True

    def test_health_reports_both_dependencies(self):
        r = self.stack.request("GET", "/api/health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "healthy")
        self.assertEqual(r.json["services"], {"mongodb": "connected", "rabbitmq": "connected"})
        self.assertIsInstance(r.json["uptime"], int)

    def test_email_goes_from_request_to_smtp_server(self):
        marker = uuid.uuid4().hex[:10]
        recipient = f"slice-{marker}@example.com"
        subject = f"Welcome {marker} — à bientôt"
        message = f"Thank you for signing up!\nLine two {marker}.\n. a line with a dot"
        r = self.stack.create_email(self.key, recipient, subject, message, priority="HIGH",
                                    metadata={"userId": "12345", "campaign": "onboarding"})
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["success"])
        self.assertEqual(r.json["message"], "Notification created and queued successfully")
        data = r.json["data"]
        nid = data["_id"]
        self.assertEqual(r.headers["Location"], f"/api/notifications/{nid}")
        self.assertIn(data["status"], ("QUEUED", "PROCESSING", "SENT"))
        self.assertEqual(data["priority"], "HIGH")
        self.assertEqual(data["retryCount"], 0)
        self.assertEqual(data["maxRetries"], 3)
        self.assertEqual(data["metadata"], {"userId": "12345", "campaign": "onboarding"})
        self.assertEqual(data["tenantId"], self.tenant)

        self.stack.wait_for_status(self.key, nid, "SENT", timeout=30)

        # The worker writes the trail entries of its claim and its outcome together, just after
        # the outcome (docs/ARCHITECTURE.md §3.2): until then the trail ends with the document's
        # `last` and lacks the claim's PROCESSING entry.
        def whole_trail():
            r = self.stack.get(self.key, nid)
            return r.json["data"] if len(r.json["data"]["logs"]) == 4 else None
        got = wait_until(whole_trail, 10, what="the claim's and the outcome's trail entries")
        n = got["notification"]
        self.assertEqual(n["recipient"], recipient)
        self.assertIn("sentAt", n)
        self.assertIsInstance(n["processingTimeMs"], int)
        self.assertEqual(n["providerMessageId"], f"<{nid}@wavecom.local>")
        self.assertNotIn("lease", n)
        self.assertNotIn("lastToken", n)  # the lease token stays inside WaveCom
        self.assertEqual([log["status"] for log in got["logs"]],
                         ["PENDING", "QUEUED", "PROCESSING", "SENT"])
        for log in got["logs"]:
            self.assertEqual(log["notificationId"], nid)
            self.assertTrue(log["timestamp"].endswith("Z"))
        self.assertTrue(got["logs"][3]["actor"].startswith("worker:"))

        mails = wait_until(lambda: mails_for([nid]).get(nid), 10, what="the mail in the catcher")
        self.assertEqual(len(mails), 1)
        mail = mails[0]
        self.assertEqual(mail["To"], recipient)
        self.assertEqual(str(mail["Subject"]), subject)
        self.assertEqual(mail["Message-ID"], f"<{nid}@wavecom.local>")
        self.assertEqual(mail.get_content().replace("\r\n", "\n"), message)

    def test_priority_defaults_to_medium(self):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body={
            "type": "EMAIL", "recipient": "default-prio@example.com",
            "subject": "s", "message": "m"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["data"]["priority"], "MEDIUM")
        self.stack.wait_for_status(self.key, r.json["data"]["_id"], "SENT")

    def test_request_id_becomes_the_correlation_id(self):
        r = self.stack.request("POST", "/api/notifications", key=self.key,
                               headers={"X-Request-Id": "trace-abc-123"},
                               body={"type": "EMAIL", "recipient": "trace@example.com",
                                     "subject": "s", "message": "m"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers["X-Request-Id"], "trace-abc-123")
        self.assertEqual(r.json["data"]["correlationId"], "trace-abc-123")


if __name__ == "__main__":
    unittest.main()
