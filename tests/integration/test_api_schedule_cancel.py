"""scheduledAt: not delivered before its time, delivered after it, released
once even with several API instances; cancel: a cancelled notification is
never sent; the sweeper republishes what was left PENDING."""
import datetime
import time
import unittest
import uuid

from bson import ObjectId

from api_support import started, call, email, field_rules, post, sms, wait_for
from harness import Stack, StackTestCase, mails_for, purge_queues, queue_depths, trail

UTC = datetime.timezone.utc


def at(seconds):
    """An RFC 3339 time `seconds` from now, to the millisecond."""
    t = datetime.datetime.now(UTC) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def cancel(stack, key, nid, body=None, raw=None, headers=None):
    return call(stack, "POST", f"/api/notifications/{nid}/cancel", key=key, body=body, raw=raw,
                headers=headers)


class ScheduleAndCancelTest(StackTestCase):
    ENV = {"WAVECOM_SCHEDULER_INTERVAL_MS": "200"}
    WORKERS = 2
    WORKER = True
    ROLE = "operator"

    def status(self, nid):
        return self.stack.get(self.key, nid).json["data"]["notification"]["status"]

    def test_scheduled_is_not_sent_before_its_time_and_is_sent_after(self):
        marker = uuid.uuid4().hex[:8]
        due = datetime.datetime.now(UTC) + datetime.timedelta(seconds=6)
        r = post(self.stack, self.key, email(subject=f"later {marker}", scheduledAt=at(6)))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["data"]["status"], "SCHEDULED")
        self.assertEqual(r.json["message"], "Notification created and scheduled successfully")
        nid = r.json["data"]["_id"]
        # Visible in reads while it waits.
        listed = call(self.stack, "GET", "/api/notifications?status=SCHEDULED", key=self.key)
        self.assertIn(nid, [n["_id"] for n in listed.json["data"]["notifications"]])
        # Up to a second before it is due: still waiting, no mail.
        while datetime.datetime.now(UTC) < due - datetime.timedelta(seconds=1):
            self.assertEqual(self.status(nid), "SCHEDULED")
            self.assertEqual(mails_for([nid]), {})
            time.sleep(0.3)
        got = self.stack.wait_for_status(self.key, nid, "SENT", timeout=60).json["data"]
        self.assertEqual([e["status"] for e in got["logs"]],
                         ["SCHEDULED", "PENDING", "QUEUED", "PROCESSING", "SENT"])
        released = datetime.datetime.strptime(got["logs"][1]["timestamp"],
                                              "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        self.assertGreaterEqual(released, due.replace(microsecond=due.microsecond // 1000 * 1000))
        self.assertEqual(got["logs"][1]["actor"], "api:scheduler")
        mails = wait_for(lambda: mails_for([nid]).get(nid), 10, what="the mail")
        self.assertEqual(len(mails), 1)

    def test_scheduled_in_the_past_is_sent_at_once(self):
        r = post(self.stack, self.key, email(scheduledAt="2020-01-01T00:00:00Z"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["data"]["status"], "QUEUED")
        self.stack.wait_for_status(self.key, r.json["data"]["_id"], "SENT")

    def test_cancelled_scheduled_notification_is_never_sent(self):
        r = post(self.stack, self.key, email(scheduledAt=at(3)))
        nid = r.json["data"]["_id"]
        c = cancel(self.stack, self.key, nid, body={"reason": "customer opted out"})
        self.assertEqual(c.status, 200, c)
        self.assertEqual(c.json["data"]["status"], "CANCELLED")
        self.assertIn("cancelledAt", c.json["data"])
        time.sleep(5)  # past its time, several scheduler rounds
        got = self.stack.get(self.key, nid).json["data"]
        self.assertEqual(got["notification"]["status"], "CANCELLED")
        self.assertEqual([e["status"] for e in got["logs"]], ["SCHEDULED", "CANCELLED"])
        self.assertEqual(got["logs"][1]["message"], "Cancelled via API: customer opted out")
        self.assertEqual(mails_for([nid]), {})

    def test_cancel_rules(self):
        r = post(self.stack, self.key, email())
        nid = r.json["data"]["_id"]
        self.stack.wait_for_status(self.key, nid, "SENT")
        late = cancel(self.stack, self.key, nid)
        self.assertEqual(late.status, 409, late)
        self.assertIn("SENT", late.json["message"])
        self.assertEqual(cancel(self.stack, self.key, "0" * 24).status, 404)
        _, other = self.stack.new_tenant_key(role="admin")
        r = post(self.stack, self.key, email(scheduledAt=at(3600)))
        mine = r.json["data"]["_id"]
        self.assertEqual(cancel(self.stack, other, mine).status, 404)
        _, viewer = self.stack.new_tenant_key(role="viewer")
        self.assertEqual(cancel(self.stack, viewer, mine).status, 403)
        self.assertIn(("id", "objectid"), field_rules(cancel(self.stack, self.key, "xyz")))
        # Twice is fine; the trail records it once.
        self.assertEqual(cancel(self.stack, self.key, mine).status, 200)
        again = cancel(self.stack, self.key, mine)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json["message"], "Notification was already cancelled")
        logs = self.stack.get(self.key, mine).json["data"]["logs"]
        self.assertEqual([e["status"] for e in logs], ["SCHEDULED", "CANCELLED"])

    def test_cancel_bad_bodies(self):
        nid = post(self.stack, self.key, email(scheduledAt=at(3600))).json["data"]["_id"]
        cases = [
            ({"reason": ""}, "reason", "length"), ({"reason": "r" * 201}, "reason", "length"),
            ({"reason": 5}, "reason", "type"), ({"reason": "a\nb"}, "reason", "control"),
            ({"why": "x"}, "why", "unknown"), (["x"], "body", "type"),
        ]
        for body, field, rule in cases:
            with self.subTest(body=body):
                r = cancel(self.stack, self.key, nid, body=body)
                self.assertEqual(r.status, 400, r)
                self.assertIn((field, rule), field_rules(r))
        r = cancel(self.stack, self.key, nid, raw=b"{nope", headers={"Content-Type": "application/json"})
        self.assertIn(("body", "json"), field_rules(r))
        r = cancel(self.stack, self.key, nid, raw=b"reason=x", headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r)
        self.assertEqual(self.status(nid), "SCHEDULED")


class CancelQueuedTest(unittest.TestCase):
    """Cancelled while its message waits in the queue: the worker that later
    receives the message drops it, and nothing is sent."""

    def setUp(self):
        purge_queues()
        self.stack = started(Stack(workers=1))
        self.tenant, self.key = self.stack.new_tenant_key(role="operator")

    def tearDown(self):
        self.stack.close()

    def test_worker_never_delivers_a_cancelled_notification(self):
        ids = []
        for i in range(5):
            r = post(self.stack, self.key, email(subject=f"cancel me {i}", priority="HIGH"))
            self.assertEqual(r.json["data"]["status"], "QUEUED")
            ids.append(r.json["data"]["_id"])
        keep = post(self.stack, self.key, email(subject="keep me", priority="HIGH")).json["data"]["_id"]
        for nid in ids:
            c = cancel(self.stack, self.key, nid)
            self.assertEqual(c.status, 200, c)
        # The messages are still queued when the worker starts.
        wait_for(lambda: queue_depths().get("high_priority") == 6, 30, interval=1,
                 what="six messages in high_priority")
        self.stack.start_worker()
        self.stack.wait_for_status(self.key, keep, "SENT", timeout=60)
        wait_for(lambda: queue_depths().get("high_priority") == 0, 30, interval=1,
                 what="the worker to consume every message")
        time.sleep(1)
        self.assertEqual(set(mails_for(ids + [keep])), {keep})
        for nid in ids:
            logs = self.stack.get(self.key, nid).json["data"]["logs"]
            self.assertEqual([e["status"] for e in logs], ["PENDING", "QUEUED", "CANCELLED"])


class SchedulerInstancesTest(unittest.TestCase):
    """Two API instances on one database release each due notification once."""

    def setUp(self):
        purge_queues()
        env = {"WAVECOM_SCHEDULER_INTERVAL_MS": "50"}
        self.a = Stack(workers=1, env=env)
        self.b = Stack(workers=1, env=env)
        # b shares a's database.
        self.b.db_name = self.a.db_name
        self.b.env["WAVECOM_MONGODB_DB"] = self.a.db_name
        self.b.db = self.a.db
        started(self.a)
        self.tenant, self.key = self.a.new_tenant_key(role="operator")

    def tearDown(self):
        codes_b = self.b.stop(self.b.api)
        self.a.close()
        self.assertEqual(codes_b, 0, self.b.log("api"))

    def test_each_due_notification_is_released_once(self):
        due = at(4)
        r = call(self.a, "POST", "/api/notifications/batch", key=self.key,
                 body={"notifications": [sms(scheduledAt=due, metadata={"n": i}) for i in range(300)]})
        self.assertEqual(r.status, 201, r)
        ids = [x["id"] for x in r.json["data"]["results"]]
        try:
            self.b.start_api()
        except BaseException:
            self.b.stop(self.b.api)
            raise
        wait_for(lambda: self.a.db.notifications.count_documents({"status": "QUEUED"}) == 300,
                 120, interval=0.5, what="all 300 released")
        actors = set()
        for doc in self.a.db.notifications.find({"_id": {"$in": [ObjectId(i) for i in ids]}}):
            logs = trail(self.a.db, doc)
            self.assertEqual([e["status"] for e in logs], ["SCHEDULED", "PENDING", "QUEUED"],
                             doc["_id"])
            actors.add(logs[1]["actor"])
        self.assertEqual(actors, {"api:scheduler"})
        # Exactly one message per notification reached the queue.
        wait_for(lambda: queue_depths().get("notifications") == 300, 30, interval=1,
                 what="300 messages in the queue")
        time.sleep(6)  # the broker's counts lag; a duplicate would show by now
        self.assertEqual(queue_depths().get("notifications"), 300)
        purge_queues()


class SweeperTest(unittest.TestCase):
    """A notification left PENDING (its publish never confirmed) is published
    again after WAVECOM_PENDING_REPUBLISH_SECONDS, and then delivered; one left
    RETRYING or PROCESSING with no message anywhere (a retry-tier message lost
    while dead-lettering, a worker gone with its message) is queued again
    WAVECOM_SWEEP_OVERDUE_SECONDS after its attempt or lease was due."""

    def setUp(self):
        self.stack = started(Stack(workers=1, env={"WAVECOM_PENDING_REPUBLISH_SECONDS": "2",
                                                   "WAVECOM_SWEEP_OVERDUE_SECONDS": "2",
                                                   "WAVECOM_SCHEDULER_INTERVAL_MS": "200"}),
                             worker=True)
        self.tenant, self.key = self.stack.new_tenant_key(role="operator")

    def tearDown(self):
        self.stack.close()

    def insert_as_left(self, nid, status, seq, last_message, ago, entries=(), **fields):
        """Inserts a notification as a process that died mid-way leaves it: in `status`, its
        change number `seq` in `last`, and only `entries` (status, message) of its trail."""
        at = datetime.datetime.now(UTC) - datetime.timedelta(seconds=ago)
        self.stack.db.notifications.insert_one({
            "_id": nid, "tenantId": self.tenant, "type": "EMAIL",
            "recipient": "sweeper@example.com", "subject": "left behind", "message": "m",
            "status": status, "priority": "LOW", "retryCount": 0, "maxRetries": 3,
            "createdAt": at, "updatedAt": at, "seq": seq,
            "last": {"status": status, "message": last_message, "actor": "api", "timestamp": at},
            **fields})
        for i, (st, message) in enumerate(entries, start=1):
            self.stack.db.notification_logs.insert_one({
                "_id": f"{nid}:{i}", "notificationId": nid, "tenantId": self.tenant, "seq": i,
                "status": st, "message": message, "actor": "api", "timestamp": at})

    def test_stale_pending_is_republished_and_delivered(self):
        nid = ObjectId()
        # As the scheduler or a replay leaves it when it dies between its PENDING write and the
        # publish.
        self.insert_as_left(nid, "PENDING", 1, "Notification created", 30,
                            [("PENDING", "Notification created")])
        got = self.stack.wait_for_status(self.key, str(nid), "SENT", timeout=60).json["data"]
        self.assertEqual([e["status"] for e in got["logs"]],
                         ["PENDING", "QUEUED", "PROCESSING", "SENT"])
        self.assertEqual([e["_id"] for e in got["logs"]], [f"{nid}:{i}" for i in range(1, 5)])
        # The sweeper took it (QUEUED itself may be recorded by the sweeper or,
        # when the message outruns that write, by the worker).
        self.assertEqual(self.stack.db.notifications.find_one({"_id": nid})["republishCount"], 1)
        self.assertNotIn("republishCount", got["notification"])
        self.assertEqual(len(wait_for(lambda: mails_for([str(nid)]).get(str(nid)), 10,
                                      what="the mail")), 1)

    def test_open_outbox_record_is_published_again(self):
        """The API died after its group commit stored the documents (QUEUED) and before it
        published them: only the commit's outbox record says so."""
        nids = [ObjectId(), ObjectId()]
        for nid in nids:
            self.insert_as_left(nid, "QUEUED", 2, "Added to queue", 30, createdSeq=2)
        # A third, already delivered by the time the sweeper looks, is left alone.
        done = ObjectId()
        self.insert_as_left(done, "SENT", 4, "Successfully sent", 30, createdSeq=2)
        record = ObjectId()
        self.stack.db.outbox.insert_one({
            "_id": record, "ids": nids + [done],
            "createdAt": datetime.datetime.now(UTC) - datetime.timedelta(seconds=30)})
        for nid in nids:
            got = self.stack.wait_for_status(self.key, str(nid), "SENT", timeout=60).json["data"]
            self.assertEqual([e["status"] for e in got["logs"]],
                             ["PENDING", "QUEUED", "PROCESSING", "SENT"])
            self.assertEqual(len(wait_for(lambda: mails_for([str(nid)]).get(str(nid)), 10,
                                          what="the mail")), 1)
        wait_for(lambda: self.stack.db.outbox.find_one({"_id": record}) is None, 10,
                 what="the outbox record closed")
        self.assertEqual(mails_for([str(done)]).get(str(done)), None)
        self.assertEqual(self.stack.db.notifications.find_one({"_id": done})["status"], "SENT")

    def orphan(self, status, ago, **fields):
        """Inserts a notification in `status` whose message exists nowhere, as
        a lost queue message leaves it; `ago` seconds since it was due."""
        now = datetime.datetime.now(UTC)
        due = now - datetime.timedelta(seconds=ago)
        nid = ObjectId()
        trail = [("PENDING", "Notification created"), ("QUEUED", "Added to queue"),
                 ("PROCESSING", "Worker started processing")]
        if status == "RETRYING":
            trail.append(("RETRYING", "Attempt failed, retry 1 in 5 s: HTTP 503"))
        self.stack.db.notifications.insert_one({
            "_id": nid, "tenantId": self.tenant, "type": "EMAIL",
            "recipient": f"{status.lower()}@example.com", "subject": f"lost {status}",
            "message": "m", "status": status, "priority": "HIGH", "maxRetries": 3,
            "createdAt": due - datetime.timedelta(seconds=10), "updatedAt": due,
            "logs": [{"_id": ObjectId(), "status": st, "message": m, "actor": "api",
                      "timestamp": due - datetime.timedelta(seconds=10 - i)}
                     for i, (st, m) in enumerate(trail)],
            **fields})
        return str(nid)

    def test_overdue_retrying_and_expired_processing_are_queued_again(self):
        now = datetime.datetime.now(UTC)
        retrying = self.orphan("RETRYING", 30, retryCount=1, error="HTTP 503",
                               nextAttemptAt=now - datetime.timedelta(seconds=30))
        processing = self.orphan("PROCESSING", 30, retryCount=0,
                                 lease={"owner": "worker:gone:1",
                                        "until": now - datetime.timedelta(seconds=30)})
        # Not overdue: a retry due in a minute and a live lease stay as they are.
        waiting = self.orphan("RETRYING", 0, retryCount=1, error="HTTP 503",
                              nextAttemptAt=now + datetime.timedelta(seconds=60))
        held = self.orphan("PROCESSING", 0, retryCount=0,
                           lease={"owner": "worker:busy:1",
                                  "until": now + datetime.timedelta(seconds=60)})
        for nid in (retrying, processing):
            got = self.stack.wait_for_status(self.key, nid, "SENT", timeout=60).json["data"]
            self.assertEqual(got["logs"][-2:][0]["status"], "PROCESSING")
            self.assertEqual(got["logs"][-1]["status"], "SENT")
            self.assertEqual(len(wait_for(lambda: mails_for([nid]).get(nid), 10,
                                          what="the mail")), 1)
            self.assertEqual(self.stack.db.notifications.find_one(
                {"_id": ObjectId(nid)})["sweepCount"], 1)
        self.assertEqual(self.stack.get(self.key, retrying).json["data"]["notification"]
                         ["retryCount"], 1)
        time.sleep(3)  # a few more sweeps
        for nid, status in ((waiting, "RETRYING"), (held, "PROCESSING")):
            doc = self.stack.db.notifications.find_one({"_id": ObjectId(nid)})
            self.assertEqual(doc["status"], status)
            self.assertNotIn("sweepCount", doc)
        self.assertEqual(mails_for([waiting, held]), {})


if __name__ == "__main__":
    unittest.main()
