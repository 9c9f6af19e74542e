"""Every channel over its real protocol, against the provider test doubles.

The doubles verify what the real providers verify — Twilio's basic auth, the
RS256 service-account JWT behind FCM's OAuth token, the ES256 APNs provider
token over HTTP/2, the Standard Webhooks signature — so a wrong key fails.
"""
import socket
import subprocess
import tempfile
import threading
import unittest
import urllib.parse
import uuid

import providers
from harness import SMTP_PORT, Stack, close_cleanly, mails_for, purge_queues, wait_until


class ProvidersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack, cls.tenant, cls.key = providers.started_stack()
        cls.hook_prefix = providers.register_tenant_webhooks(cls.stack, cls.tenant, "tenant")

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def create(self, body):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body=body)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def final(self, nid, status, timeout=30):
        return self.stack.wait_for_status(self.key, nid, status, timeout).json["data"]

    def test_sms_via_twilio(self):
        nid = self.create({"type": "SMS", "recipient": "+14155550123", "message": "Your code is 1234"})
        data = self.final(nid, "SENT")
        self.assertTrue(data["notification"]["providerMessageId"].startswith("SM"))
        sent = [r for r in providers.last("twilio", 50) if nid in str(r)]
        self.assertTrue(sent, "the double did not record the request")
        form = urllib.parse.parse_qs(sent[-1]["body"])
        self.assertEqual(form["Body"], ["Your code is 1234"])
        self.assertEqual(form["To"], ["+14155550123"])

    def test_sms_unsubscribed_number_fails_without_retries(self):
        nid = self.create({"type": "SMS", "recipient": "+15550001234", "message": "hi"})
        data = self.final(nid, "FAILED")
        self.assertEqual(data["notification"]["retryCount"], 0)
        self.assertIn("21610", data["notification"]["error"])

    def test_push_via_fcm(self):
        nid = self.create({"type": "PUSH", "platform": "fcm", "recipient": "fcm-token-" + uuid.uuid4().hex,
                           "title": "Hello", "message": "From WaveCom", "data": {"orderId": "42"}})
        data = self.final(nid, "SENT")
        self.assertIn("/messages/", data["notification"]["providerMessageId"])

    def test_fcm_unregistered_token_is_permanent(self):
        nid = self.create({"type": "PUSH", "platform": "fcm", "recipient": "unregistered-abc",
                           "message": "gone"})
        data = self.final(nid, "FAILED")
        self.assertEqual(data["notification"]["retryCount"], 0)
        self.assertIn("UNREGISTERED", data["notification"]["error"])

    def test_push_via_apns_over_http2(self):
        token = uuid.uuid4().hex + uuid.uuid4().hex
        nid = self.create({"type": "PUSH", "platform": "apns", "recipient": token,
                           "title": "Hi", "message": "From WaveCom", "priority": "CRITICAL"})
        data = self.final(nid, "SENT")
        # The apns-id is a UUID carrying the notification id, the same on every attempt.
        self.assertEqual(data["notification"]["providerMessageId"].replace("-", ""), "00000000" + nid)

    def test_apns_gone_device_is_permanent(self):
        token = "dead" + uuid.uuid4().hex + uuid.uuid4().hex[:28]
        nid = self.create({"type": "PUSH", "platform": "apns", "recipient": token, "message": "x"})
        data = self.final(nid, "FAILED")
        self.assertIn("410", data["notification"]["error"])

    def test_signed_webhook(self):
        url = providers.WEBHOOK_URL + self.hook_prefix + "/orders"
        nid = self.create({"type": "WEBHOOK", "recipient": url, "message": "order paid",
                           "payload": {"event": "order.paid", "amount": 1250}})
        self.final(nid, "SENT")
        requests = [r for r in providers.last("webhook", 50) if nid in str(r)]
        self.assertTrue(requests)
        self.assertIn("order.paid", str(requests[-1]))

    def test_webhook_gone_endpoint_is_permanent(self):
        url = providers.WEBHOOK_URL + f"/gone/{self.tenant}/x"
        nid = self.create({"type": "WEBHOOK", "recipient": url, "message": "m", "payload": {"a": 1}})
        self.final(nid, "FAILED")


