"""Helpers of the intake API tests (test_api_*.py): raw HTTP with full control
over headers and bytes, one valid body per channel, and checks shared by the
tests. The processes and services come from harness.Stack."""
import datetime
import gzip
import http.client
import json
import uuid

from harness import started, wait_until as wait_for  # the API tests take these from here

APNS_TOKEN = "a1" * 32  # 64 hexadecimal digits


def later(days=30):
    """An RFC 3339 instant `days` ahead, at a whole second."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def email(**extra):
    body = {"type": "EMAIL", "recipient": f"user-{uuid.uuid4().hex[:8]}@example.com",
            "subject": "Subject", "message": "Hello"}
    body.update(extra)
    return body


def sms(**extra):
    body = {"type": "SMS", "recipient": "+14155550100", "message": "Your code is 1234"}
    body.update(extra)
    return body


def push(platform="fcm", **extra):
    body = {"type": "PUSH", "platform": platform, "message": "You have a parcel",
            "recipient": APNS_TOKEN if platform == "apns" else "fcm:APA91b_token-1.2"}
    body.update(extra)
    return body


def webhook(**extra):
    body = {"type": "WEBHOOK", "recipient": "https://hooks.example.com/wavecom",
            "payload": {"event": "payment.settled", "amount": 1250, "tags": ["a", "b"]}}
    body.update(extra)
    return body


class Reply:
    """A response: status, headers (case-insensitive), raw bytes, decoded body."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        body = raw
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(raw)
        self.text = body.decode("utf-8", errors="replace")
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return f"<{self.status} {self.text[:400]!r}>"


def call(stack, method, path, body=None, key=None, headers=None, raw=None, timeout=60):
    """One request on a fresh connection. `body` is JSON-encoded; `raw` is sent as is."""
    hdrs = {}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if key is not None:
        hdrs["Authorization"] = f"Bearer {key}"
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def post(stack, key, body, headers=None):
    return call(stack, "POST", "/api/notifications", body=body, key=key, headers=headers)


def field_rules(reply):
    """The (field, rule) pairs of a validation error."""
    return [(e["field"], e["rule"]) for e in (reply.json or {}).get("errors", [])]
