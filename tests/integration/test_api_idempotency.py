"""Idempotency-Key: one notification per key and tenant within 24 hours,
enforced by a unique key in the database, safe under concurrent duplicates."""
import datetime
import hashlib
import json
import threading
import unittest
import uuid

from bson import ObjectId

from api_support import call, email, field_rules, post, sms, webhook
from harness import StackTestCase, trail

UTC = datetime.timezone.utc


class IdempotencyTest(StackTestCase):

    def post_with(self, body, idem, key=None):
        return post(self.stack, key or self.key, body, headers={"Idempotency-Key": idem})

    def count(self, **filter_):
        return self.stack.db.notifications.count_documents(filter_)

    def test_repeat_returns_the_original_and_creates_nothing(self):
        idem = "order-" + uuid.uuid4().hex
        body = sms(metadata={"order": 1, "lines": [1, 2]})
        first = self.post_with(body, idem)
        self.assertEqual(first.status, 201, first)
        nid = first.json["data"]["_id"]
        self.assertEqual(first.json["data"]["idempotencyKey"], idem)
        self.assertIsNone(first.header("Idempotent-Replayed"))
        # The same request again, and again with keys reordered and other spacing.
        for raw in (None, b'{"metadata": {"lines": [1,2], "order": 1}, "message": "Your code is 1234",'
                          b' "recipient": "+14155550100", "type": "SMS"}'):
            if raw is None:
                again = self.post_with(body, idem)
            else:
                again = call(self.stack, "POST", "/api/notifications", raw=raw, key=self.key,
                             headers={"Idempotency-Key": idem, "Content-Type": "application/json"})
            self.assertEqual(again.status, 200, again)
            self.assertEqual(again.json["data"]["_id"], nid)
            self.assertEqual(again.header("Idempotent-Replayed"), "true")
            self.assertEqual(again.header("Location"), f"/api/notifications/{nid}")
        self.assertEqual(self.count(idempotencyKey=idem), 1)
        self.assertEqual(self.stack.db.idempotency_keys.count_documents(
            {"_id": f"{self.tenant}:{idem}"}), 1)

    def test_reused_key_with_another_body_is_409(self):
        idem = "k-" + uuid.uuid4().hex
        self.assertEqual(self.post_with(sms(), idem).status, 201)
        other = self.post_with(sms(message="a different text"), idem)
        self.assertEqual(other.status, 409, other)
        self.assertFalse(other.json["success"])
        self.assertIn("different request", other.json["message"])
        self.assertEqual(self.count(idempotencyKey=idem), 1)

    def test_fifty_concurrent_duplicates_create_exactly_one(self):
        idem = "burst-" + uuid.uuid4().hex
        body = email(subject="once", message="only once")
        barrier = threading.Barrier(50)
        replies = [None] * 50

        def send(i):
            barrier.wait()
            replies[i] = self.post_with(body, idem)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status for r in replies)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertEqual(statuses.count(200), 49, statuses)
        ids = {r.json["data"]["_id"] for r in replies}
        self.assertEqual(len(ids), 1)
        self.assertEqual(self.count(idempotencyKey=idem), 1)
        doc = self.stack.db.notifications.find_one({"idempotencyKey": idem})
        self.assertEqual(str(doc["_id"]), ids.pop())
        self.assertEqual(doc["status"], "QUEUED")

    def test_keys_belong_to_their_tenant(self):
        idem = "shared-" + uuid.uuid4().hex
        _, other_key = self.stack.new_tenant_key(role="sender")
        a = self.post_with(sms(), idem)
        b = self.post_with(sms(), idem, key=other_key)
        self.assertEqual((a.status, b.status), (201, 201))
        self.assertNotEqual(a.json["data"]["_id"], b.json["data"]["_id"])

    def test_a_key_older_than_24_hours_is_free_again(self):
        idem = "old-" + uuid.uuid4().hex
        first = self.post_with(sms(), idem)
        self.assertEqual(first.status, 201)
        self.stack.db.idempotency_keys.update_one(
            {"_id": f"{self.tenant}:{idem}"},
            {"$set": {"createdAt": datetime.datetime.now(UTC) - datetime.timedelta(hours=25)}})
        second = self.post_with(sms(message="new day, new request"), idem)
        self.assertEqual(second.status, 201, second)
        self.assertNotEqual(second.json["data"]["_id"], first.json["data"]["_id"])
        record = self.stack.db.idempotency_keys.find_one({"_id": f"{self.tenant}:{idem}"})
        self.assertEqual(str(record["notificationId"]), second.json["data"]["_id"])

    def test_a_key_whose_request_died_is_reclaimed(self):
        """A record naming a notification that never appeared: after 30 s the
        key is handed on; before that the client is told to retry."""
        now = datetime.datetime.now(UTC)
        body = sms()
        # The request hash: SHA-256 of the body with sorted keys, compact.
        same = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                              .encode()).hexdigest()
        for age, expected in ((datetime.timedelta(seconds=40), 201),
                              (datetime.timedelta(seconds=0), 409)):
            idem = "orphan-" + uuid.uuid4().hex
            self.stack.db.idempotency_keys.insert_one({
                "_id": f"{self.tenant}:{idem}", "tenantId": self.tenant, "key": idem,
                "requestHash": same if expected == 409 else "0" * 64,
                "notificationId": ObjectId(), "createdAt": now - age})
            r = self.post_with(body, idem)
            self.assertEqual(r.status, expected, r)
            if expected == 409:
                self.assertEqual(r.header("Retry-After"), "1")
                self.assertEqual(self.count(idempotencyKey=idem), 0)

    def test_replay_of_a_notification_left_pending_publishes_it(self):
        """The first request stored it but its publish was never confirmed: the
        replay publishes it, so that its 200 promises what a 201 promises."""
        idem = "pending-" + uuid.uuid4().hex
        first = self.post_with(sms(), idem)
        nid = first.json["data"]["_id"]
        self.stack.db.notifications.update_one({"_id": ObjectId(nid)},
                                               {"$set": {"status": "PENDING"}})
        again = self.post_with(sms(), idem)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json["data"]["status"], "QUEUED")
        doc = self.stack.db.notifications.find_one({"_id": ObjectId(nid)})
        self.assertEqual(doc["status"], "QUEUED")
        self.assertEqual([e["status"] for e in trail(self.stack.db, doc)],
                         ["PENDING", "QUEUED", "QUEUED"])

    def test_an_invalid_request_does_not_take_the_key(self):
        idem = "typo-" + uuid.uuid4().hex
        bad = self.post_with(sms(recipient="nope"), idem)
        self.assertEqual(bad.status, 400)
        good = self.post_with(sms(), idem)
        self.assertEqual(good.status, 201, good)

    def test_replay_of_a_scheduled_notification(self):
        idem = "later-" + uuid.uuid4().hex
        when = (datetime.datetime.now(UTC) + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        first = self.post_with(sms(scheduledAt=when), idem)
        self.assertEqual(first.status, 201, first)
        again = self.post_with(sms(scheduledAt=when), idem)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json["data"]["status"], "SCHEDULED")
        self.assertEqual(again.json["data"]["_id"], first.json["data"]["_id"])

    def test_malformed_keys(self):
        for idem in ("", "x" * 256, "has space", "tab\there", "é"):
            with self.subTest(idem=idem):
                hdr = idem.encode("utf-8").decode("latin-1")
                r = self.post_with(sms(), hdr)
                self.assertEqual(r.status, 400, r)
                self.assertIn(("Idempotency-Key", "format"), field_rules(r))
        self.assertEqual(self.post_with(sms(), "x" * 255).status, 201)

    def test_batch_items_are_idempotent_one_by_one(self):
        idem = "batch-" + uuid.uuid4().hex
        items = [sms(), email(), webhook()]
        path = "/api/notifications/batch"
        first = call(self.stack, "POST", path, body={"notifications": items}, key=self.key,
                     headers={"Idempotency-Key": idem})
        self.assertEqual(first.status, 201, first)
        ids = [x["id"] for x in first.json["data"]["results"]]
        again = call(self.stack, "POST", path, body={"notifications": items}, key=self.key,
                     headers={"Idempotency-Key": idem})
        self.assertEqual(again.status, 201, again)
        self.assertEqual([x["code"] for x in again.json["data"]["results"]], [200, 200, 200])
        self.assertEqual([x["id"] for x in again.json["data"]["results"]], ids)
        self.assertEqual(again.json["data"]["summary"]["replayed"], 3)
        changed = [items[0], sms(message="changed"), items[2], sms(message="new fourth")]
        third = call(self.stack, "POST", path, body={"notifications": changed}, key=self.key,
                     headers={"Idempotency-Key": idem})
        self.assertEqual(third.status, 207, third)
        self.assertEqual([x["code"] for x in third.json["data"]["results"]], [200, 409, 200, 201])
        self.assertEqual(self.stack.db.notifications.count_documents(
            {"idempotencyKey": {"$regex": "^" + idem}}), 4)


if __name__ == "__main__":
    unittest.main()
