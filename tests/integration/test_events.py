"""Event subscriptions on the real stack: endpoints, one event fanned out to exactly the endpoints
whose type patterns and filters match, each receiving its transformed body signed with its own
secret (checked here the way a receiver checks it, and with both secrets during a rotation), and
bad input refused with the field named and nothing stored."""
import base64
import datetime
import hashlib
import hmac
import json
import re
import sys
import unittest
import uuid

import providers
from api_support import email, later, sms, webhook
from harness import Stack, close_cleanly, started, trail, wait_until

PAYLOAD = {"order": {"id": "o-1", "total": 250, "currency": "EUR",
                     "customer": {"tier": "gold", "country": "FR"}},
           "tags": ["x"], "test": False}

# name, eventTypes, filter, transformation, whether an "order.paid" event with PAYLOAD reaches it.
CASES = [
    ("exact", ["order.paid"], None, None, True),
    ("prefix", ["order.*"], None, {"select": "/data/order"}, True),
    ("everything", ["*"], None, None, True),
    ("other-type", ["order.refunded"], None, None, False),
    ("other-prefix", ["invoice.*", "order.paid.late"], None, None, False),
    ("nested-eq", ["order.*"], {"field": "order.customer.tier", "eq": "gold"},
     {"template": {"text": "Order {{/data/order/id}} for {{/data/order/total}}",
                   "kind": "{{/type}}", "customer": "{{/data/order/customer}}"}}, True),
    ("nested-ne", ["order.*"], {"field": "order.customer.tier", "eq": "silver"}, None, False),
    ("number-gt", ["order.paid"], {"field": "order.total", "gt": 100}, None, True),
    ("number-lt", ["order.paid"], {"field": "order.total", "lt": 100}, None, False),
    ("string-not-number", ["order.paid"], {"field": "order.total", "eq": "250"}, None, False),
    ("missing-absent", ["order.paid"], {"field": "order.coupon", "exists": False}, None, True),
    ("missing-eq", ["order.paid"], {"field": "order.coupon", "eq": "X"}, None, False),
    ("and-or-not", ["order.*"],
     {"and": [{"field": "order.currency", "in": ["EUR", "GBP"]},
              {"not": {"field": "test", "eq": True}},
              {"or": [{"field": "order.customer.country", "eq": "DE"},
                      {"field": "order.total", "gte": 250}]}]}, None, True),
    ("and-one-fails", ["order.*"],
     {"and": [{"field": "order.currency", "eq": "EUR"}, {"not": {"field": "tags", "eq": ["x"]}}]},
     None, False),
]


