"""SMS failover (WAVECOM_SMS_PROVIDERS=twilio,vonage): with the primary (Twilio) answering 503,
every SMS still ends SENT, through the secondary (Vonage), at once rather than after a retry
tier; the primary's breaker opens after WAVECOM_BREAKER_THRESHOLD failures, after which the
primary is not asked at all; `providerName` and the trail say which provider delivered.

The doubles here are a private build of loadtest/doubles on free loopback ports, so that the
shared doubles (which do not know Vonage before this build is installed) stay untouched."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

from harness import Stack, close_cleanly, free_port, purge_queues, started, tcp_answers, wait_until
import providers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COUNT = 40
THRESHOLD = 5


def _go():
    return shutil.which("go") or "/usr/local/go/bin/go"


class PrivateDoubles:
    """loadtest/doubles built from this tree and run on free loopback ports."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wavecom-doubles-")
        self.binary = os.path.join(self.dir, "wavecom-doubles")
        subprocess.run([_go(), "build", "-o", self.binary, "."], cwd=os.path.join(ROOT, "loadtest", "doubles"),
                       check=True, timeout=600)
        self.ports = {name: free_port() for name in ("control", "twilio", "fcm", "apns", "webhook", "vonage")}
        args = [self.binary, "-fcm-service-account-out", os.path.join(self.dir, "sa.json"),
                "-apns-key-out", os.path.join(self.dir, "apns.p8"),
                "-tls-cert-out", os.path.join(self.dir, "tls-cert.pem")]
        for name, port in self.ports.items():
            args += [f"-{name}-addr", f"127.0.0.1:{port}"]
        self.log = open(os.path.join(self.dir, "doubles.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: tcp_answers(self.ports["control"]) and tcp_answers(self.ports["vonage"]),
                   60, what="the private doubles to listen")
        self.info = self.call("GET", "/_control/info")

    def url(self, name):
        return f"http://127.0.0.1:{self.ports[name]}"

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url("control") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def configure(self, provider, **settings):
        return self.call("POST", f"/_control/{provider}/config", settings)

    def stats(self):
        return self.call("GET", "/_control/stats")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SmsFailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doubles = PrivateDoubles()
        info = cls.doubles.info
        env = dict(providers.worker_env(), **{
            "WAVECOM_TWILIO_URL": cls.doubles.url("twilio"),
            "WAVECOM_TWILIO_ACCOUNT_SID": info["twilio"]["account_sid"],
            "WAVECOM_TWILIO_AUTH_TOKEN": info["twilio"]["auth_token"],
            "WAVECOM_VONAGE_URL": cls.doubles.url("vonage"),
            "WAVECOM_VONAGE_API_KEY": info["vonage"]["api_key"],
            "WAVECOM_VONAGE_API_SECRET": info["vonage"]["api_secret"],
            "WAVECOM_VONAGE_FROM": "WaveCom",
            "WAVECOM_SMS_PROVIDERS": "twilio,vonage",
            "WAVECOM_BREAKER_THRESHOLD": str(THRESHOLD),
            "WAVECOM_BREAKER_OPEN_SECONDS": "600",
        })
        purge_queues()
        cls.stack = started(Stack(workers=1, env=env), worker=True)
        cls.tenant, cls.key = cls.stack.new_tenant_key()

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)
        cls.doubles.close()

    def send(self, i):
        r = self.stack.request("POST", "/api/notifications", key=self.key,
                               body={"type": "SMS", "recipient": f"+1415555{i:04d}",
                                     "message": f"code {i}"})
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def assert_sent_by_vonage(self, nid):
        data = self.stack.wait_for_status(self.key, nid, "SENT", 60).json["data"]
        n = data["notification"]
        self.assertEqual(n["providerName"], "vonage", n)
        self.assertEqual(n["retryCount"], 0, "failover is not a retry")
        self.assertNotIn("RETRYING", [e["status"] for e in data["logs"]])
        return [e["message"] for e in data["logs"] if e["status"] == "SENT"]

    def test_primary_down_secondary_delivers_everything(self):
        self.doubles.configure("twilio", down=True, failure_kind="503")
        # One at a time until the breaker opens: each asks Twilio, fails over to Vonage.
        for i in range(THRESHOLD):
            sent = self.assert_sent_by_vonage(self.send(i))
            self.assertTrue(any("after twilio: HTTP 503" in m for m in sent), sent)
        stats = self.doubles.stats()
        self.assertEqual(stats["twilio"]["received"], THRESHOLD, stats["twilio"])
        # The breaker is open now: the rest go to Vonage without asking Twilio.
        ids = [self.send(i) for i in range(THRESHOLD, COUNT)]
        for nid in ids:
            sent = self.assert_sent_by_vonage(nid)
            self.assertFalse(any("after twilio" in m for m in sent), sent)
        stats = self.doubles.stats()
        self.assertEqual(stats["vonage"]["accepted"], COUNT, stats["vonage"])
        self.assertEqual(stats["twilio"]["accepted"], 0)
        self.assertEqual(stats["twilio"]["received"], THRESHOLD, "Twilio asked after its breaker opened")


if __name__ == "__main__":
    unittest.main()
