"""Where webhooks may go, for both settings of WAVECOM_WEBHOOK_ALLOW_LOOPBACK:
a URL whose host is an IP literal in a refused range (any form the C library
accepts) is refused at intake with 400 (recipient, destination); link-local,
cloud metadata and private addresses are refused whatever the setting; a host
name is judged when it is resolved, on every attempt, and a refused one fails
for good (FAILED, no retry, dead-lettered) without the target ever seeing a
request; a redirect is never followed.

Safety: nothing here may reach an address outside 127.0.0.0/8. The refused
literals never get past intake, the only names used resolve to loopback, and
the redirect test's server (on 127.0.0.1) points at a metadata address the
worker never follows and its socket guard refuses anyway."""
import http.server
import threading
import unittest
import urllib.parse
import uuid

import providers
from fault_support import dlq_depth
from harness import close_cleanly

# Refused whatever the setting: link-local, cloud metadata, private, reserved,
# in decimal, hex, octal, short and IPv6 forms.
ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/latest/meta-data/",             # 169.254.169.254 in decimal
    "http://0xa9fea9fe/latest/meta-data/",             # in hex
    "http://0251.0376.0251.0376/latest/meta-data/",    # in octal
    "http://169.254.43518/latest/meta-data/",          # the a.b.c short form
    "http://100.100.100.200/latest/meta-data/",        # Alibaba Cloud metadata
    "http://[fd00:ec2::254]/latest/meta-data/",        # AWS metadata over IPv6
    "http://[fe80::1]/x",
    "http://[::ffff:169.254.169.254]/latest/",         # IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/latest/",               # the same, hex groups
    "http://[::169.254.169.254]/latest/",              # IPv4-compatible
    "http://10.0.0.1/internal",
    "http://0x0a000001/internal",                      # 10.0.0.1 in hex
    "http://192.168.0.1/router",
    "http://3232235521/router",                        # 192.168.0.1 in decimal
    "http://0.0.0.0/x",
    "http://[::ffff:10.0.0.1]/x",
    "http://[fc00::1]/x",
]


def loopback_literals(port, prefix):
    """The webhook double's own address, written the ways the C library reads it."""
    return [
        f"http://127.0.0.1:{port}{prefix}/dotted",
        f"http://127.1:{port}{prefix}/short",
        f"http://2130706433:{port}{prefix}/decimal",
        f"http://0x7f000001:{port}{prefix}/hex",
        f"http://017700000001:{port}{prefix}/octal",
    ]


class _Redirector(http.server.BaseHTTPRequestHandler):
    """Answers every POST with a redirect to the cloud metadata service."""
    hits = 0

    def do_POST(self):
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _SsrfCase:
    """What both settings share; ALLOW_LOOPBACK is the subclass's."""
    ALLOW_LOOPBACK = None

    @classmethod
    def setUpClass(cls):
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            WAVECOM_WEBHOOK_ALLOW_LOOPBACK=cls.ALLOW_LOOPBACK,
            WAVECOM_WEBHOOK_ALLOW_PRIVATE="0", WAVECOM_MAX_RETRIES="2")
        cls.prefix = providers.register_tenant_webhooks(cls.stack, cls.tenant, "ssrf")
        cls.port = urllib.parse.urlsplit(providers.WEBHOOK_URL).port

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def post(self, url, **extra):
        return self.stack.request("POST", "/api/notifications", key=self.key,
                                  body=dict({"type": "WEBHOOK", "recipient": url, "message": "m",
                                             "payload": {"probe": uuid.uuid4().hex}}, **extra))

    def assert_refused_at_intake(self, url):
        r = self.post(url)
        self.assertEqual(r.status, 400, r)
        rules = [(e["field"], e["rule"]) for e in r.json["errors"]]
        self.assertEqual(rules, [("recipient", "destination")], r)

    def accepted(self, url, **extra):
        r = self.post(url, **extra)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def seen_by_double(self, nid):
        return [r for r in providers.last("webhook", 500) if nid in str(r)]

    def assert_failed_for_good(self, nid, dlq_before):
        data = self.stack.wait_for_status(self.key, nid, "FAILED", 30).json["data"]
        n = data["notification"]
        self.assertIn("blocked", n["error"])
        self.assertEqual(n["retryCount"], 0, "a refused target is never retried")
        self.assertNotIn("RETRYING", [e["status"] for e in data["logs"]])
        self.assertFalse(self.seen_by_double(nid), "the double received a request")
        self.assertEqual(dlq_depth(self.stack), dlq_before + 1, "dead-lettered")

    def test_always_refused_literals(self):
        for url in ALWAYS_REFUSED:
            with self.subTest(url=url):
                self.assert_refused_at_intake(url)

    def test_batch_refuses_a_literal_too(self):
        r = self.stack.request("POST", "/api/notifications/batch", key=self.key, body={
            "notifications": [{"type": "WEBHOOK", "recipient": ALWAYS_REFUSED[0],
                               "message": "m", "payload": {"x": 1}}]})
        self.assertEqual(r.status, 400, r)  # every item refused
        result = r.json["data"]["results"][0]
        self.assertEqual(result["code"], 400, r)
        self.assertEqual([(e["field"], e["rule"]) for e in result["errors"]],
                         [("recipient", "destination")])

    def test_redirect_to_metadata_is_not_followed(self):
        if self.ALLOW_LOOPBACK != "1":
            self.skipTest("the redirecting server is on loopback, refused here")
        server = http.server.HTTPServer(("127.0.0.1", 0), _Redirector)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            _Redirector.hits = 0
            url = f"http://127.0.0.1:{server.server_port}/hook"
            # No retry, so the test stays short: one attempt, one request.
            nid = self.accepted(url, maxRetries=0)
            n = self.stack.wait_for_status(self.key, nid, "FAILED", 30).json["data"]["notification"]
            self.assertIn("HTTP 302", n["error"])
            self.assertEqual(_Redirector.hits, 1, "the redirect was answered, never followed")
        finally:
            server.shutdown()
            server.server_close()


class StrictSsrfTest(_SsrfCase, unittest.TestCase):
    """Loopback refused (production)."""
    ALLOW_LOOPBACK = "0"

    def test_loopback_literals_are_refused_at_intake(self):
        mapped = [f"http://[::1]:{self.port}/v6", f"http://[::ffff:127.0.0.1]:{self.port}/mapped"]
        for url in loopback_literals(self.port, self.prefix) + mapped:
            with self.subTest(url=url):
                self.assert_refused_at_intake(url)

    def test_name_resolving_to_loopback_fails_for_good(self):
        for name in ("localhost", "LOCALHOST"):
            with self.subTest(name=name):
                before = dlq_depth(self.stack)
                nid = self.accepted(f"http://{name}:{self.port}{self.prefix}/by-name")
                self.assert_failed_for_good(nid, before)


class LoopbackSsrfTest(_SsrfCase, unittest.TestCase):
    """Loopback allowed (the local stack and its doubles); nothing else is."""
    ALLOW_LOOPBACK = "1"

    def test_loopback_literals_and_names_are_delivered(self):
        urls = loopback_literals(self.port, self.prefix) + [
            f"http://localhost:{self.port}{self.prefix}/by-name"]
        for url in urls:
            with self.subTest(url=url):
                nid = self.accepted(url)
                self.stack.wait_for_status(self.key, nid, "SENT", 30)
                self.assertTrue(self.seen_by_double(nid))


if __name__ == "__main__":
    unittest.main()