def signatures_valid(secret, headers, body):
    """Which of the request's v1 signatures `secret` produces (as a receiver checks them)."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body.encode()
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return want in given, len(given)


class EventsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A short sweeper threshold, for the resumed fan-out.
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            WAVECOM_PENDING_REPUBLISH_SECONDS="2", WAVECOM_SCHEDULER_INTERVAL_MS="500")
        cls.admin = cls.stack.new_tenant_key(role="admin")[1]
        # The admin key belongs to another tenant: the sender publishes for its own.
        cls.tenant_admin = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant,
                                         "--role", "admin").stdout.strip()

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def create_endpoint(self, name, body):
        prefix = f"/evt-{uuid.uuid4().hex[:10]}-{name}"
        body = dict(body, url=providers.WEBHOOK_URL + prefix + "/hook")
        r = self.stack.request("POST", "/api/endpoints", key=self.tenant_admin, body=body)
        self.assertEqual(r.status, 201, r)
        data = r.json["data"]
        self.assertTrue(data["secret"].startswith("whsec_"))
        providers.register_webhook_secret(prefix, data["secret"])
        return data, prefix

    def publish(self, body, headers=None):
        return self.stack.request("POST", "/api/events", key=self.key, body=body, headers=headers)

    def received(self, prefix, count=1, timeout=30):
        """The requests the webhook double accepted under `prefix`, once there are `count`."""
        found = []

        def arrived():
            found[:] = [x for x in providers.last("webhook", n=500) if x["path"].startswith(prefix)]
            return len(found) >= count
        wait_until(arrived, timeout, what=f"{count} webhook(s) under {prefix}")
        return found

    def test_fan_out_matches_exactly_and_signs(self):
        endpoints = {}
        for name, types, flt, transformation, match in CASES:
            body = {"eventTypes": types, "description": name}
            if flt is not None:
                body["filter"] = flt
            if transformation is not None:
                body["transformation"] = transformation
            if name == "exact":
                body["headers"] = {"X-Team": "billing"}
            endpoints[name] = self.create_endpoint(name, body)
        disabled, _ = self.create_endpoint("disabled", {"eventTypes": ["*"], "enabled": False})

        r = self.publish({"type": "order.paid", "payload": PAYLOAD, "eventId": "evt-match-1"})
        self.assertEqual(r.status, 201, r)
        event = r.json["data"]
        want = {endpoints[name][0]["id"] for name, *_, match in CASES if match}
        self.assertEqual(set(event["endpoints"]), want)
        self.assertNotIn(disabled["id"], event["endpoints"])
        self.assertEqual(event["fanout"], "done")
        self.assertEqual(event["deliveries"], len(want))
        stored = {d["endpointId"] for d in self.stack.db.notifications.find({"eventId": "evt-match-1"})}
        self.assertEqual(stored, want)

        for name, _types, _flt, _t, match in CASES:
            data, prefix = endpoints[name]
            if not match:
                continue
            request = self.received(prefix)[0]
            ok, n = signatures_valid(data["secret"], request["headers"], request["body"])
            self.assertTrue(ok, (name, request))
            self.assertEqual(n, 1, name)
            body = json.loads(request["body"])
            if name == "prefix":
                self.assertEqual(body, PAYLOAD["order"])
            elif name == "nested-eq":
                self.assertEqual(body, {"text": "Order o-1 for 250", "kind": "order.paid",
                                        "customer": PAYLOAD["order"]["customer"]})
            else:
                self.assertEqual(body["id"], "evt-match-1")
                self.assertEqual(body["type"], "order.paid")
                self.assertEqual(body["data"], PAYLOAD)
            if name == "exact":
                self.assertEqual(request["headers"].get("x-team"), "billing")

        # The event as GET shows it: each matched endpoint's delivery, SENT.
        def shown():
            r = self.stack.request("GET", "/api/events/evt-match-1", key=self.key)
            self.assertEqual(r.status, 200, r)
            return {d["endpointId"]: d["status"] for d in r.json["data"]["endpointDeliveries"]}
        self.assertEqual(set(shown()), want)
        wait_until(lambda: set(shown().values()) == {"SENT"}, 30, what="every delivery SENT")
        # Each delivery's request as made, and its attempts with what the receiver answered.
        deliveries = self.stack.request("GET", "/api/events/evt-match-1",
                                        key=self.key).json["data"]["endpointDeliveries"]
        for d in deliveries:
            name = next(n for n, (data, _) in endpoints.items() if data["id"] == d["endpointId"])
            data, prefix = endpoints[name]
            received = self.received(prefix)[0]
            self.assertEqual(d["request"]["url"], data["url"], name)
            self.assertEqual(d["request"]["headers"]["webhook-id"], d["notificationId"])
            self.assertEqual(d["request"]["headers"]["webhook-id"], received["headers"]["webhook-id"])
            self.assertEqual(d["request"]["body"], json.loads(received["body"]), name)
            if name == "exact":
                self.assertEqual(d["request"]["headers"]["X-Team"], "billing")
            self.assertEqual([a["status"] for a in d["attempts"]][-2:], ["PROCESSING", "SENT"], d)
        self.assertEqual(self.stack.request("GET", "/api/events/evt-match-1", key=self.admin).status,
                         404, "another tenant's event")
        # The same event again is the same event: 200, and no second delivery.
        again = self.publish({"type": "order.paid", "payload": PAYLOAD, "eventId": "evt-match-1"})
        self.assertEqual(again.status, 200, again)
        self.assertEqual(self.stack.db.notifications.count_documents({"eventId": "evt-match-1"}),
                         len(want))
        other = self.publish({"type": "order.paid", "payload": {"x": 1}, "eventId": "evt-match-1"})
        self.assertEqual(other.status, 409, other)

    def test_rotation_sends_both_signatures(self):
        data, prefix = self.create_endpoint("rotate", {"eventTypes": ["user.*"]})
        old = data["secret"]
        r = self.stack.request("POST", f"/api/endpoints/{data['id']}/rotate-secret",
                               key=self.tenant_admin, body={"graceSeconds": 3600})
        self.assertEqual(r.status, 200, r)
        new = r.json["data"]["secret"]
        self.assertNotEqual(new, old)
        self.assertIn("previousSecretValidUntil", r.json["data"])
        r = self.publish({"type": "user.created", "payload": {"id": 7}})
        self.assertEqual(r.status, 201, r)
        request = self.received(prefix)[0]
        ok_new, n = signatures_valid(new, request["headers"], request["body"])
        ok_old, _ = signatures_valid(old, request["headers"], request["body"])
        self.assertEqual(n, 2, request["headers"])
        self.assertTrue(ok_new and ok_old, request["headers"])
        # A rotation without grace: only the new secret signs.
        r = self.stack.request("POST", f"/api/endpoints/{data['id']}/rotate-secret",
                               key=self.tenant_admin, body={"graceSeconds": 0})
        newest = r.json["data"]["secret"]
        providers.register_webhook_secret(prefix, newest)
        r = self.publish({"type": "user.deleted", "payload": {"id": 7}})
        self.assertEqual(r.status, 201, r)
        request = [x for x in self.received(prefix, count=2)
                   if json.loads(x["body"])["type"] == "user.deleted"][0]
        ok, n = signatures_valid(newest, request["headers"], request["body"])
        self.assertTrue(ok and n == 1, request["headers"])

    def test_endpoint_crud(self):
        data, _ = self.create_endpoint("crud", {"eventTypes": ["a.b"]})
        path = f"/api/endpoints/{data['id']}"
        r = self.stack.request("GET", path, key=self.key)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("secret", r.json["data"])
        r = self.stack.request("PATCH", path, key=self.tenant_admin,
                               body={"eventTypes": ["a.*"], "rateLimit": 50, "filter": None})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"]["eventTypes"], ["a.*"])
        self.assertEqual(r.json["data"]["rateLimit"], 50)
        r = self.stack.request("GET", "/api/endpoints", key=self.key)
        self.assertIn(data["id"], [e["id"] for e in r.json["data"]])
        # A sender may read endpoints but not change them; another tenant does not see them.
        r = self.stack.request("PATCH", path, key=self.key, body={"enabled": False})
        self.assertEqual(r.status, 403, r)
        r = self.stack.request("GET", path, key=self.admin)
        self.assertEqual(r.status, 404, r)
        r = self.stack.request("DELETE", path, key=self.tenant_admin)
        self.assertEqual(r.status, 200, r)
        r = self.stack.request("GET", path, key=self.key)
        self.assertEqual(r.status, 404, r)

    def test_bad_input_names_the_field_and_stores_nothing(self):
        url = providers.WEBHOOK_URL + "/evt-bad/hook"
        ok = {"url": url, "eventTypes": ["a.b"]}
        endpoint_cases = [
            ({}, {"url", "eventTypes"}),
            (dict(ok, url="ftp://example.com/x"), {"url"}),
            (dict(ok, url="https://user:pw@example.com/x"), {"url"}),
            (dict(ok, eventTypes=[]), {"eventTypes"}),
            (dict(ok, eventTypes=["a..b"]), {"eventTypes[0]"}),
            (dict(ok, filter={"field": "a", "regex": "x"}), {"filter.regex"}),
            (dict(ok, filter={"and": []}), {"filter.and"}),
            (dict(ok, filter={"field": "a..b", "eq": 1}), {"filter.field"}),
            (dict(ok, transformation={"select": "a"}), {"transformation.select"}),
            (dict(ok, transformation={"template": "{{/a"}), {"transformation.template"}),
            (dict(ok, transformation={"exec": "rm"}), {"transformation.exec"}),
            # A template is stored as given: its keys meet the database's rules.
            (dict(ok, transformation={"template": {"a.b": "{{/x}}"}}), {"transformation"}),
            (dict(ok, transformation={"template": {"$set": "{{/x}}"}}), {"transformation"}),
            (dict(ok, transformation={"template": {"pairs": [[1, 2]]}}), {"transformation"}),
            (dict(ok, headers={"Content-Type": "text/plain"}), {"headers.Content-Type"}),
            (dict(ok, headers={"X-A": "a\nb"}), {"headers.X-A"}),
            (dict(ok, rateLimit=0), {"rateLimit"}),
            (dict(ok, batch=50), {"batch"}),
            (dict(ok, batch={"maxEvents": 1, "maxWaitMs": 100}), {"batch.maxEvents"}),
            (dict(ok, batch={"maxEvents": 10, "maxWaitMs": 60000}), {"batch.maxWaitMs"}),
            (dict(ok, batch={"maxEvents": 10}), {"batch.maxWaitMs"}),
            (dict(ok, batch={"maxEvents": 10, "maxWaitMs": 100, "order": "fifo"}),
             {"batch.order"}),
            (dict(ok, enabled="yes"), {"enabled"}),
            (dict(ok, secret="whsec_mine"), {"secret"}),
        ]
        before = self.stack.db.endpoints.count_documents({})
        for body, fields in endpoint_cases:
            r = self.stack.request("POST", "/api/endpoints", key=self.tenant_admin, body=body)
            self.assertEqual(r.status, 400, (body, r))
            named = {e["field"] for e in r.json["errors"]}
            self.assertEqual(named, fields, (body, r.json))
        self.assertEqual(self.stack.db.endpoints.count_documents({}), before)

        event_cases = [
            ({}, {"type", "payload"}),
            ({"type": "a..b", "payload": {}}, {"type"}),
            ({"type": "a.b", "payload": [1]}, {"payload"}),
            ({"type": "a.b", "payload": {}, "extra": 1}, {"extra"}),
            ({"type": "a.b", "payload": {}, "eventId": "has space"}, {"eventId"}),
            ({"type": "a.b", "payload": {"big": "x" * 70000}}, {"payload"}),
            # Keys the database would refuse at the write (found by the API fuzzer as a 503).
            ({"type": "a.b", "payload": {"": None}}, {"payload"}),
            ({"type": "a.b", "payload": {"a": {"b.c": 1}}}, {"payload"}),
            ({"type": "a.b", "payload": {"$set": 1}}, {"payload"}),
            ({"type": "a.b", "payload": {"n": 2 ** 100}}, {"payload"}),
            ({"type": "a.b", "payload": {"0": [[]]}}, {"payload"}),
        ]
        before = self.stack.db.events.count_documents({})
        for body, fields in event_cases:
            r = self.publish(body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual({e["field"] for e in r.json["errors"]}, fields, (body, r.json))
        r = self.publish({"type": "a.b", "payload": {}, "eventId": "one"},
                         headers={"Idempotency-Key": "two"})
        self.assertEqual(r.status, 400, r)
        r = self.stack.request("POST", "/api/events/batch", key=self.key,
                               body={"events": [{"type": "a.b", "payload": {}}, {"type": "a b"}]})
        self.assertEqual(r.status, 400, r)
        self.assertEqual({e["field"] for e in r.json["errors"]},
                         {"events[1].type", "events[1].payload"}, r.json)
        self.assertEqual(self.stack.db.events.count_documents({}), before)

    def test_batch_and_idempotency_key(self):
        data, prefix = self.create_endpoint("batch", {"eventTypes": ["ship.*"]})
        r = self.stack.request("POST", "/api/events/batch", key=self.key, body={"events": [
            {"type": "ship.sent", "payload": {"n": i}} for i in range(3)]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual([x["status"] for x in r.json["data"]], [201, 201, 201])
        key = "order-" + uuid.uuid4().hex
        first = self.publish({"type": "ship.lost", "payload": {}}, headers={"Idempotency-Key": key})
        second = self.publish({"type": "ship.lost", "payload": {}}, headers={"Idempotency-Key": key})
        self.assertEqual((first.status, second.status), (201, 200), (first, second))
        self.assertEqual(second.json["data"]["eventId"], key)
        self.received(prefix, count=4)
        self.assertEqual(self.stack.db.notifications.count_documents({"endpointId": data["id"]}), 4)

    def test_rate_limit_spaces_an_endpoints_deliveries(self):
        """A burst of 12 events to an endpoint limited to 4 deliveries a second: the worker
        gives each delivery a slot 250 ms after the one before and holds it until then (in the
        child, or in the pacing queue for the slots over a second away), so the 12 requests take
        at least 11 intervals to arrive; each arrives exactly once, signed."""
        data, prefix = self.create_endpoint("paced", {"eventTypes": ["pace.*"], "rateLimit": 4})
        r = self.stack.request("POST", "/api/events/batch", key=self.key, body={"events": [
            {"type": "pace.tick", "payload": {"n": i}} for i in range(12)]})
        self.assertEqual(r.status, 201, r)
        requests = self.received(prefix, count=12, timeout=60)
        self.assertEqual(len(requests), 12, requests)
        self.assertEqual(len({x["headers"]["webhook-id"] for x in requests}), 12)
        self.assertEqual(sorted(json.loads(x["body"])["data"]["n"] for x in requests),
                         list(range(12)))
        for request in requests:
            self.assertTrue(signatures_valid(data["secret"], request["headers"], request["body"])[0])
        times = sorted(datetime.datetime.fromisoformat(x["time"].replace("Z", "+00:00"))
                       for x in requests)
        # The slots span 11 × 250 ms = 2.75 s; the first request may have arrived up to the
        # claim's and the POST's latency after its slot, which is far under 0.75 s here.
        span = (times[-1] - times[0]).total_seconds()
        self.assertGreaterEqual(span, 2.0, [t.isoformat() for t in times])
        # The schedule is shared through the database: its next free slot lies past the last.
        pace = self.stack.db.endpoint_pace.find_one({"_id": data["id"]})
        self.assertIsNotNone(pace)
        last_ms = int(times[-1].timestamp() * 1000)
        self.assertGreater(pace["next"], last_ms - 1000)
        wait_until(lambda: self.stack.db.notifications.count_documents(
            {"endpointId": data["id"], "status": "SENT"}) == 12, 30, what="12 paced deliveries SENT")

    def test_batching_sends_an_endpoints_deliveries_together(self):
        """500 events to an endpoint batching up to 50: they arrive in 10 signed POSTs (a few
        more if a batch fell due before it was full), each body a JSON array of {id, data} in
        the order the worker claimed them, every event exactly once, each delivery SENT on its
        own with the batch's id as its providerMessageId."""
        data, prefix = self.create_endpoint("batched", {
            "eventTypes": ["bulk.*"], "batch": {"maxEvents": 50, "maxWaitMs": 5000}})
        self.assertEqual(data["batch"], {"maxEvents": 50, "maxWaitMs": 5000})
        for start in range(0, 500, 100):
            r = self.stack.request("POST", "/api/events/batch", key=self.key, body={"events": [
                {"type": "bulk.item", "payload": {"n": n}} for n in range(start, start + 100)]})
            self.assertEqual(r.status, 201, r)
        deliveries = {"endpointId": data["id"]}
        wait_until(lambda: self.stack.db.notifications.count_documents(
            dict(deliveries, status="SENT")) == 500, 120, what="500 batched deliveries SENT")
        requests = [x for x in providers.last("webhook", n=500) if x["path"].startswith(prefix)]
        sizes = [len(json.loads(x["body"])) for x in requests]
        print(f"500 batched events arrived in {len(requests)} requests of {sizes}", file=sys.stderr)
        self.assertLessEqual(len(requests), 13, sizes)
        self.assertGreaterEqual(len(requests), 10)
        seen = []
        for request in requests:
            self.assertEqual(request["status"], 200, request)
            self.assertTrue(request["headers"]["webhook-id"].startswith("batch_"), request)
            self.assertTrue(signatures_valid(data["secret"], request["headers"], request["body"])[0])
            items = json.loads(request["body"])
            self.assertIsInstance(items, list)
            self.assertLessEqual(len(items), 50)
            for item in items:
                self.assertEqual(set(item), {"id", "data"}, item)
                self.assertEqual(item["data"]["type"], "bulk.item")
                seen.append((item["id"], item["data"]["data"]["n"]))
        self.assertEqual(sorted(n for _, n in seen), list(range(500)))
        ids = {str(d["_id"]) for d in self.stack.db.notifications.find(deliveries)}
        self.assertEqual({i for i, _ in seen}, ids)
        # Each delivery names the request that carried it.
        batch_ids = {x["headers"]["webhook-id"] for x in requests}
        stored = {d["providerMessageId"] for d in self.stack.db.notifications.find(
            deliveries, {"providerMessageId": 1})}
        self.assertEqual(stored, batch_ids)

    def test_a_failed_batch_is_retried_and_each_event_arrives_once(self):
        """A batching endpoint's receiver down: the batch's deliveries fail together and wait in
        the same retry tier; once it is up they are sent again (batched anew with whatever
        arrived meanwhile), and the receiver accepts each event exactly once."""
        data, prefix = self.create_endpoint("batch-retry", {
            "eventTypes": ["retry.*"], "batch": {"maxEvents": 3, "maxWaitMs": 2000}})
        deliveries = {"endpointId": data["id"]}
        providers.configure("webhook", down=True)
        try:
            r = self.stack.request("POST", "/api/events/batch", key=self.key, body={"events": [
                {"type": "retry.item", "payload": {"n": n}} for n in range(6)]})
            self.assertEqual(r.status, 201, r)
            wait_until(lambda: self.stack.db.notifications.count_documents(
                dict(deliveries, status="RETRYING")) == 6, 60, what="six deliveries RETRYING")
        finally:
            providers.configure("webhook", down=False)
        wait_until(lambda: self.stack.db.notifications.count_documents(
            dict(deliveries, status="SENT")) == 6, 60, what="six deliveries SENT")
        requests = [x for x in providers.last("webhook", n=500) if x["path"].startswith(prefix)]
        # The double records the requests it accepted, not those it refused while down.
        accepted = [x for x in requests if x["status"] == 200]
        items = [i for x in accepted for i in json.loads(x["body"])]
        self.assertEqual(sorted(i["data"]["data"]["n"] for i in items), list(range(6)))
        failed_in = {}
        for doc in self.stack.db.notifications.find(deliveries):
            self.assertEqual(doc["retryCount"], 1, doc)
            failed = [e["message"] for e in trail(self.stack.db, doc)
                      if e["message"].startswith("Attempt failed")]
            self.assertEqual(len(failed), 1, failed)
            batch = re.search(r"in (batch_[0-9a-f]{24}) \(\d of 3\)", failed[0])
            self.assertIsNotNone(batch, failed)
            failed_in.setdefault(batch.group(1), []).append(str(doc["_id"]))
        # Two requests of three failed, and their members waited in the retry tier together.
        self.assertEqual(sorted(len(v) for v in failed_in.values()), [3, 3], failed_in)

    def test_status_callbacks(self):
        """A tenant that subscribes an endpoint to notification.* gets a signed event when one of
        its notifications is sent, fails or is cancelled; the callbacks' own deliveries raise no
        events of their own."""
        tenant, admin = self.stack.new_tenant_key(role="admin")
        sender = self.stack.ctl("apikey", "create", "--tenant", tenant,
                                "--role", "sender").stdout.strip()
        prefix = f"/callbacks-{uuid.uuid4().hex[:10]}"
        r = self.stack.request("POST", "/api/endpoints", key=admin, body={
            "eventTypes": ["notification.*"], "url": providers.WEBHOOK_URL + prefix})
        self.assertEqual(r.status, 201, r)
        secret = r.json["data"]["secret"]
        providers.register_webhook_secret(prefix, secret)
        providers.register_tenant_webhooks(self.stack, tenant, "cb")  # signs /gone/<tenant>

        sent = self.stack.request("POST", "/api/notifications", key=sender, body=sms(),
                                  headers={"X-Request-Id": "cb-sent"}).json["data"]["_id"]
        failed = self.stack.request("POST", "/api/notifications", key=sender, body=webhook(
            recipient=f"{providers.WEBHOOK_URL}/gone/{tenant}")).json["data"]["_id"]
        scheduled = self.stack.request("POST", "/api/notifications", key=sender,
                                       body=email(scheduledAt=later())).json["data"]["_id"]
        self.assertEqual(self.stack.request("POST", f"/api/notifications/{scheduled}/cancel",
                                            key=admin).status, 200)

        got = self.received(prefix, count=3)
        by_type = {}
        for request in got:
            self.assertTrue(signatures_valid(secret, request["headers"], request["body"])[0])
            body = json.loads(request["body"])
            by_type[body["type"]] = body["data"]
        self.assertEqual(set(by_type), {"notification.sent", "notification.failed",
                                        "notification.cancelled"}, by_type)
        self.assertEqual((by_type["notification.sent"]["notificationId"],
                          by_type["notification.sent"]["status"],
                          by_type["notification.sent"]["channel"],
                          by_type["notification.sent"]["correlationId"]),
                         (sent, "SENT", "SMS", "cb-sent"))
        self.assertEqual(by_type["notification.sent"]["provider"], "twilio")
        self.assertEqual(by_type["notification.failed"]["notificationId"], failed)
        self.assertIn("410", by_type["notification.failed"]["error"])
        self.assertEqual(by_type["notification.cancelled"]["notificationId"], scheduled)
        # The three callbacks were delivered (SENT) themselves, and raised nothing more.
        wait_until(lambda: self.stack.db.notifications.count_documents(
            {"tenantId": tenant, "endpointId": {"$exists": True}, "status": "SENT"}) == 3, 30,
            what="the three callbacks SENT")
        self.assertEqual(self.stack.db.events.count_documents({"tenantId": tenant}), 3)
        self.assertEqual(self.stack.db.system_events.count_documents({"tenantId": tenant}), 0)

    def test_sweeper_resumes_an_unfinished_fan_out(self):
        ids, prefixes = [], []
        for i in range(3):
            data, prefix = self.create_endpoint(f"resume{i}", {"eventTypes": ["resume.*"]})
            ids.append(data["id"])
            prefixes.append(prefix)
        # An API that died after storing every delivery and before clearing the mark: the run
        # again finds them stored (duplicate keys) and sends nothing twice.
        r = self.publish({"type": "resume.done", "payload": {"n": 1}, "eventId": "evt-resume-a"})
        self.assertEqual(r.status, 201, r)
        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        self.stack.db.events.update_one({"eventId": "evt-resume-a"},
                                        {"$set": {"fanout": "pending", "fanoutSince": old}})
        # An API that died right after storing the event: nothing delivered yet.
        self.stack.db.events.insert_one({
            "_id": f"{self.tenant}:evt-resume-b", "tenantId": self.tenant, "eventId": "evt-resume-b",
            "type": "resume.started", "payload": {"n": 2}, "requestHash": "-", "createdAt": old,
            "endpoints": ids, "fanout": "pending", "fanoutSince": old})
        wait_until(lambda: self.stack.db.events.count_documents(
            {"eventId": {"$in": ["evt-resume-a", "evt-resume-b"]}, "fanout": "done"}) == 2, 30,
            what="the sweeper to finish both fan-outs")
        for event in ("evt-resume-a", "evt-resume-b"):
            # One delivery per endpoint the event matched (evt-resume-a also matched the other
            # tests' catch-all endpoints), none twice.
            matched = self.stack.db.events.find_one({"eventId": event})["endpoints"]
            self.assertTrue(set(ids) <= set(matched), event)
            stored = sorted(d["endpointId"] for d in self.stack.db.notifications.find({"eventId": event}))
            self.assertEqual(stored, sorted(matched), event)
        for data_id, prefix in zip(ids, prefixes):
            got = self.received(prefix, count=2)
            self.assertEqual(sorted(json.loads(x["body"])["id"] for x in got),
                             ["evt-resume-a", "evt-resume-b"], prefix)
        self.assertIn("fan-out of event", self.stack.log("api", whole=True))


