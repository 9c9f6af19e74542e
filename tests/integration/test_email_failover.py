"""Email failover (WAVECOM_EMAIL_PROVIDERS=smtp,smtp2; docs/ARCHITECTURE.md §6): two SMTP
catchers of the test's own (the stack's catcher code, deploy/stack/smtp_catcher.py, on free
loopback ports), the first killed for real. Every email still ends SENT, through the second
relay, at once rather than after a retry tier; the first relay's breaker opens after
WAVECOM_BREAKER_THRESHOLD failures, after which it is not tried; `providerName` and the trail
say which relay delivered."""
import email
import email.policy
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import Stack, close_cleanly, free_port, purge_queues, started, tcp_answers, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THRESHOLD = 3
COUNT = 12


class Catcher:
    """One aiosmtpd catcher writing to a Maildir of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wavecom-catcher-")
        self.port = free_port()
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   PYTHONPATH=os.path.join(ROOT, "deploy", "stack"))
        self.log = open(os.path.join(self.dir, "catcher.log"), "ab")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "smtp_catcher.Catcher", os.path.join(self.dir, "maildir")],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: tcp_answers(self.port), 30, what="the private SMTP catcher")

    def ids(self):
        """X-WaveCom-Notification-Id of every mail received."""
        out = []
        for sub in ("new", "cur"):
            folder = os.path.join(self.dir, "maildir", sub)
            for name in os.listdir(folder) if os.path.isdir(folder) else []:
                with open(os.path.join(folder, name), "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.default)
                out.append(msg["X-WaveCom-Notification-Id"])
        return out

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        wait_until(lambda: not tcp_answers(self.port), 10, what="the catcher's port to close")

    def close(self):
        self.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class EmailFailoverTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        self.first = Catcher()
        self.addCleanup(self.first.close)
        self.second = Catcher()
        self.addCleanup(self.second.close)
        self.stack = started(Stack(workers=1, env={
            "WAVECOM_SMTP_PORT": str(self.first.port),
            "WAVECOM_SMTP2_HOST": "127.0.0.1",
            "WAVECOM_SMTP2_PORT": str(self.second.port),
            "WAVECOM_BREAKER_THRESHOLD": str(THRESHOLD),
            "WAVECOM_BREAKER_OPEN_SECONDS": "300",
            "WAVECOM_SMTP_TIMEOUT_SECONDS": "3",
        }), worker=True)
        self.tenant, self.key = self.stack.new_tenant_key()

    def tearDown(self):
        close_cleanly(self.stack)

    def send(self, n, tag):
        ids = []
        for i in range(n):
            r = self.stack.create_email(self.key, f"{tag}-{i}@example.com", "Failover", "body")
            self.assertEqual(r.status, 201, r)
            ids.append(r.json["data"]["_id"])
        return ids

    def test_mail_goes_through_the_second_relay_while_the_first_is_down(self):
        before = self.send(1, "before")
        data = self.stack.wait_for_status(self.key, before[0], "SENT", 60).json["data"]
        self.assertEqual(data["notification"]["providerName"], "smtp")
        self.assertEqual(self.first.ids(), before)

        self.first.kill()
        during = self.send(COUNT, "during")
        for nid in during:
            doc = self.stack.wait_for_status(self.key, nid, "SENT", 120).json["data"]
            note = doc["notification"]
            self.assertEqual(note["providerName"], "smtp2", note)
            # At once: no retry tier, no attempt spent.
            self.assertEqual(note["retryCount"], 0, note)
            self.assertIn("via email provider smtp2", doc["logs"][-1]["message"])
        self.assertEqual(sorted(self.second.ids()), sorted(during))
        # The first relay was tried until its breaker opened, then no more.
        tried = [nid for nid in during
                 if "(after smtp:" in self.stack.get(self.key, nid).json["data"]["logs"][-1]["message"]]
        self.assertGreaterEqual(len(tried), THRESHOLD)
        self.assertLess(len(tried), COUNT, "the breaker never opened")
        workers = wait_until(lambda: self._breaker_state("smtp") == "open", 30,
                             what="the smtp breaker to be reported open")
        self.assertTrue(workers)

    def _breaker_state(self, name):
        r = self.stack.request("GET", "/api/workers", key=self.key)
        if r.status != 200:
            return None
        for host in r.json["data"].get("hosts", []):
            for b in host.get("breakers", []):
                if b.get("name") == name:
                    return b.get("state")
        return None


if __name__ == "__main__":
    unittest.main()
