"""All four channels on POST /api/notifications: what each stores, and every
validation rule of each, over HTTP against the real services."""
import unittest

from bson import ObjectId

from api_support import APNS_TOKEN, email, field_rules, post, push, sms, webhook
from harness import StackTestCase

# (description, body, field, rule): one line per rule and channel.
RULES = [
    # every channel
    ("type missing", {"recipient": "+14155550100", "message": "m"}, "type", "required"),
    ("type unknown", sms(type="FAX"), "type", "enum"),
    ("type lowercase", sms(type="sms"), "type", "enum"),
    ("type not a string", sms(type=3), "type", "type"),
    ("recipient missing", {"type": "SMS", "message": "m"}, "recipient", "required"),
    ("recipient not a string", sms(recipient=14155550100), "recipient", "type"),
    ("recipient empty", webhook(recipient=""), "recipient", "length"),
    ("recipient with NUL", sms(recipient="+1415\u00005550100"), "recipient", "nul"),
    ("priority unknown", sms(priority="URGENT"), "priority", "enum"),
    ("priority not a string", sms(priority=1), "priority", "type"),
    ("maxRetries too big", sms(maxRetries=11), "maxRetries", "range"),
    ("maxRetries huge", sms(maxRetries=10 ** 40), "maxRetries", "range"),
    ("maxRetries negative", sms(maxRetries=-1), "maxRetries", "range"),
    ("maxRetries decimal", sms(maxRetries=1.5), "maxRetries", "type"),
    ("metadata not an object", sms(metadata=[1]), "metadata", "type"),
    ("metadata too large", sms(metadata={"pad": "x" * 17000}), "metadata", "size"),
    ("metadata key with a dot", sms(metadata={"a.b": 1}), "metadata", "key"),
    ("metadata key with $", sms(metadata={"x": {"$where": 1}}), "metadata", "key"),
    ("metadata huge integer", sms(metadata={"n": 2 ** 70}), "metadata", "number"),
    ("scheduledAt not a string", sms(scheduledAt=1733913000), "scheduledAt", "type"),
    ("scheduledAt without a zone", sms(scheduledAt="2030-01-01T09:00:00"), "scheduledAt", "format"),
    ("scheduledAt not a date", sms(scheduledAt="tomorrow"), "scheduledAt", "format"),
    ("scheduledAt impossible day", sms(scheduledAt="2030-02-30T09:00:00Z"), "scheduledAt", "format"),
    ("scheduledAt too far ahead", sms(scheduledAt="2999-01-01T00:00:00Z"), "scheduledAt", "range"),
    ("unknown field", sms(colour="red"), "colour", "unknown"),
    ("status is not the client's", sms(status="SENT"), "status", "unknown"),
    ("message with NUL", sms(message="a\u0000b"), "message", "nul"),
    # EMAIL
    ("email address", email(recipient="not-an-email"), "recipient", "email"),
    ("email without a TLD", email(recipient="a@localhost"), "recipient", "email"),
    ("email too long", email(recipient="a" * 64 + "@" + "b" * 190 + ".com"), "recipient", "email"),
    ("email subject missing", {"type": "EMAIL", "recipient": "a@example.com", "message": "m"},
     "subject", "required"),
    ("email subject too long", email(subject="s" * 256), "subject", "length"),
    ("email subject empty", email(subject=""), "subject", "length"),
    ("email subject header injection", email(subject="Hi\r\nBcc: x@example.com"), "subject", "control"),
    ("email subject not a string", email(subject=["s"]), "subject", "type"),
    ("email message too long", email(message="x" * 5001), "message", "length"),
    ("email message empty", email(message=""), "message", "length"),
    ("email message missing", {"type": "EMAIL", "recipient": "a@example.com", "subject": "s"},
     "message", "required"),
    ("email with platform", email(platform="fcm"), "platform", "unexpected"),
    ("email with title", email(title="t"), "title", "unexpected"),
    ("email with data", email(data={}), "data", "unexpected"),
    ("email with payload", email(payload={}), "payload", "unexpected"),
    # SMS
    ("sms without +", sms(recipient="14155550100"), "recipient", "e164"),
    ("sms starting with 0", sms(recipient="+04155550100"), "recipient", "e164"),
    ("sms too short", sms(recipient="+1234567"), "recipient", "e164"),
    ("sms too long", sms(recipient="+1234567890123456"), "recipient", "e164"),
    ("sms with spaces", sms(recipient="+1 415 555 0100"), "recipient", "e164"),
    ("sms an email", sms(recipient="a@example.com"), "recipient", "e164"),
    ("sms message over 1600", sms(message="é" * 1601), "message", "length"),
    ("sms message missing", {"type": "SMS", "recipient": "+14155550100"}, "message", "required"),
    ("sms with subject", sms(subject="s"), "subject", "unexpected"),
    ("sms with payload", sms(payload={"a": 1}), "payload", "unexpected"),
    # PUSH
    ("push platform missing", {"type": "PUSH", "recipient": "tok", "message": "m"}, "platform", "required"),
    ("push platform unknown", push(platform="gcm"), "platform", "enum"),
    ("push platform not a string", push(platform=["fcm"]), "platform", "type"),
    ("push token with space", push(recipient="bad token"), "recipient", "token"),
    ("push token with slash", push(recipient="a/b"), "recipient", "token"),
    ("push token too long", push(recipient="t" * 4097), "recipient", "token"),
    ("apns token not hex", push("apns", recipient="z" * 64), "recipient", "token"),
    ("apns token too short", push("apns", recipient="ab" * 31), "recipient", "token"),
    ("apns token too long", push("apns", recipient="ab" * 101), "recipient", "token"),
    ("push title too long", push(title="t" * 256), "title", "length"),
    ("push title with newline", push(title="a\nb"), "title", "control"),
    ("push title not a string", push(title=1), "title", "type"),
    ("push data not an object", push(data=["a"]), "data", "type"),
    ("push data value not a string", push(data={"n": 1}), "data", "type"),
    ("push data too large", push(data={"k": "v" * 4100}), "data", "size"),
    ("push data key with a dot", push(data={"a.b": "c"}), "data", "key"),
    ("push message missing", {"type": "PUSH", "recipient": "tok", "platform": "fcm"}, "message", "required"),
    ("push message too long", push(message="m" * 5001), "message", "length"),
    ("push with subject", push(subject="s"), "subject", "unexpected"),
    ("push with payload", push(payload={}), "payload", "unexpected"),
    # WEBHOOK
    ("webhook http refused", webhook(recipient="http://hooks.example.com/x"), "recipient", "scheme"),
    ("webhook other scheme", webhook(recipient="ftp://hooks.example.com/x"), "recipient", "scheme"),
    ("webhook not a URL", webhook(recipient="hooks.example.com/x"), "recipient", "url"),
    ("webhook credentials", webhook(recipient="https://u:p@hooks.example.com/x"), "recipient", "userinfo"),
    ("webhook fragment", webhook(recipient="https://hooks.example.com/x#f"), "recipient", "fragment"),
    ("webhook bad port", webhook(recipient="https://hooks.example.com:99999/x"), "recipient", "url"),
    ("webhook bad host", webhook(recipient="https://exa mple.com/x"), "recipient", "url"),
    ("webhook space in path", webhook(recipient="https://hooks.example.com/a b"), "recipient", "url"),
    ("webhook URL too long", webhook(recipient="https://e.com/" + "p" * 2040), "recipient", "url"),
    ("webhook payload missing", {"type": "WEBHOOK", "recipient": "https://e.com/x"}, "payload", "required"),
    ("webhook payload a string", webhook(payload="{}"), "payload", "type"),
    ("webhook payload a number", webhook(payload=5), "payload", "type"),
    ("webhook payload too large", webhook(payload={"k": "x" * 65540}), "payload", "size"),
    ("webhook payload key with $", webhook(payload={"$set": {"a": 1}}), "payload", "key"),
    ("webhook payload huge number", webhook(payload=[{"n": -(2 ** 64)}]), "payload", "number"),
    ("webhook message empty", webhook(message=""), "message", "length"),
    ("webhook with subject", webhook(subject="s"), "subject", "unexpected"),
    ("webhook with title", webhook(title="t"), "title", "unexpected"),
]