class EndpointHealthTest(unittest.TestCase):
    """What the workers saw of each endpoint (GET /api/endpoints/:id/health), and an endpoint that
    fails every attempt for the period (4 s here, 5 days by default) disabled by the scheduler:
    its reason shown, an audit entry, an endpoint.disabled event to the tenant's subscribers,
    and a clean streak once enabled again."""

    @classmethod
    def setUpClass(cls):
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            WAVECOM_ENDPOINT_DISABLE_AFTER_SECONDS="4", WAVECOM_SCHEDULER_INTERVAL_MS="300")
        cls.admin = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant,
                                  "--role", "admin").stdout.strip()

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def endpoint(self, name, types, gone=False):
        prefix = f"/{'gone/' if gone else ''}health-{uuid.uuid4().hex[:10]}-{name}"
        r = self.stack.request("POST", "/api/endpoints", key=self.admin,
                               body={"eventTypes": types, "url": providers.WEBHOOK_URL + prefix})
        self.assertEqual(r.status, 201, r)
        providers.register_webhook_secret(prefix, r.json["data"]["secret"])
        return r.json["data"]["id"], prefix

    def health(self, endpoint_id):
        r = self.stack.request("GET", f"/api/endpoints/{endpoint_id}/health", key=self.key)
        self.assertEqual(r.status, 200, r)
        return r.json["data"]

    def requests_under(self, prefix):
        return [x for x in providers.last("webhook", n=500) if x["path"].startswith(prefix)]

    def test_health_and_automatic_disabling(self):
        good, good_prefix = self.endpoint("good", ["health.*"])
        bad, _ = self.endpoint("bad", ["health.*"], gone=True)  # the double answers 410
        watcher, watcher_prefix = self.endpoint("watcher", ["endpoint.*"])
        for i in range(3):
            r = self.stack.request("POST", "/api/events", key=self.key,
                                   body={"type": "health.ping", "payload": {"n": i}})
            self.assertEqual(r.status, 201, r)

        # Counted once a second by each worker child.
        wait_until(lambda: self.health(good)["attempts"] == 3, 30, what="the good endpoint's 3")
        h = self.health(good)
        self.assertEqual((h["delivered"], h["failed"], h["successRate"]), (3, 0, 1.0), h)
        self.assertIsNotNone(h["latencyMs"], h)
        self.assertLessEqual(h["latencyMs"]["p50"], h["latencyMs"]["p99"])
        self.assertIsNotNone(h["lastSuccessAt"])
        self.assertIsNone(h["failingSince"])
        self.assertIsNone(h["disablesAt"])
        wait_until(lambda: self.health(bad)["failed"] == 3, 30, what="the bad endpoint's 3")
        h = self.health(bad)
        self.assertEqual((h["delivered"], h["successRate"]), (0, 0.0), h)
        self.assertIn("410", h["lastError"])
        self.assertIsNotNone(h["failingSince"])
        self.assertIsNone(h["lastSuccessAt"])

        def disabled():
            r = self.stack.request("GET", f"/api/endpoints/{bad}", key=self.key)
            return not r.json["data"]["enabled"] and r.json["data"]
        shown = wait_until(disabled, 30, what="the failing endpoint disabled")
        self.assertIn("every delivery attempt failed since", shown["disabledReason"])
        self.assertTrue(self.stack.request("GET", f"/api/endpoints/{good}",
                                           key=self.key).json["data"]["enabled"])
        audit = self.stack.db.audit.find_one({"action": "endpoint.disabled", "target": bad})
        self.assertIsNotNone(audit)
        self.assertEqual(audit["tenantId"], self.tenant)
        got = wait_until(lambda: self.requests_under(watcher_prefix), 30,
                         what="the endpoint.disabled event at the watcher")
        body = json.loads(got[0]["body"])
        self.assertEqual(body["type"], "endpoint.disabled")
        self.assertEqual(body["data"]["endpointId"], bad)
        self.assertIn("410", body["data"]["lastError"])
        self.assertIsNone(self.health(bad)["failingSince"])

        # Enabled again: no reason shown, and the streak starts from its next failure.
        r = self.stack.request("PATCH", f"/api/endpoints/{bad}", key=self.admin,
                               body={"enabled": True})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["data"]["enabled"])
        self.assertIsNone(r.json["data"]["disabledReason"])
        self.assertIsNone(self.health(bad)["failingSince"])
        # One event for the one disabling, and nothing for the healthy endpoint.
        self.assertEqual(len(self.requests_under(watcher_prefix)), 1)
        self.assertEqual(len(self.requests_under(good_prefix)), 3)

    def test_health_bad_input(self):
        for path, status in (("/api/endpoints/not-an-id/health", 400),
                             ("/api/endpoints/65f0c0ffee0000000000beef/health", 404),
                             ("/api/endpoints/65f0c0ffee0000000000beef/health?hours=2", 400)):
            r = self.stack.request("GET", path, key=self.key)
            self.assertEqual(r.status, status, (path, r))


