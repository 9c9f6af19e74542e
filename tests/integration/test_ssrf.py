"""Webhooks may not reach the machine itself or its private networks unless
the operator allows it (WAVECOM_WEBHOOK_ALLOW_PRIVATE): loopback by address
and by name, private, link-local (cloud metadata) and IPv4-mapped targets fail
permanently, and the target never sees a request."""
import unittest
import urllib.parse
import uuid

import providers
from harness import close_cleanly


class SsrfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            WAVECOM_WEBHOOK_ALLOW_PRIVATE="0", WAVECOM_MAX_RETRIES="0")
        cls.prefix = providers.register_tenant_webhooks(cls.stack, cls.tenant, "ssrf")

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def hook(self, url):
        r = self.stack.request("POST", "/api/notifications", key=self.key,
                               body={"type": "WEBHOOK", "recipient": url, "message": "m",
                                     "payload": {"probe": uuid.uuid4().hex}})
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        return nid, self.stack.wait_for_status(self.key, nid, "FAILED", 30).json["data"]

    def test_internal_targets_are_blocked(self):
        double = urllib.parse.urlsplit(providers.WEBHOOK_URL)
        port = double.port
        targets = [
            providers.WEBHOOK_URL + self.prefix + "/literal",           # 127.0.0.1
            f"http://localhost:{port}{self.prefix}/by-name",           # a name that is loopback
            f"http://[::ffff:127.0.0.1]:{port}{self.prefix}/mapped",    # IPv4-mapped IPv6
            f"http://[::1]:{port}{self.prefix}/v6",
            "http://169.254.169.254/latest/meta-data/",                # cloud metadata
            "http://10.0.0.1/internal",
            "http://192.168.0.1/router",
        ]
        for url in targets:
            with self.subTest(url=url):
                nid, data = self.hook(url)
                n = data["notification"]
                self.assertIn("blocked", n["error"])
                self.assertEqual(n["retryCount"], 0, "a blocked target is permanent")
                self.assertFalse([r for r in providers.last("webhook", 200) if nid in str(r)],
                                 "the double received a request it should never have")


if __name__ == "__main__":
    unittest.main()