class ChannelsTest(StackTestCase):
    """No worker runs: the documents stay as the API left them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.created = set()

    def create(self, body):
        r = post(self.stack, self.key, body)
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        self.created.add(nid)
        doc = self.stack.db.notifications.find_one({"_id": ObjectId(nid)})
        self.assertIsNotNone(doc)
        return r.json["data"], doc

    def test_email_stored_with_subject(self):
        data, doc = self.create(email(priority="HIGH", metadata={"userId": "42"}))
        self.assertEqual(data["status"], "QUEUED")
        self.assertEqual(doc["status"], "QUEUED")
        self.assertEqual(doc["subject"], "Subject")
        for absent in ("platform", "title", "data", "payload"):
            self.assertNotIn(absent, doc)

    def test_sms_stored_without_subject(self):
        data, doc = self.create(sms(message="é" * 1600))
        self.assertEqual(doc["type"], "SMS")
        self.assertEqual(doc["recipient"], "+14155550100")
        self.assertEqual(len(doc["message"]), 1600)
        self.assertNotIn("subject", doc)

    def test_push_stored_with_platform_title_data(self):
        data, doc = self.create(push(title="Parcel", data={"orderId": "A-17", "kind": "parcel"}))
        self.assertEqual(doc["platform"], "fcm")
        self.assertEqual(doc["title"], "Parcel")
        self.assertEqual(doc["data"], {"orderId": "A-17", "kind": "parcel"})
        self.assertEqual(doc["message"], "You have a parcel")
        self.assertEqual(data["platform"], "fcm")
        _, doc = self.create(push("apns"))
        self.assertEqual(doc["platform"], "apns")
        self.assertEqual(doc["recipient"], APNS_TOKEN)
        self.assertNotIn("title", doc)

    def test_webhook_stored_with_payload_as_given(self):
        payload = {"event": "payment.settled", "amount": 1250, "ratio": 0.25, "ok": True,
                   "none": None, "nested": {"list": [1, "two", {"three": 3}]}, "unicode": "€"}
        data, doc = self.create(webhook(payload=payload, priority="CRITICAL"))
        self.assertEqual(doc["payload"], payload)
        self.assertEqual(data["payload"], payload)
        self.assertNotIn("message", doc)
        _, doc = self.create(webhook(payload=[1, 2, 3], message="a list"))
        self.assertEqual(doc["payload"], [1, 2, 3])
        self.assertEqual(doc["message"], "a list")

    def test_metadata_kept_as_given(self):
        metadata = {"userId": "12345", "campaign": "onboarding", "n": -7, "x": 1.5,
                    "flags": [True, False, None], "deep": {"a": {"b": "c"}}, "emoji": "🚀"}
        data, doc = self.create(sms(metadata=metadata))
        self.assertEqual(doc["metadata"], metadata)
        self.assertEqual(data["metadata"], metadata)

    def test_every_rule_names_its_field(self):
        for what, body, field, rule in RULES:
            with self.subTest(what):
                r = post(self.stack, self.key, body)
                self.assertEqual(r.status, 400, r)
                self.assertIn((field, rule), field_rules(r), r)
                self.assertFalse(r.json["success"])

    def test_all_violations_at_once(self):
        cases = [
            (email(recipient="bad", subject="", message="", priority="NOW"),
             {("recipient", "email"), ("subject", "length"), ("message", "length"),
              ("priority", "enum")}),
            (sms(recipient="555", message="x" * 1601, subject="s", maxRetries=99),
             {("recipient", "e164"), ("message", "length"), ("subject", "unexpected"),
              ("maxRetries", "range")}),
            ({"type": "PUSH", "recipient": "bad token", "title": "t" * 300, "data": [1]},
             {("platform", "required"), ("message", "required"), ("title", "length"),
              ("data", "type")}),
            (webhook(recipient="http://x.com/#a", payload="no", subject="s", extra=1),
             {("recipient", "scheme"), ("payload", "type"), ("subject", "unexpected"),
              ("extra", "unknown")}),
        ]
        for body, expected in cases:
            with self.subTest(body["type"]):
                r = post(self.stack, self.key, body)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(set(field_rules(r)), expected, r)

    def test_zz_only_valid_ones_were_stored(self):
        """Runs last: of everything posted here, only the 201s are in the database."""
        stored = {str(d["_id"]) for d in self.stack.db.notifications.find({}, {"_id": 1})}
        self.assertEqual(stored, self.created)
        self.assertEqual(self.stack.db.idempotency_keys.count_documents({}), 0)


class HttpWebhooksAllowedTest(StackTestCase):
    """WAVECOM_WEBHOOK_ALLOW_HTTP=1 admits http:// (loopback test doubles), nothing else."""

    ENV = {"WAVECOM_WEBHOOK_ALLOW_HTTP": "1"}

    def test_http_accepted_when_allowed(self):
        r = post(self.stack, self.key, webhook(recipient="http://127.0.0.1:9/hook"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["data"]["recipient"], "http://127.0.0.1:9/hook")

    def test_other_rules_still_apply(self):
        r = post(self.stack, self.key, webhook(recipient="ftp://127.0.0.1/hook"))
        self.assertIn(("recipient", "scheme"), field_rules(r), r)
        r = post(self.stack, self.key, webhook(recipient="http://u:p@127.0.0.1/hook"))
        self.assertIn(("recipient", "userinfo"), field_rules(r), r)


if __name__ == "__main__":
    unittest.main()