class EndpointReplayTest(unittest.TestCase):
    """An endpoint's receiver down while five events reach it (no retries here, so each ends
    FAILED in the dead-letter queue at once), then fixed: POST /api/endpoints/:id/replay sends the
    five again under their own webhook-ids, and with status ALL and a time range every delivery
    is sent once more as a new one; `wavecomctl dlq list --endpoint` finds the endpoint's dead
    letters."""

    @classmethod
    def setUpClass(cls):
        cls.stack, cls.tenant, cls.key = providers.started_stack(WAVECOM_MAX_RETRIES="0")
        cls.admin = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant,
                                  "--role", "admin").stdout.strip()

    @classmethod
    def tearDownClass(cls):
        providers.configure("webhook")
        close_cleanly(cls.stack)

    def accepted_under(self, prefix):
        return [x for x in providers.last("webhook", n=500)
                if x["path"].startswith(prefix) and x["status"] == 200]

    def test_replay_after_the_receiver_is_fixed(self):
        prefix = f"/replay-{uuid.uuid4().hex[:10]}"
        r = self.stack.request("POST", "/api/endpoints", key=self.admin,
                               body={"eventTypes": ["replay.*"], "url": providers.WEBHOOK_URL + prefix})
        self.assertEqual(r.status, 201, r)
        endpoint = r.json["data"]["id"]
        providers.register_webhook_secret(prefix, r.json["data"]["secret"])
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)

        providers.configure("webhook", down=True)
        r = self.stack.request("POST", "/api/events/batch", key=self.key, body={"events": [
            {"type": "replay.order", "payload": {"n": i}} for i in range(5)]})
        self.assertEqual(r.status, 201, r)
        deliveries = {"endpointId": endpoint}
        wait_until(lambda: self.stack.db.notifications.count_documents(
            dict(deliveries, status="FAILED")) == 5, 60, what="five FAILED deliveries")
        ids = sorted(str(d["_id"]) for d in self.stack.db.notifications.find(deliveries))
        listed = json.loads(self.stack.ctl("dlq", "list", "--endpoint", endpoint, "--json").stdout)
        self.assertEqual(sorted(x["id"] for x in listed), ids)
        self.assertEqual(self.stack.ctl("dlq", "list", "--endpoint", "nope", check=False).returncode, 2)

        providers.configure("webhook", down=False)
        r = self.stack.request("POST", f"/api/endpoints/{endpoint}/replay", key=self.key)
        self.assertEqual(r.status, 403, r)  # a sender may not replay
        r = self.stack.request("POST", f"/api/endpoints/{endpoint}/replay", key=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"], {"replayed": 5, "resent": 0, "notSent": 0,
                                          "more": False, "continueSince": None})
        wait_until(lambda: len(self.accepted_under(prefix)) == 5, 30, what="the five replayed")
        self.assertEqual(sorted(x["headers"]["webhook-id"] for x in self.accepted_under(prefix)), ids)
        wait_until(lambda: self.stack.db.notifications.count_documents(
            dict(deliveries, status="SENT")) == 5, 30, what="five SENT")
        audit = self.stack.db.audit.find_one({"action": "endpoint.replay", "target": endpoint})
        self.assertIn("5 replayed", audit["detail"])

        # Nothing FAILED is left; ALL over the range sends every delivery again as a new one.
        r = self.stack.request("POST", f"/api/endpoints/{endpoint}/replay", key=self.admin)
        self.assertEqual(r.json["data"]["replayed"], 0, r)
        r = self.stack.request("POST", f"/api/endpoints/{endpoint}/replay", key=self.admin,
                               body={"status": "ALL", "since": start.isoformat()})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["data"]["resent"], r.json["data"]["replayed"]), (5, 0), r)
        wait_until(lambda: len(self.accepted_under(prefix)) == 10, 30, what="five sent again")
        again = [x for x in self.accepted_under(prefix) if x["headers"]["webhook-id"] not in ids]
        self.assertEqual(len(again), 5)
        self.assertEqual(sorted(json.loads(x["body"])["data"]["n"] for x in again), list(range(5)))
        self.assertEqual(self.stack.db.notifications.count_documents(deliveries), 10)

    def test_replay_bad_input(self):
        r = self.stack.request("POST", "/api/endpoints", key=self.admin,
                               body={"eventTypes": ["x.*"], "url": providers.WEBHOOK_URL + "/x"})
        endpoint = r.json["data"]["id"]
        cases = [({"status": "SOME"}, "status", "enum"),
                 ({"status": "ALL"}, "since", "required"),
                 ({"since": "yesterday"}, "since", "format"),
                 ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until", "range"),
                 ({"ids": []}, "ids", "unknown")]
        for body, field, rule in cases:
            r = self.stack.request("POST", f"/api/endpoints/{endpoint}/replay", key=self.admin,
                                   body=body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn({"field": field, "rule": rule},
                          [{"field": e["field"], "rule": e["rule"]} for e in r.json["errors"]], r)
        self.assertEqual(self.stack.request("POST", "/api/endpoints/x/replay", key=self.admin).status, 400)
        self.assertEqual(self.stack.request("POST", "/api/endpoints/" + "0" * 24 + "/replay",
                                            key=self.admin).status, 404)


class EndpointAddressTest(unittest.TestCase):
    """The SSRF guard at registration, as the deployment default has it (private addresses
    refused): address literals only, so that nothing asks a DNS server."""

    @classmethod
    def setUpClass(cls):
        cls.stack = started(Stack(workers=1, env={"WAVECOM_WEBHOOK_ALLOW_LOOPBACK": "0",
                                                  "WAVECOM_WEBHOOK_ALLOW_PRIVATE": "0",
                                                  "WAVECOM_WEBHOOK_ALLOW_HTTP": "1"}))
        cls.tenant, cls.admin = cls.stack.new_tenant_key(role="admin")

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def test_private_addresses_are_refused_and_nothing_stored(self):
        for url in ("http://127.0.0.1:4040/hook", "https://169.254.169.254/latest/meta-data",
                    "https://10.1.2.3/hook", "https://[::1]/hook", "https://[fd00::1]/hook",
                    "https://100.64.0.1/hook", "https://0.0.0.0/hook"):
            r = self.stack.request("POST", "/api/endpoints", key=self.admin,
                                   body={"url": url, "eventTypes": ["a.b"]})
            self.assertEqual(r.status, 400, (url, r))
            self.assertEqual([(e["field"], e["rule"]) for e in r.json["errors"]],
                             [("url", "address")], (url, r.json))
        self.assertEqual(self.stack.db.endpoints.count_documents({}), 0)
        r = self.stack.request("POST", "/api/endpoints", key=self.admin,
                               body={"url": "https://93.184.216.34/hook", "eventTypes": ["a.b"]})
        self.assertEqual(r.status, 201, r)
        path = f"/api/endpoints/{r.json['data']['id']}"
        r = self.stack.request("PATCH", path, key=self.admin, body={"url": "https://192.168.0.9/x"})
        self.assertEqual(r.status, 400, r)
        r = self.stack.request("GET", path, key=self.admin)
        self.assertEqual(r.json["data"]["url"], "https://93.184.216.34/hook")


if __name__ == "__main__":
    unittest.main()
