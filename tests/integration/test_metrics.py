"""Metrics of the worker master's endpoint and of the API after a known workload.

Runs 5 SMS that go through at once, 1 webhook that fails for good and 2 webhooks
that fail once and then go through, kills one worker child with SIGKILL in the
middle, and checks the exact value of every counter, that no counter went down,
that both expositions parse, and that one correlation id follows a notification
through the API's and the worker's log lines. A send whose outcome write loses
its reply (the database frozen right after the provider answered) is counted
exactly once.
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest
import urllib.request
import uuid

import providers
from harness import MONGODB_URI, Stack, close_cleanly, free_port, purge_queues, wait_until
from private_services import FERRETDB_BIN, PrivateDatabase

# The reference checkers: Debian's python3-prometheus-client parser and promtool, which
# deploy/stack.sh test installs and names in WAVECOM_TEST_PROMTOOL. Run by hand without them, the
# test relies on its own strict parser alone.
PROMTOOL = os.environ.get("WAVECOM_TEST_PROMTOOL") or shutil.which("promtool")
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    if os.environ.get("WAVECOM_TEST_PROMTOOL"):
        raise
    text_string_to_metric_families = None

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
OBJECT_ID = re.compile(r"[0-9a-f]{24}")


def parse(text):
    """Parses the text exposition strictly: {(name, frozenset(labels)): value}, and the
    declared type of each family. Fails on a sample without HELP and TYPE, a duplicate
    series or a malformed line."""
    samples, types, helps = {}, {}, set()
    for line in text.splitlines():
        if not line or (line.startswith("#") and not line.startswith(("# HELP ", "# TYPE "))):
            continue
        if line.startswith("# HELP "):
            helps.add(line.split(" ", 3)[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in TYPES, line
            assert name not in types, f"TYPE twice for {name}"
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, f"malformed sample line: {line!r}"
        name, _, body, value = m.groups()
        labels = []
        if body:
            pos = 0
            while pos < len(body):
                lm = LABEL.match(body, pos)
                assert lm, f"malformed labels: {line!r}"
                labels.append((lm.group(1), lm.group(2)))
                pos = lm.end()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        family = family if family in types else name
        assert family in types and family in helps, f"{name} without HELP/TYPE"
        key = (name, frozenset(labels))
        assert key not in samples, f"duplicate series {line!r}"
        samples[key] = float(value)
    if text_string_to_metric_families is not None:
        list(text_string_to_metric_families(text))
    if PROMTOOL:
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=30)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    return samples, types


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def histogram(samples, name, **labels):
    """The cumulative buckets (sorted by bound), _count and _sum of one histogram."""
    buckets = []
    for (n, lbls), v in samples.items():
        d = dict(lbls)
        le = d.pop("le", None)
        if n == name + "_bucket" and d == labels:
            buckets.append((math.inf if le == "+Inf" else float(le), v))
    buckets.sort()
    return buckets, value(samples, name + "_count", **labels), value(samples, name + "_sum", **labels)


def children_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.metrics_port = free_port()
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            workers=2, WAVECOM_WORKER_METRICS_PORT=str(cls.metrics_port))
        cls.prefix = providers.register_tenant_webhooks(cls.stack, cls.tenant, "metrics")

    @classmethod
    def tearDownClass(cls):
        providers.configure("webhook")
        close_cleanly(cls.stack)

    def scrape_worker(self):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            self.assertTrue(resp.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            return parse(resp.read().decode())

    def scrape_api(self):
        r = self.stack.request("GET", "/api/metrics")
        self.assertEqual(r.status, 200, r)
        return parse(r.raw.decode())

    def create(self, body, headers=None):
        r = self.stack.request("POST", "/api/notifications", key=self.key, body=body, headers=headers)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def assert_not_lower(self, before, after):
        for key, v in before.items():
            name = key[0]
            if name.endswith(("_total", "_count", "_sum", "_bucket")):
                self.assertGreaterEqual(after[key], v, f"{key} went down")

    def assert_histogram_sane(self, samples, name, count, **labels):
        buckets, n, total = histogram(samples, name, **labels)
        self.assertEqual(n, count, (name, labels))
        self.assertEqual(buckets[-1], (math.inf, n), (name, labels))
        counts = [c for _, c in buckets]
        self.assertEqual(counts, sorted(counts), f"{name} buckets not monotonic")
        self.assertGreaterEqual(total, 0)

    def wait_worker(self, predicate, what, timeout=30):
        return wait_until(lambda: (lambda s: s if predicate(s) else None)(self.scrape_worker()[0]),
                          timeout, interval=0.2, what=what)

    def test_counts_after_a_known_workload_survive_a_killed_child(self):
        s0, types = self.scrape_worker()
        self.assertEqual(types["notification_processing_duration_seconds"], "histogram")
        self.assertEqual(types["notifications_sent_total"], "counter")
        self.assertEqual(types["circuit_breaker_state"], "gauge")

        # 5 SMS, delivered at the first attempt; the first carries our request id.
        request_id = "obs-" + uuid.uuid4().hex
        sms = [self.create({"type": "SMS", "recipient": f"+1415555{2000 + i}", "message": f"m{i}"},
                           headers={"X-Request-Id": request_id} if i == 0 else None)
               for i in range(5)]
        # 1 webhook the endpoint refuses for good (410).
        gone = self.create({"type": "WEBHOOK", "recipient": f"{providers.WEBHOOK_URL}/gone/{self.tenant}/x",
                            "message": "m", "payload": {"n": 1}})
        for nid in sms:
            self.stack.wait_for_status(self.key, nid, "SENT")
        self.stack.wait_for_status(self.key, gone, "FAILED")
        s1 = self.wait_worker(lambda s: value(s, "notification_processing_duration_seconds_count") == 6,
                              "6 outcomes counted")
        self.assertEqual(value(s1, "notifications_sent_total", type="SMS"), 5)
        self.assertEqual(value(s1, "notifications_failed_total", type="WEBHOOK"), 1)

        # 2 webhooks that fail once (503) and go through from the 5 s tier.
        providers.configure("webhook", fail_first_n=1, failure_kind="503")
        try:
            flaky = [self.create({"type": "WEBHOOK", "recipient": f"{providers.WEBHOOK_URL}{self.prefix}/{i}",
                                  "message": "m", "payload": {"n": i}}) for i in range(2)]
            s2 = self.wait_worker(lambda s: value(s, "notification_retries_total", tier="5s") == 2
                                  and value(s, "deliveries_in_flight") == 0, "2 retries counted")
        finally:
            providers.configure("webhook")

        # A child dies while the retries wait in their tier: nothing counted may go down.
        victim = children_of(self.stack.worker.pid)[0]
        os.kill(victim, signal.SIGKILL)
        s3 = self.wait_worker(lambda s: value(s, "worker_child_restarts_total") == 1, "the restart counted")
        self.assert_not_lower(s2, s3)
        wait_until(lambda: len(children_of(self.stack.worker.pid)) == 2, 30, what="the child restarted")

        for nid in flaky:
            self.stack.wait_for_status(self.key, nid, "SENT", timeout=45)
        s4 = self.wait_worker(lambda s: value(s, "notification_processing_duration_seconds_count") == 10,
                              "10 outcomes counted")
        self.assert_not_lower(s3, s4)

        expected = {
            ("notifications_sent_total", "SMS"): 5, ("notifications_sent_total", "WEBHOOK"): 2,
            ("notifications_sent_total", "EMAIL"): 0, ("notifications_sent_total", "PUSH"): 0,
            ("notifications_failed_total", "WEBHOOK"): 1, ("notifications_failed_total", "SMS"): 0,
            ("notifications_failed_total", "EMAIL"): 0, ("notifications_failed_total", "PUSH"): 0,
        }
        for (name, kind), n in expected.items():
            self.assertEqual(value(s4, name, type=kind), n, (name, kind))
        self.assertEqual(value(s4, "notification_retries_total", tier="5s"), 2)
        self.assertEqual(value(s4, "notification_retries_total", tier="25s"), 0)
        self.assertEqual(value(s4, "notification_retries_total", tier="125s"), 0)
        self.assertEqual(value(s4, "worker_child_restarts_total"), 1)
        self.assertEqual(value(s4, "deliveries_in_flight"), 0)
        # Every outcome (5 + 1 SENT/FAILED at once, 2 RETRYING, 2 SENT) is one observation.
        self.assert_histogram_sane(s4, "notification_processing_duration_seconds", 10)
        # Every attempt that reached a provider: 5 SMS; 1 + 2 + 2 webhook calls.
        self.assert_histogram_sane(s4, "provider_request_duration_seconds", 5, provider="twilio")
        self.assert_histogram_sane(s4, "provider_request_duration_seconds", 5, provider="webhook")
        self.assert_histogram_sane(s4, "provider_request_duration_seconds", 0, provider="smtp")
        answers = {("twilio", "ok"): 5, ("twilio", "transient"): 0, ("twilio", "permanent"): 0,
                   ("webhook", "ok"): 2, ("webhook", "transient"): 2, ("webhook", "permanent"): 1,
                   ("smtp", "ok"): 0}
        for (provider, outcome), n in answers.items():
            self.assertEqual(value(s4, "provider_requests_total", provider=provider, outcome=outcome),
                             n, (provider, outcome))
        for provider in ("smtp", "twilio", "fcm", "apns"):
            self.assertEqual(value(s4, "circuit_breaker_state", provider=provider), 0)

        # The API: created by type, requests by route template, never a raw id.
        api, api_types = self.scrape_api()
        self.assertEqual(api_types["http_request_duration_seconds"], "histogram")
        self.assertEqual(value(api, "notifications_created_total", type="SMS"), 5)
        self.assertEqual(value(api, "notifications_created_total", type="WEBHOOK"), 3)
        self.assertEqual(value(api, "http_requests_total", method="POST", route="/api/notifications",
                               status="201"), 8)
        routes = {dict(labels).get("route") for (_, labels) in api if dict(labels).get("route")}
        self.assertIn("/api/notifications/:id", routes)
        for route in routes:
            self.assertIsNone(OBJECT_ID.search(route), f"raw id in route label {route!r}")
        polls = value(api, "http_requests_total", method="GET", route="/api/notifications/:id",
                      status="200")
        buckets, n, _ = histogram(api, "http_request_duration_seconds", method="GET",
                                  route="/api/notifications/:id")
        self.assertGreaterEqual(n, polls)
        self.assertEqual(buckets[-1], (math.inf, n))
        self.assertEqual([c for _, c in buckets], sorted(c for _, c in buckets))

        # One correlation id, from the request's X-Request-Id, in both processes' lines.
        self.assert_correlated(sms[0], request_id)

    def assert_correlated(self, nid, request_id):
        def lines(name):
            found = []
            for line in self.stack.log(name, whole=True).splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("correlationId") == request_id:
                    found.append(entry)
            return found
        api_lines = lines("api")
        worker_lines = wait_until(lambda: lines("worker"), 10, what="the worker's log line")
        for entry in api_lines + worker_lines:
            self.assertEqual(entry["notificationId"], nid, entry)
            self.assertEqual(entry["tenantId"], self.tenant, entry)
        self.assertTrue(api_lines, "no API log line carries the correlation id")
        self.assertTrue(any(e["proc"] == "worker" and "sent via" in e["msg"] for e in worker_lines),
                        worker_lines)


class DatabasePoolTest(unittest.TestCase):
    """An API and a worker whose pools hold one connection each: concurrent work must queue for
    it, and both endpoints count the waits the "database pool exhausted" alert fires on."""

    @classmethod
    def setUpClass(cls):
        cls.metrics_port = free_port()
        separator = "&" if "?" in MONGODB_URI else ("?" if MONGODB_URI.endswith("/") else "/?")
        cls.stack, cls.tenant, cls.key = providers.started_stack(
            WAVECOM_MONGODB_URI=MONGODB_URI + separator + "maxPoolSize=1",
            WAVECOM_WORKER_METRICS_PORT=str(cls.metrics_port),
            WAVECOM_API_THREADS="4", WAVECOM_WORKER_STORE_THREADS="4")

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def scrape(self, url):
        with urllib.request.urlopen(url, timeout=10) as resp:
            return parse(resp.read().decode())[0]

    def api_samples(self):
        return self.scrape(f"{self.stack.url}/api/metrics")

    def worker_samples(self):
        return self.scrape(f"http://127.0.0.1:{self.metrics_port}/metrics")

    def concurrent_lists(self, n):
        def list_once(i):
            r = self.stack.request("GET", f"/api/notifications?limit=5&page={i % 3 + 1}", key=self.key)
            self.assertEqual(r.status, 200, r)
        threads = [threading.Thread(target=list_once, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def test_both_processes_count_checkouts_that_waited(self):
        api = self.api_samples()
        self.assertEqual(value(api, "wavecom_db_pool_connections_max"), 1)
        worker = self.worker_samples()
        self.assertEqual(value(worker, "wavecom_db_pool_connections_max"), 1)
        self.assertEqual(value(worker, "wavecom_db_pool_waits_total"), 0)

        # Four request threads and the scheduler share one connection: rounds of concurrent
        # reads make some of them wait. Bounded: the test fails if no round ever does.
        for _ in range(20):
            self.concurrent_lists(12)
            if value(self.api_samples(), "wavecom_db_pool_waits_total") > 0:
                break
        api = self.api_samples()
        self.assertGreater(value(api, "wavecom_db_pool_waits_total"), 0)
        self.assertLessEqual(value(api, "wavecom_db_pool_connections_in_use"), 1)

        # Four store threads of one child share one connection: claims and outcome writes of
        # a burst of SMS queue for it.
        sent = []
        for round_ in range(5):
            sent += [self.create_sms(round_ * 20 + i) for i in range(20)]
            for nid in sent:
                self.stack.wait_for_status(self.key, nid, "SENT")
            if value(self.worker_samples(), "wavecom_db_pool_waits_total") > 0:
                break
        worker = self.worker_samples()
        self.assertGreater(value(worker, "wavecom_db_pool_waits_total"), 0)
        wait_until(lambda: value(self.worker_samples(), "wavecom_db_pool_connections_in_use") == 0,
                   10, what="the child's connection back in its pool")

    def create_sms(self, n):
        r = self.stack.request("POST", "/api/notifications", key=self.key,
                               body={"type": "SMS", "recipient": f"+1415555{3000 + n}", "message": "m"})
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]


@unittest.skipUnless(os.path.exists(FERRETDB_BIN),
                     f"no FerretDB launcher at {FERRETDB_BIN}: set WAVECOM_TEST_FERRETDB_BIN")
class LostOutcomeReplyTest(unittest.TestCase):
    """The database freezes (SIGSTOP) while the provider holds three SMS: their SENT writes
    go out to a database that does not answer, time out on the worker's side (the URI's
    2 s socket timeout) and are applied when it runs again. The worker keeps the outcomes,
    shows them waiting, and once the database answers finds them written under its own
    lease token: each send is counted once, with no "lease had passed" line."""

    N = 3
    PROVIDER_MS = 2000

    def setUp(self):
        purge_queues()
        providers.reset()
        self.addCleanup(providers.reset)
        providers.configure("twilio", latency_ms=self.PROVIDER_MS)
        self.database = PrivateDatabase()
        self.addCleanup(self.database.close)
        self.database.start()
        self.metrics_port = free_port()
        env = providers.worker_env()
        env["WAVECOM_WORKER_METRICS_PORT"] = str(self.metrics_port)
        self.stack = Stack(workers=1, env=env,
                           mongodb_uri=self.database.uri + "/?socketTimeoutMS=2000")
        self.addCleanup(self.stack.close)
        self.stack.start_api()
        self.stack.start_worker()
        self.tenant, self.key = self.stack.new_tenant_key()

    def worker_samples(self):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return parse(resp.read().decode())[0]

    def test_a_lost_outcome_reply_counts_the_send_once(self):
        received = providers.stats()["twilio"]["received"]
        ids = []
        for i in range(self.N):
            r = self.stack.request("POST", "/api/notifications", key=self.key,
                                   body={"type": "SMS", "recipient": f"+1415555{4000 + i}",
                                         "message": "m"})
            self.assertEqual(r.status, 201, r)
            ids.append(r.json["data"]["_id"])
        # Every SMS is at the provider, which answers in 2 s: freeze the database now.
        wait_until(lambda: providers.stats()["twilio"]["received"] - received >= self.N, 30,
                   interval=0.05, what="the SMS at the provider")
        self.database.pause()
        try:
            waiting = wait_until(
                lambda: value(self.worker_samples(), "wavecom_outcomes_waiting_to_record") > 0,
                20, interval=0.2, what="outcomes waiting for the database")
            self.assertTrue(waiting)
            time.sleep(3)
        finally:
            self.database.resume()

        for nid in ids:
            self.stack.wait_for_status(self.key, nid, "SENT", timeout=60)
        s = wait_until(lambda: (lambda x: x if value(
            x, "notification_processing_duration_seconds_count") >= self.N else None)(
            self.worker_samples()), 30, interval=0.2, what="the outcomes counted")
        time.sleep(2)  # anything counted twice would show by now
        s = self.worker_samples()
        self.assertEqual(value(s, "notifications_sent_total", type="SMS"), self.N)
        self.assertEqual(value(s, "notification_processing_duration_seconds_count"), self.N)
        self.assertEqual(value(s, "wavecom_outcomes_waiting_to_record"), 0)
        self.assertEqual(value(s, "deliveries_in_flight"), 0)
        per_id = providers.stats(ids=True)["twilio"].get("per_id", {})
        self.assertEqual({nid: per_id.get(nid, 0) for nid in ids}, {nid: 1 for nid in ids})
        log = self.stack.log("worker", whole=True)
        self.assertNotIn("lease had passed", log)
        self.assertIn("the database cannot record it", log)


if __name__ == "__main__":
    unittest.main()
