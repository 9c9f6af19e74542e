"""The server's actual responses conform to schemas/openapi.yaml: every
endpoint, its successes and a representative error of each kind. Each answer
must be documented for its operation and status, and its body must validate
against the documented schema; the request-body schemas must agree with the
server about which bodies are valid; queue messages match their schema."""
import base64
import datetime
import hashlib
import hmac
import json
import time
import os
import re
import unittest
import urllib.request
import uuid

import yaml
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

from api_support import started, later, call, email, post, push, sms, webhook
from harness import AMQP_URL, VHOST, Stack, close_cleanly, purge_queues

LATER = later()
SCHEMAS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "schemas"))
BASE = "https://wavecom.local/schemas/"


def load_contracts():
    with open(os.path.join(SCHEMAS, "openapi.yaml"), encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    store = {BASE + "openapi.yaml": spec}
    for name in os.listdir(SCHEMAS):
        if name.endswith(".schema.json"):
            with open(os.path.join(SCHEMAS, name), encoding="utf-8") as f:
                schema = json.load(f)
            store[schema["$id"]] = schema
    return spec, store


SPEC, STORE = load_contracts()
UNSUBSCRIBE_SECRET = "openapi-test-unsubscribe-secret-0123456789"


def unsubscribe_token(tenant, recipient, expires):
    """An unsubscribe link's token (docs/ARCHITECTURE.md §16)."""
    def b64url(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = f"{tenant}.EMAIL.{expires}.{b64url(recipient.encode())}"
    mac = hmac.new(UNSUBSCRIBE_SECRET.encode(), b"wavecom-unsubscribe-v1\n" + head.encode(),
                   hashlib.sha256).digest()
    return head + "." + b64url(mac)


def validator(schema):
    """A 2020-12 validator for `schema` (a fragment of the OpenAPI document),
    resolving $refs against the document and the schema files."""
    resolver = RefResolver(BASE + "openapi.yaml", SPEC, store=STORE)
    return Draft202012Validator(schema, resolver=resolver, format_checker=FormatChecker())


def resolve(node):
    """Follows a local $ref of the OpenAPI document (responses, headers)."""
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
        target = SPEC
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def operation_for(method, path):
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


class OpenApiConformanceTest(unittest.TestCase):
    exercised = set()

    @classmethod
    def setUpClass(cls):
        purge_queues()
        cls.stack = started(Stack(workers=1, env={"WAVECOM_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET}))
        cls.tenant, cls.key = cls.stack.new_tenant_key(role="operator")
        _, cls.viewer = cls.stack.new_tenant_key(role="viewer")
        cls.admin = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant,
                                  "--role", "admin").stdout.strip()

    @classmethod
    def tearDownClass(cls):
        purge_queues()
        close_cleanly(cls.stack)

    def conforms(self, reply, method, path):
        """Checks `reply` against the operation's documented response."""
        template, op = operation_for(method, path.split("?")[0])
        self.assertIsNotNone(op, f"{method} {path} is not documented")
        responses = op["responses"]
        self.assertIn(str(reply.status), responses,
                      f"{method} {template} answered {reply.status}, which is not documented: {reply}")
        doc = resolve(responses[str(reply.status)])
        self.exercised.add((method, template, reply.status))
        for name, header in (doc.get("headers") or {}).items():
            header = resolve(header)
            value = reply.header(name)
            if value is None:
                continue
            if header["schema"].get("type") == "integer":
                value = int(value)
            errors = list(validator(header["schema"]).iter_errors(value))
            self.assertEqual(errors, [], f"header {name}: {value!r}")
        content = doc.get("content")
        if content is None:
            self.assertEqual(reply.raw, b"", f"{reply.status} has no body by the contract")
            return
        media = reply.header("Content-Type").split(";")[0]
        self.assertIn(media, content, f"{method} {template} {reply.status}: {media} not documented")
        if media == "application/json":
            self.assertIsNotNone(reply.json, reply)
            errors = [f"{list(e.absolute_path)}: {e.message}"
                      for e in validator(content[media]["schema"]).iter_errors(reply.json)]
            self.assertEqual(errors, [], f"{method} {template} {reply.status}: {reply}")
        else:
            self.assertIsInstance(reply.text, str)

    def check(self, method, path, status, **kw):
        kw.setdefault("key", self.key)
        reply = call(self.stack, method, path, **kw)
        self.assertEqual(reply.status, status, reply)
        self.conforms(reply, method, path)
        return reply

    # -- every endpoint --

    def test_create(self):
        for body in (email(metadata={"a": [1, {"b": None}]}), sms(scheduledAt=LATER),
                     push(title="t", data={"k": "v"}), push("apns"), webhook()):
            self.check("POST", "/api/notifications", 201, body=body)
        idem = {"Idempotency-Key": uuid.uuid4().hex}
        self.check("POST", "/api/notifications", 201, body=sms(), headers=idem)
        self.check("POST", "/api/notifications", 200, body=sms(), headers=idem)
        self.check("POST", "/api/notifications", 409, body=sms(message="other"), headers=idem)
        self.check("POST", "/api/notifications", 400, body=sms(recipient="1"))
        self.check("POST", "/api/notifications", 400, raw=b"{",
                   headers={"Content-Type": "application/json"})
        self.check("POST", "/api/notifications", 400, body=sms(), headers={"Idempotency-Key": ""})
        self.check("POST", "/api/notifications", 401, body=sms(), key=None)
        self.check("POST", "/api/notifications", 401, body=sms(), key="wck_" + "0" * 48)
        self.check("POST", "/api/notifications", 403, body=sms(), key=self.viewer)
        self.check("POST", "/api/notifications", 413, raw=b"{" + b" " * 200000 + b"}",
                   headers={"Content-Type": "application/json"})
        self.check("POST", "/api/notifications", 415, raw=b"{}", headers={"Content-Type": "text/plain"})

    def test_batch(self):
        path = "/api/notifications/batch"
        self.check("POST", path, 201, body={"notifications": [sms(), email()]})
        self.check("POST", path, 207, body={"notifications": [sms(), sms(recipient="x")]})
        self.check("POST", path, 400, body={"notifications": [sms(recipient="x")]})
        self.check("POST", path, 400, body={"notifications": "x"})
        self.check("POST", path, 413, body={"notifications": [sms()] * 1001})
        idem = {"Idempotency-Key": uuid.uuid4().hex}
        self.check("POST", path, 201, body={"notifications": [sms()]}, headers=idem)
        self.check("POST", path, 201, body={"notifications": [sms()]}, headers=idem)
        self.check("POST", path, 409, body={"notifications": [sms(message="x")]}, headers=idem)
        self.check("POST", path, 415, raw=b"{}", headers={"Content-Type": "text/plain"})
        self.check("POST", path, 401, body={"notifications": [sms()]}, key=None)
        self.check("POST", path, 403, body={"notifications": [sms()]}, key=self.viewer)

    def test_get_and_cancel(self):
        nid = post(self.stack, self.key, email(scheduledAt=LATER)).json["data"]["_id"]
        r = self.check("GET", f"/api/notifications/{nid}", 200)
        self.check("GET", f"/api/notifications/{nid}", 304, headers={"If-None-Match": r.header("ETag")})
        self.check("GET", "/api/notifications/xyz", 400)
        self.check("GET", "/api/notifications/" + "0" * 24, 404)
        self.check("GET", f"/api/notifications/{nid}", 401, key=None)
        cancel = f"/api/notifications/{nid}/cancel"
        self.check("POST", cancel, 400, body={"reason": ""})
        self.check("POST", cancel, 415, raw=b"x", headers={"Content-Type": "text/plain"})
        self.check("POST", cancel, 403, key=self.viewer)
        self.check("POST", cancel, 200, body={"reason": "test"})
        self.check("POST", cancel, 200)
        self.check("POST", "/api/notifications/" + "0" * 24 + "/cancel", 404)
        sent = self.stack.db.notifications.insert_one({"tenantId": self.tenant, "status": "SENT"})
        self.check("POST", f"/api/notifications/{sent.inserted_id}/cancel", 409)

    def test_replay_and_audit(self):
        failed = self.stack.db.notifications.insert_one(
            {"tenantId": self.tenant, "status": "FAILED", "type": "EMAIL", "recipient": "a@b.example",
             "subject": "s", "message": "m", "priority": "HIGH", "retryCount": 3, "maxRetries": 3,
             "createdAt": datetime.datetime.now(datetime.timezone.utc),
             "updatedAt": datetime.datetime.now(datetime.timezone.utc)})
        replay = f"/api/notifications/{failed.inserted_id}/replay"
        self.check("POST", replay, 403, key=self.viewer)
        self.check("POST", replay, 200)
        self.check("POST", replay, 409)
        self.check("POST", "/api/notifications/" + "0" * 24 + "/replay", 404)
        self.check("POST", "/api/notifications/xyz/replay", 400)
        r = self.check("GET", "/api/audit", 200, key=self.admin)
        self.assertTrue(r.json["data"]["events"])
        self.check("GET", "/api/audit?limit=0", 400, key=self.admin)
        self.check("GET", "/api/audit", 403)
        self.check("GET", "/api/audit", 401, key=None)

    def test_keys_and_usage(self):
        post(self.stack, self.admin, email())
        r = self.check("GET", "/api/keys", 200, key=self.admin)
        self.assertIn(self.admin[:12], [k["hint"] for k in r.json["data"]["keys"]])
        self.check("GET", "/api/keys", 403)
        self.check("GET", "/api/keys?x=1", 400, key=self.admin)
        self.check("GET", "/api/usage", 200, key=self.admin)
        self.check("GET", f"/api/usage?from=2026-01-01&to=2026-01-31&apiKey={self.admin[:12]}", 200,
                   key=self.admin)
        self.check("GET", "/api/usage?from=2026-02-30", 400, key=self.admin)
        self.check("GET", "/api/usage?from=2026-02-01&to=2026-01-01", 400, key=self.admin)
        self.check("GET", "/api/usage?apiKey=secret", 400, key=self.admin)
        self.check("GET", "/api/usage", 403)
        self.check("GET", "/api/usage", 401, key=None)
        # Over a monthly quota: 429 with the quota and Retry-After, as documented.
        tenant, key = self.stack.new_tenant_key(role="sender")
        self.stack.ctl("apikey", "quota", key[:12], "--monthly", "0")
        r = self.check("POST", "/api/notifications", 429, key=key, body=email())
        self.assertEqual(r.json["quota"]["limit"], 0)

    def test_list_and_stats(self):
        post(self.stack, self.key, sms())
        r = self.check("GET", "/api/notifications?limit=5&type=SMS", 200)
        self.check("GET", "/api/notifications?limit=5&type=SMS", 304,
                   headers={"If-None-Match": r.header("ETag")})
        self.check("GET", "/api/notifications?limit=500", 400)
        self.check("GET", "/api/notifications", 401, key=None)
        r = self.check("GET", "/api/notifications/stats/system", 200)
        self.check("GET", "/api/notifications/stats/system", 304,
                   headers={"If-None-Match": r.header("ETag")})
        self.check("GET", "/api/notifications/stats/system?x=1", 400)
        self.check("GET", "/api/notifications/stats/system", 401, key="nope")

    def test_health_and_metrics(self):
        r = self.check("GET", "/api/health", 200, key=None)
        self.check("GET", "/api/metrics", 200, key=None)
        m = self.check("GET", "/api/metrics", 200, key=None, headers={"Accept-Encoding": "gzip"})
        self.assertEqual(m.header("Content-Encoding"), "gzip")
        self.assertIsNotNone(r.header("ETag"))

    def test_unrouted_answers_are_json_errors(self):
        error = validator({"$ref": "#/components/schemas/Error"})
        for method, path, status in (("GET", "/api/nothing", 404),
                                     ("DELETE", "/api/notifications", 405),
                                     ("PUT", "/api/notifications/batch", 405)):
            r = call(self.stack, method, path, key=self.key)
            self.assertEqual(r.status, status, r)
            self.assertEqual(list(error.iter_errors(r.json)), [])

    def test_dashboard_routes(self):
        # The operator dashboard's routes (test_api_dashboard.py tests what they do).
        _, admin = self.stack.new_tenant_key(role="admin")
        self.check("GET", "/api/me", 200)
        self.check("GET", "/api/me", 401, key=None)
        self.check("GET", "/api/notifications/stats/throughput", 200)
        self.check("GET", "/api/notifications/stats/throughput?x=1", 400)
        self.check("GET", "/api/dlq", 200)
        self.check("GET", "/api/dlq?limit=0", 400)
        self.check("GET", "/api/workers", 200, key=self.viewer)
        self.check("GET", "/api/workers?x=1", 400)
        self.check("GET", "/api/workers", 401, key=None)
        self.check("POST", "/api/dlq/replay", 200, body={"ids": ["0" * 24]}, key=admin)
        self.check("POST", "/api/dlq/replay", 400, body={"ids": []}, key=admin)
        self.check("POST", "/api/dlq/replay", 403, body={"ids": ["0" * 24]}, key=self.viewer)
        self.check("POST", "/api/dlq/replay", 415, raw=b"{}", key=admin,
                   headers={"Content-Type": "text/plain"})

    def test_endpoints_and_events(self):
        url = "https://localhost/wavecom"  # loopback, as the guard allows here; no worker: nothing is sent
        body = {"url": url, "eventTypes": ["order.*"], "filter": {"field": "total", "gt": 1},
                "transformation": {"select": "/data"}, "headers": {"X-A": "b"}, "rateLimit": 5}
        r = self.check("POST", "/api/endpoints", 201, key=self.admin, body=body)
        eid = r.json["data"]["id"]
        self.check("POST", "/api/endpoints", 400, key=self.admin, body={"url": url})
        self.check("POST", "/api/endpoints", 403, body=body)
        self.check("GET", "/api/endpoints", 200)
        self.check("GET", "/api/endpoints", 401, key=None)
        self.check("GET", f"/api/endpoints/{eid}", 200)
        self.check("GET", "/api/endpoints/" + "0" * 24, 404)
        r = self.check("GET", f"/api/endpoints/{eid}/health", 200)
        self.assertEqual((r.json["data"]["attempts"], r.json["data"]["latencyMs"]), (0, None))
        # What a worker's flush writes, for the answer with every field filled in.
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        hour = now.replace(minute=0, second=0)
        self.stack.db.endpoint_health.insert_one({
            "_id": f"{eid}:h:{int(hour.timestamp() * 1000)}", "endpointId": eid, "hour": hour,
            "delivered": 3, "failed": 1, "ptSum": 120, "pt": {"40": 2, "41": 1}})
        self.stack.db.endpoint_state.insert_one({
            "_id": eid, "endpointId": eid, "lastSuccessAt": now, "lastFailureAt": now,
            "lastError": "HTTP 500", "failingSince": now})
        r = self.check("GET", f"/api/endpoints/{eid}/health", 200)
        self.assertEqual(r.json["data"]["successRate"], 0.75)
        self.assertIsNotNone(r.json["data"]["disablesAt"])
        self.check("GET", "/api/endpoints/" + "0" * 24 + "/health", 404)
        r = self.check("POST", f"/api/endpoints/{eid}/replay", 200, key=self.admin)
        self.assertEqual(r.json["data"]["replayed"], 0)
        self.check("POST", f"/api/endpoints/{eid}/replay", 400, key=self.admin,
                   body={"status": "ALL"})
        self.check("POST", f"/api/endpoints/{eid}/replay", 403, key=self.viewer)
        self.check("POST", "/api/endpoints/" + "0" * 24 + "/replay", 404, key=self.admin)
        self.check("GET", f"/api/endpoints/{eid}/health?hours=1", 400)
        self.check("PATCH", f"/api/endpoints/{eid}", 200, key=self.admin,
                   body={"filter": None, "enabled": True})
        self.check("PATCH", f"/api/endpoints/{eid}", 400, key=self.admin, body={})
        self.check("POST", f"/api/endpoints/{eid}/rotate-secret", 200, key=self.admin,
                   body={"graceSeconds": 60})
        self.check("POST", f"/api/endpoints/{eid}/rotate-secret", 400, key=self.admin,
                   body={"graceSeconds": -1})
        event = {"type": "order.paid", "payload": {"total": 5}, "eventId": "oa-" + uuid.uuid4().hex}
        r = self.check("POST", "/api/events", 201, body=event)
        self.assertEqual(r.json["data"]["endpoints"], [eid])
        self.check("POST", "/api/events", 200, body=event)
        self.check("POST", "/api/events", 409, body=dict(event, payload={"total": 6}))
        self.check("POST", "/api/events", 400, body={"type": "order paid", "payload": {}})
        self.check("POST", "/api/events", 403, key=self.viewer, body=event)
        r = self.check("GET", f"/api/events/{event['eventId']}", 200)
        self.assertEqual([d["endpointId"] for d in r.json["data"]["endpointDeliveries"]], [eid])
        self.check("GET", "/api/events/no-such-event", 404)
        self.check("GET", "/api/events/bad!id", 400)
        r = self.check("POST", "/api/events/batch", 201,
                       body={"events": [{"type": "order.new", "payload": {}}]})
        self.assertEqual(r.json["data"][0]["status"], 201)
        self.check("POST", "/api/events/batch", 207, body={"events": [dict(event, payload={})]})
        self.check("POST", "/api/events/batch", 400, body={"events": []})
        self.check("DELETE", f"/api/endpoints/{eid}", 200, key=self.admin)
        self.check("DELETE", f"/api/endpoints/{eid}", 404, key=self.admin)
    def test_templates(self):
        body = {"name": f"t-{uuid.uuid4().hex[:8]}", "defaultLocale": "en",
                "locales": {"en": {"SMS": {"text": "Code {{code}}"},
                                   "EMAIL": {"subject": "s", "text": "t", "html": "<b>{{code}}</b>"}}}}
        tid = self.check("POST", "/api/templates", 201, body=body).json["data"]["_id"]
        path = f"/api/templates/{tid}"
        self.check("POST", "/api/templates", 409, body=body)
        self.check("POST", "/api/templates", 400, body={"name": "x"})
        self.check("POST", "/api/templates", 403, body=body, key=self.viewer)
        self.check("POST", "/api/templates", 401, body=body, key=None)
        self.check("POST", "/api/templates", 415, raw=b"{}", headers={"Content-Type": "text/plain"})
        r = self.check("GET", "/api/templates?limit=10", 200)
        self.check("GET", "/api/templates?limit=10", 304, headers={"If-None-Match": r.header("ETag")})
        self.check("GET", "/api/templates?limit=0", 400)
        self.check("GET", "/api/templates", 401, key=None)
        self.check("PATCH", path, 200, body={"locales": {"en": {"SMS": {"text": "v2 {{code}}"}}}})
        self.check("PATCH", path, 400, body={"name": "y"})
        self.check("PATCH", "/api/templates/" + "0" * 24, 404, body={"description": "d"})
        self.check("PATCH", path, 403, body={"description": "d"}, key=self.viewer)
        self.check("GET", path + "?version=1", 200)
        self.check("GET", path + "?version=9", 404)
        self.check("GET", path + "?version=x", 400)
        templated = {"type": "SMS", "recipient": "+14155550100", "templateId": tid,
                     "data": {"code": "12"}}
        self.check("POST", "/api/notifications", 201, body=templated)
        self.check("POST", "/api/notifications", 400, body={**templated, "data": {}})
        self.check("POST", "/api/notifications/batch", 201, body={"notifications": [templated]})
        # The request schemas agree with the server on templated and HTML bodies.
        create = validator({"$ref": "./notification-create.schema.json"})
        for b in (templated, {**templated, "version": 2, "locale": "pt-BR"},
                  {**templated, "message": "x"}, {**templated, "version": 0},
                  {**templated, "locale": "EN"}, email(html="<p>x</p>"), sms(html="<p>x</p>"),
                  sms(locale="en"), email(templateId=tid, subject=None)):
            b = {k: v for k, v in b.items() if v is not None}
            with self.subTest(body=b):
                self.assertEqual(create.is_valid(b), post(self.stack, self.key, b).status == 201, b)
        self.check("DELETE", path, 403, key=self.viewer)
        self.check("DELETE", path, 200)
        self.check("DELETE", path, 404)
        self.check("GET", path, 404)

    def test_suppressions_preferences_categories_unsubscribe(self):
        address = f"s-{uuid.uuid4().hex[:8]}@example.com"
        entry = f"/api/suppressions/EMAIL:{address}"
        body = {"channel": "EMAIL", "recipient": address, "reason": "manual"}
        self.check("POST", "/api/suppressions", 201, body=body)
        self.check("POST", "/api/suppressions", 200, body={**body, "reason": "complaint"})
        self.check("POST", "/api/suppressions", 400, body={"channel": "FAX", "recipient": "x"})
        self.check("POST", "/api/suppressions", 403, body=body, key=self.viewer)
        self.check("POST", "/api/suppressions", 401, body=body, key=None)
        self.check("POST", "/api/suppressions", 415, raw=b"{}", headers={"Content-Type": "text/plain"})
        r = self.check("GET", "/api/suppressions?channel=EMAIL&limit=10", 200)
        self.check("GET", "/api/suppressions?channel=EMAIL&limit=10", 304,
                   headers={"If-None-Match": r.header("ETag")})
        self.check("GET", "/api/suppressions?channel=FAX", 400)
        self.check("GET", "/api/suppressions", 401, key=None)
        self.check("GET", entry, 200)
        self.check("GET", "/api/suppressions/EMAIL:nobody@example.com", 404)
        self.check("GET", "/api/suppressions/FAX:1", 400)
        self.check("DELETE", entry, 403, key=self.viewer)
        self.check("DELETE", entry, 200)
        self.check("DELETE", entry, 404)
        suppression = validator({"$ref": "./suppression-create.schema.json"})
        for b in (body, {"channel": "SMS", "recipient": "+14155550100"}, {"channel": "FAX", "recipient": "x"},
                  {"channel": "EMAIL"}, {**body, "reason": "x"}, {**body, "extra": 1}):
            with self.subTest(body=b):
                server_ok = call(self.stack, "POST", "/api/suppressions", body=b,
                                 key=self.key).status in (200, 201)
                self.assertEqual(suppression.is_valid(b), server_ok, b)

        prefs = {"optOutChannels": ["SMS"], "optOutCategories": ["marketing"]}
        self.check("PUT", "/api/preferences/u-1", 200, body=prefs)
        self.check("PUT", "/api/preferences/u-1", 400, body={"optOutChannels": ["FAX"],
                                                             "optOutCategories": []})
        self.check("PUT", "/api/preferences/u-1", 403, body=prefs, key=self.viewer)
        self.check("PUT", "/api/preferences/u-1", 415, raw=b"{}", headers={"Content-Type": "text/plain"})
        self.check("GET", "/api/preferences/u-1", 200)
        self.check("GET", "/api/preferences/u-unknown", 404)
        self.check("GET", "/api/preferences/u-1", 401, key=None)
        self.check("DELETE", "/api/preferences/u-1", 403, key=self.viewer)
        self.check("DELETE", "/api/preferences/u-1", 200)
        self.check("DELETE", "/api/preferences/u-1", 404)
        preferences = validator({"$ref": "./preferences.schema.json"})
        for b in (prefs, {"optOutChannels": [], "optOutCategories": []}, {"optOutChannels": ["SMS"]},
                  {"optOutChannels": ["SMS", "SMS"], "optOutCategories": []},
                  {"optOutChannels": [], "optOutCategories": ["Bad"]}, {**prefs, "x": 1}):
            with self.subTest(body=b):
                server_ok = call(self.stack, "PUT", "/api/preferences/u-2", body=b,
                                 key=self.key).status == 200
                self.assertEqual(preferences.is_valid(b), server_ok, b)

        self.check("PUT", "/api/categories/otp", 200, body={"transactional": True})
        self.check("PUT", "/api/categories/otp", 400, body={"transactional": 1})
        self.check("PUT", "/api/categories/otp", 403, body={"transactional": True}, key=self.viewer)
        self.check("PUT", "/api/categories/otp", 415, raw=b"{}", headers={"Content-Type": "text/plain"})
        self.check("GET", "/api/categories?limit=10", 200)
        self.check("GET", "/api/categories?limit=0", 400)
        self.check("GET", "/api/categories/otp", 200)
        self.check("GET", "/api/categories/none", 404)
        self.check("GET", "/api/categories/Bad", 400)
        self.check("DELETE", "/api/categories/otp", 403, key=self.viewer)
        self.check("DELETE", "/api/categories/otp", 200)
        self.check("DELETE", "/api/categories/otp", 404)
        category = validator({"$ref": "./category.schema.json"})
        for b in ({"transactional": False}, {}, {"transactional": "no"}, {"transactional": True, "x": 1}):
            with self.subTest(body=b):
                server_ok = call(self.stack, "PUT", "/api/categories/c1", body=b,
                                 key=self.key).status == 200
                self.assertEqual(category.is_valid(b), server_ok, b)

        token = unsubscribe_token(self.tenant, address, int(time.time()) + 600)
        self.check("GET", "/unsubscribe?token=" + token, 200, key=None)
        self.check("POST", "/unsubscribe?token=" + token, 200, key=None)
        self.check("POST", "/unsubscribe?token=" + token, 200, key=None)
        self.check("POST", "/unsubscribe?token=" + token[:-3] + "AAA", 400, key=None)
        self.check("GET", "/unsubscribe", 400, key=None)
        with_timestamps = {"type": "EMAIL", "recipient": address, "subject": "s", "message": "m",
                           "userId": "u-1", "category": "otp"}
        self.check("POST", "/api/notifications", 201, body=with_timestamps)

    def test_zz_every_operation_was_exercised(self):
        operations = {(m.upper(), p) for p, item in SPEC["paths"].items() for m in item
                      if m in ("get", "post", "put", "delete", "patch")}
        seen = {(m, p) for m, p, _ in self.exercised}
        self.assertEqual(operations - seen, set())

    # -- the request schemas tell the truth --

    def test_request_schemas_agree_with_the_server(self):
        create = validator({"$ref": "./notification-create.schema.json"})
        bodies = [email(), sms(), push(), push("apns", title="t"), webhook(), webhook(payload=[1]),
                  sms(scheduledAt=LATER, priority="LOW", maxRetries=0),
                  email(subject=None), sms(subject="s"), sms(recipient="+0123456789"),
                  sms(message="m" * 1601), push(platform=None), push(data={"n": 1}),
                  push("apns", recipient="xyz"), webhook(payload="s"), webhook(recipient="ftp://e.com"),
                  webhook(message=None), {"type": "WEBHOOK", "recipient": "https://e.com/x"},
                  email(colour=1), email(maxRetries=11), email(priority="NOW"), {"type": "FAX"}]
        for body in bodies:
            body = {k: v for k, v in body.items() if v is not None}
            with self.subTest(body=body):
                server_ok = post(self.stack, self.key, body).status == 201
                schema_ok = create.is_valid(body)
                self.assertEqual(schema_ok, server_ok, body)
        batch = validator({"$ref": "./notification-batch.schema.json"})
        self.assertTrue(batch.is_valid({"notifications": [sms()]}))
        self.assertFalse(batch.is_valid({"notifications": []}))
        self.assertFalse(batch.is_valid({"notifications": [sms()] * 1001}))
        cancel = validator({"$ref": "./notification-cancel.schema.json"})
        self.assertTrue(cancel.is_valid({}))
        self.assertTrue(cancel.is_valid({"reason": "r"}))
        self.assertFalse(cancel.is_valid({"reason": ""}))

    def test_queue_messages_match_their_schema(self):
        """Messages the API publishes, read back through RabbitMQ's HTTP API."""
        purge_queues()
        for body in (email(priority="HIGH"), sms(priority="LOW"), webhook(priority="CRITICAL")):
            self.assertEqual(post(self.stack, self.key, body, headers={"X-Request-Id": "trace-1"}).status, 201)
        port = os.environ.get("WAVECOM_RABBITMQ_MGMT_PORT", "15672")
        creds = AMQP_URL.split("//", 1)[1].split("@", 1)[0]
        auth = base64.b64encode(creds.encode()).decode()
        schema = validator({"$ref": "./queue-message.schema.json"})
        messages = []
        for queue in ("high_priority", "notifications"):
            vhost = urllib.request.quote(VHOST, safe="")
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/queues/{vhost}/{queue}/get",
                data=json.dumps({"count": 10, "ackmode": "ack_requeue_false",
                                 "encoding": "auto"}).encode(),
                headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
                method="POST")
            with urllib.request.urlopen(req, timeout=30) as resp:
                messages += json.loads(resp.read())
        self.assertEqual(len(messages), 3, messages)
        for m in messages:
            body = json.loads(m["payload"])
            self.assertEqual(list(schema.iter_errors(body)), [], body)
            self.assertEqual(m["properties"]["message_id"], body["notificationId"])
            self.assertEqual(m["properties"]["delivery_mode"], 2)
            self.assertEqual(body["correlationId"], "trace-1")
        self.assertEqual(sorted(json.loads(m["payload"])["type"] for m in messages),
                         ["EMAIL", "SMS", "WEBHOOK"])


if __name__ == "__main__":
    unittest.main()