class WrongKeysTest(unittest.TestCase):
    """The doubles refuse what a real provider refuses: these must not be SENT."""

    @classmethod
    def setUpClass(cls):
        purge_queues()
        providers.reset()
        cls.keydir = tempfile.mkdtemp(prefix="wavecom-keys-")
        wrong_p8 = f"{cls.keydir}/wrong.p8"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", wrong_p8], check=True, capture_output=True)
        env = providers.worker_env()
        env.update({"WAVECOM_APNS_KEY_FILE": wrong_p8, "WAVECOM_TWILIO_AUTH_TOKEN": "not-the-token",
                    "WAVECOM_MAX_RETRIES": "0"})
        cls.stack = Stack(workers=1, env=env)
        cls.stack.start_api()
        cls.stack.start_worker()
        cls.tenant, cls.key = cls.stack.new_tenant_key()
        providers.register_webhook_secret(f"/wrong-{cls.tenant}",
                                          "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def failed_with(self, body, fragment):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body=body)
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        data = self.stack.wait_for_status(self.key, nid, "FAILED", 30).json["data"]
        self.assertIn(fragment, data["notification"]["error"])

    def test_apns_token_signed_with_another_key_is_refused(self):
        self.failed_with({"type": "PUSH", "platform": "apns", "recipient": "ab" * 32, "message": "x"},
                         "InvalidProviderToken")

    def test_twilio_wrong_auth_token_is_refused(self):
        self.failed_with({"type": "SMS", "recipient": "+14155550199", "message": "x"}, "401")

    def test_webhook_signed_with_another_secret_is_refused(self):
        url = providers.WEBHOOK_URL + f"/wrong-{self.tenant}/hook"
        self.failed_with({"type": "WEBHOOK", "recipient": url, "message": "m", "payload": {"a": 1}},
                         "401")


def _pump(src, dst):
    """Copies src to dst until src ends, then ends dst's direction too."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


DATA_END = b"\r\n.\r\n"


class SmtpGate:
    """A relay in front of the SMTP catcher, for tests that need a mail server misbehaving on cue.

    It counts the connections it is given. While held, it keeps each new one waiting before it
    reaches the catcher (so before the greeting): a server exactly as slow as a test wants. With
    cut_after = N, a connection ends right after the server's reply to its Nth message, as if the
    server had gone away. Each connection it accepts is one connection to the catcher, whose X-Peer
    header names the relay's side of it."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.cut_after = None
        self.cuts = 0
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def hold(self):
        self._open.clear()

    def release(self):
        self._open.set()

    def close(self):
        self._closed = True
        self._open.set()

    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.accepted += 1
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()
        self.listener.close()

    def _relay(self, client):
        self._open.wait(120)
        try:
            upstream = socket.create_connection(("127.0.0.1", int(SMTP_PORT)), timeout=30)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        state = {"ended": 0}
        back = threading.Thread(target=self._replies, args=(upstream, client, state), daemon=True)
        back.start()
        self._requests(client, upstream, state)
        back.join(60)
        client.close()
        upstream.close()

    @staticmethod
    def _requests(client, upstream, state):
        """Client to catcher, counting the messages whose data ended (before forwarding the end,
        so that the count is up to date when the reply comes back)."""
        tail = b""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                window = tail + data
                state["ended"] += window.count(DATA_END)
                tail = window[-4:]  # shorter than DATA_END: never counted twice
                upstream.sendall(data)
        except OSError:
            pass
        try:
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _replies(self, upstream, client, state):
        """Catcher to client. Without pipelining a client sends nothing after a message's data
        until the reply, so a reply read once N messages ended is the reply to the Nth."""
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                cut = self.cut_after is not None and state["ended"] >= self.cut_after
                client.sendall(data)
                if cut:
                    self.cuts += 1
                    upstream.shutdown(socket.SHUT_RDWR)  # nothing more reaches the catcher
                    break
        except OSError:
            pass
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class SmtpSessionsTest(unittest.TestCase):
    """Emails go out on the SMTP sender threads, many over one connection, and a slow mail server
    never holds up the HTTP deliveries of the same worker child."""

    SESSIONS = 2

    @classmethod
    def setUpClass(cls):
        purge_queues()
        cls.gate = SmtpGate()
        env = providers.worker_env()
        env.update({"WAVECOM_SMTP_PORT": str(cls.gate.port),
                    "WAVECOM_SMTP_SESSIONS": str(cls.SESSIONS),
                    # Held sessions wait at the greeting; they must not time out meanwhile.
                    "WAVECOM_SMTP_TIMEOUT_SECONDS": "60"})
        # One child: its loop thread is the one a blocking SMTP session would stall.
        cls.stack = Stack(workers=1, env=env)
        cls.stack.start_api()
        cls.stack.start_worker()
        cls.tenant, cls.key = cls.stack.new_tenant_key()

    @classmethod
    def tearDownClass(cls):
        cls.gate.release()
        codes = cls.stack.close()
        cls.gate.close()
        assert codes == {"api": 0, "worker": 0}, (codes, cls.stack.log("worker"))

    def create(self, body):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body=body)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def email(self, i):
        return self.create({"type": "EMAIL", "recipient": f"pooled-{i}@example.com",
                            "subject": f"Pooled {i}", "message": f"Body {i}"})

    def status(self, nid):
        return self.stack.get(self.key, nid).json["data"]["notification"]["status"]

    def settled(self, ids):
        """{id: status} once none of `ids` is PROCESSING (retries wait 5 s in their tier)."""
        def check():
            st = {nid: status for nid, status in self.stack.statuses().items() if nid in ids}
            return st if len(st) == len(ids) and "PROCESSING" not in st.values() else None
        return wait_until(check, 60, what="every email to have an outcome")

    def test_connection_lost_mid_session_retries_only_the_unsent(self):
        total = 10
        ids = set()
        self.gate.hold()
        try:
            ids = {self.email(f"cut-{i}") for i in range(total)}
            wait_until(lambda: sum(self.status(nid) == "PROCESSING" for nid in ids) == total, 30,
                       what="every email to be claimed")
            # The held sessions carry the first email or two; the next one carries the rest and
            # loses its connection right after the server accepted its second email.
            cuts = self.gate.cuts
            self.gate.cut_after = 2
            self.gate.release()
            first = self.settled(ids)
            mails = mails_for(ids)
        finally:
            self.gate.cut_after = None
            self.gate.release()
        self.assertGreater(self.gate.cuts, cuts)
        sent = {nid for nid, status in first.items() if status == "SENT"}
        retrying = {nid for nid, status in first.items() if status == "RETRYING"}
        self.assertEqual(sent | retrying, ids, first)
        self.assertTrue(retrying, "no email of the cut session was left to retry")
        # Each email's own reply decided it: what the server accepted is SENT (and not retried,
        # which would send it twice); what never reached it will be tried again.
        self.assertEqual(set(mails), sent)
        for nid in retrying:
            error = self.stack.get(self.key, nid).json["data"]["notification"]["error"]
            self.assertIn("SMTP session to", error)

        final = wait_until(lambda: (lambda st: st if set(st.values()) == {"SENT"} else None)(
            self.settled(ids)), 90, interval=0.5, what="the retried emails to be SENT")
        self.assertEqual(len(final), total)
        mails = wait_until(lambda: (lambda m: m if len(m) == total else None)(mails_for(ids)), 30,
                           what="every mail in the catcher")
        self.assertEqual({nid: len(m) for nid, m in mails.items() if len(m) != 1}, {})

    def test_sms_is_sent_while_the_mail_server_holds_an_email(self):
        self.gate.hold()
        try:
            accepted = self.gate.accepted
            email = self.email("held")
            wait_until(lambda: self.gate.accepted > accepted, 30,
                       what="the email's session to reach the mail server")
            sms = self.create({"type": "SMS", "recipient": "+14155550177", "message": "not stalled"})
            # A session run on the loop thread would keep the SMS from even being claimed.
            self.stack.wait_for_status(self.key, sms, "SENT", timeout=30)
            self.assertEqual(self.status(email), "PROCESSING")
        finally:
            self.gate.release()
        sent = self.stack.wait_for_status(self.key, email, "SENT", timeout=60).json["data"]
        self.assertEqual(sent["notification"]["providerMessageId"], f"<{email}@wavecom.local>")

    def test_waiting_emails_share_one_connection(self):
        total = 20
        self.gate.hold()
        try:
            accepted = self.gate.accepted
            ids = [self.email(i) for i in range(total)]
            # Every email is claimed and handed to the senders while the first sessions (at most
            # one per sender thread) wait at the greeting: the loop never waits for SMTP.
            wait_until(lambda: sum(self.status(nid) == "PROCESSING" for nid in ids) == total, 30,
                       what="every email to be claimed")
        finally:
            self.gate.release()
        for nid in ids:
            data = self.stack.wait_for_status(self.key, nid, "SENT", timeout=60).json["data"]
            self.assertEqual(data["notification"]["providerMessageId"], f"<{nid}@wavecom.local>")
        mails = wait_until(lambda: (lambda m: m if len(m) == total else None)(mails_for(ids)), 30,
                           what="every mail in the catcher")
        self.assertEqual({nid: len(m) for nid, m in mails.items() if len(m) != 1}, {})

        # The held sessions carried the first emails; whichever sender was free next took all the
        # others at once. One connection per email would make both counts 20.
        connections = self.gate.accepted - accepted
        peers = {m[0]["X-Peer"] for m in mails.values()}
        print(f"\nsmtp connections: {connections} for {total} emails "
              f"(distinct peers at the catcher: {len(peers)})")
        self.assertLessEqual(connections, self.SESSIONS + 1)
        self.assertLessEqual(len(peers), self.SESSIONS + 1)
        self.assertLess(len(peers), total)


if __name__ == "__main__":
    unittest.main()
