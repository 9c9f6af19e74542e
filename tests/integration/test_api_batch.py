"""POST /api/notifications/batch, and the group commit under single requests."""
import re
import threading
import unittest
import uuid

from bson import ObjectId

from api_support import later, call, email, field_rules, post, push, sms, wait_for, webhook
from harness import StackTestCase, mails_for

LATER = later()
BATCH = "/api/notifications/batch"


def commits(stack):
    """wavecom_intake_commits_total and _items_total from /api/metrics."""
    text = call(stack, "GET", "/api/metrics").text
    values = {}
    for name in ("wavecom_intake_commits_total", "wavecom_intake_items_total"):
        values[name] = int(re.search(rf"^{name} (\d+)$", text, re.M).group(1))
    return values["wavecom_intake_commits_total"], values["wavecom_intake_items_total"]


class BatchTest(StackTestCase):
    """No worker: what the API stored stays as it left it."""

    ENV = {"WAVECOM_API_MAX_BATCH_BODY_BYTES": "262144"}

    def batch(self, items, **kw):
        # A thousand status writes can take a while on the SQLite FerretDB (its writes cost
        # in proportion to the collection): a generous bound, no timing asserted.
        kw.setdefault("timeout", 600)
        return call(self.stack, "POST", BATCH, body={"notifications": items}, key=self.key, **kw)

    def stored(self, ids):
        return {str(d["_id"]): d for d in self.stack.db.notifications.find(
            {"_id": {"$in": [ObjectId(i) for i in ids]}})}

    def test_all_valid_are_created_in_request_order(self):
        items = [email(priority="CRITICAL"), sms(priority="LOW"), push(title="t"),
                 webhook(), push("apns"), sms(scheduledAt=LATER)]
        r = self.batch(items)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["success"])
        results = r.json["data"]["results"]
        self.assertEqual([x["index"] for x in results], list(range(len(items))))
        self.assertEqual([x["code"] for x in results], [201] * len(items))
        self.assertEqual(r.json["data"]["summary"], {"total": 6, "created": 6, "replayed": 0,
                                                     "failed": 0})
        docs = self.stored([x["id"] for x in results])
        for item, result in zip(items, results):
            doc = docs[result["id"]]
            self.assertEqual(doc["recipient"], item["recipient"])
            self.assertEqual(doc["type"], item["type"])
        self.assertEqual([x["status"] for x in results], ["QUEUED"] * 5 + ["SCHEDULED"])
        self.assertEqual(results[5]["scheduledAt"], LATER.replace("Z", ".000Z"))
        self.assertEqual(docs[results[5]["id"]]["status"], "SCHEDULED")

    def test_invalid_items_are_reported_and_not_stored(self):
        before = self.stack.db.notifications.count_documents({})
        items = [sms(), sms(recipient="12"), email(subject=None), webhook(),
                 {"type": "PUSH"}, 42, None, sms(colour="red")]
        items[2].pop("subject")
        r = self.batch(items)
        self.assertEqual(r.status, 207, r)
        self.assertFalse(r.json["success"])
        results = r.json["data"]["results"]
        self.assertEqual([x["code"] for x in results], [201, 400, 400, 201, 400, 400, 400, 400])
        self.assertIn(("recipient", "e164"), [(e["field"], e["rule"]) for e in results[1]["errors"]])
        self.assertIn(("subject", "required"), [(e["field"], e["rule"]) for e in results[2]["errors"]])
        self.assertEqual({(e["field"], e["rule"]) for e in results[4]["errors"]},
                         {("recipient", "required"), ("platform", "required"),
                          ("message", "required")})
        self.assertIn(("body", "type"), [(e["field"], e["rule"]) for e in results[5]["errors"]])
        self.assertIn(("body", "type"), [(e["field"], e["rule"]) for e in results[6]["errors"]])
        self.assertIn(("colour", "unknown"), [(e["field"], e["rule"]) for e in results[7]["errors"]])
        for bad in (1, 2, 4, 5, 6, 7):
            self.assertNotIn("id", results[bad])
        self.assertEqual(r.json["data"]["summary"]["created"], 2)
        self.assertEqual(self.stack.db.notifications.count_documents({}), before + 2)
        self.assertEqual(set(self.stored([results[0]["id"], results[3]["id"]])),
                         {results[0]["id"], results[3]["id"]})

    def test_a_batch_with_nothing_valid_is_400_and_writes_nothing(self):
        before = self.stack.db.notifications.count_documents({})
        r = self.batch([sms(recipient="x"), {"type": "FAX"}])
        self.assertEqual(r.status, 400, r)
        self.assertEqual([x["code"] for x in r.json["data"]["results"]], [400, 400])
        self.assertEqual(self.stack.db.notifications.count_documents({}), before)

    def test_a_thousand_in_one_group_commit(self):
        c0, i0 = commits(self.stack)
        items = [sms(metadata={"n": i}) if i % 2 else email(metadata={"n": i}) for i in range(1000)]
        r = self.batch(items)
        self.assertEqual(r.status, 201, r)
        results = r.json["data"]["results"]
        self.assertEqual(len(results), 1000)
        self.assertEqual(len({x["id"] for x in results}), 1000)
        docs = self.stored([x["id"] for x in results])
        self.assertEqual(len(docs), 1000)
        for n, x in enumerate(results):
            self.assertEqual(docs[x["id"]]["metadata"], {"n": n})
            self.assertEqual(docs[x["id"]]["status"], "QUEUED")
        c1, i1 = commits(self.stack)
        # One bulk insert + one batch of confirms for all thousand.
        self.assertEqual((c1 - c0, i1 - i0), (1, 1000))

    def test_concurrent_single_requests_share_commits(self):
        c0, i0 = commits(self.stack)
        barrier = threading.Barrier(100)
        codes = []

        def send():
            barrier.wait()
            codes.append(post(self.stack, self.key, sms()).status)

        threads = [threading.Thread(target=send) for _ in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(codes, [201] * 100)
        c1, i1 = commits(self.stack)
        self.assertEqual(i1 - i0, 100)
        # Grouped: fewer commits than requests (each request its own commit
        # would mean one database and one broker round trip per request).
        self.assertLess(c1 - c0, 100)

    def test_malformed_batches(self):
        cases = [
            ({"notifications": []}, 400, "notifications", "length"),
            ({"notifications": {}}, 400, "notifications", "type"),
            ({}, 400, "notifications", "required"),
            ({"notifications": [sms()], "dryRun": True}, 400, "dryRun", "unknown"),
            ([sms()], 400, "body", "type"),
            ({"notifications": [sms()] * 1001}, 413, "notifications", "size"),
        ]
        before = self.stack.db.notifications.count_documents({})
        for body, status, field, rule in cases:
            with self.subTest(body=str(body)[:60]):
                r = call(self.stack, "POST", BATCH, body=body, key=self.key)
                self.assertEqual(r.status, status, r)
                self.assertIn((field, rule), field_rules(r), r)
        r = call(self.stack, "POST", BATCH, raw=b'{"notifications": [', key=self.key,
                 headers={"Content-Type": "application/json"})
        self.assertIn(("body", "json"), field_rules(r))
        self.assertEqual(self.stack.db.notifications.count_documents({}), before)

    def test_body_limits(self):
        # Larger than a single request may be, within the batch limit.
        items = [sms(metadata={"pad": "x" * 1000}) for _ in range(150)]
        r = self.batch(items)
        self.assertEqual(r.status, 201, r)
        huge = call(self.stack, "POST", "/api/notifications", key=self.key,
                    raw=b'{"pad":"' + b"x" * 140000 + b'"}',
                    headers={"Content-Type": "application/json"})
        self.assertEqual(huge.status, 413, huge)
        too_big = call(self.stack, "POST", BATCH, key=self.key,
                       raw=b'{"notifications":[{"pad":"' + b"x" * 270000 + b'"}]}',
                       headers={"Content-Type": "application/json"})
        self.assertEqual(too_big.status, 413, too_big)
        self.assertIn("262144", too_big.json["message"])


class BatchDeliveryTest(StackTestCase):
    """A batch goes all the way to the SMTP server."""

    WORKERS = 2
    WORKER = True

    def test_batch_emails_are_delivered(self):
        marker = uuid.uuid4().hex[:8]
        items = [email(subject=f"batch {marker} {i}", priority="HIGH" if i % 3 == 0 else "LOW")
                 for i in range(30)]
        r = call(self.stack, "POST", BATCH, body={"notifications": items}, key=self.key)
        self.assertEqual(r.status, 201, r)
        ids = [x["id"] for x in r.json["data"]["results"]]
        wait_for(lambda: len(mails_for(ids)) == 30, 60, interval=0.5, what="30 mails")
        mails = mails_for(ids)
        for nid, item in zip(ids, items):
            self.assertEqual(len(mails[nid]), 1)
            self.assertEqual(str(mails[nid][0]["Subject"]), item["subject"])
        for nid in ids:
            self.stack.wait_for_status(self.key, nid, "SENT")


if __name__ == "__main__":
    unittest.main()
