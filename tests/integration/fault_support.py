"""What every fault test shares: a steady load, and the reconciliation of every id.

A fault test starts a Load, breaks something for real, ends the load, waits for
quiescence and calls reconcile(): every notification that got a 201 must end
SENT (delivered, counted from the provider's own records) or FAILED with its
message in the dead-letter queue, each exactly once. The set-up they share
(a private broker or database, a stack with short sweeper intervals, a load of
emails) and the kill-and-restart scenario are here too.
"""
import collections
import json
import os
import re
import subprocess
import threading
import time
import unittest
import urllib.error

import providers
from harness import CTL_BIN, mails_for, stack_for_test, wait_until
from private_services import FERRETDB_BIN, PrivateDatabase, PrivateRabbitMQ

FINAL = ("SENT", "FAILED", "CANCELLED")
# A notification stranded PENDING by a fault is republished within seconds, not minutes.
SWEEPER_ENV = {"WAVECOM_PENDING_REPUBLISH_SECONDS": "3", "WAVECOM_SCHEDULER_INTERVAL_MS": "500"}


# The database fault tests kill, pause and restart a FerretDB of their own.
needs_ferretdb = unittest.skipUnless(
    os.path.exists(FERRETDB_BIN),
    f"no FerretDB launcher at {FERRETDB_BIN} (the tests run against a real MongoDB): "
    "set WAVECOM_TEST_FERRETDB_BIN")


def slow_twilio(test, latency_ms):
    """The doubles reset, the Twilio one answering after `latency_ms`, and reset again when the
    test ends: deliveries are in flight when the fault strikes."""
    providers.reset()
    test.addCleanup(providers.reset)
    providers.configure("twilio", latency_ms=latency_ms)


def private_rabbitmq(test):
    """A RabbitMQ node of the test's own, started, closed when the test ends."""
    rabbit = PrivateRabbitMQ()
    test.addCleanup(rabbit.close)
    rabbit.start()
    return rabbit


def private_database(test):
    """A PostgreSQL and FerretDB of the test's own, started, closed when the test ends."""
    database = PrivateDatabase()
    test.addCleanup(database.close)
    database.start()
    return database


def start_stack(test, env=None, workers=2, **stack_args):
    """An API and a worker pool with SWEEPER_ENV (`env` adds to it or overrides it), closed when
    the test ends; sets test.stack, test.tenant and test.key."""
    return stack_for_test(test, workers=workers, env=dict(SWEEPER_ENV, **(env or {})), **stack_args)


def health(stack, service):
    """/api/health's status, what it says of `service` ("rabbitmq", "mongodb"), and Retry-After."""
    r = stack.request("GET", "/api/health", timeout=30)
    return r.status, r.json["services"][service], r.headers.get("Retry-After")


def mail_deliveries(ids):
    """Deliveries per id as the SMTP catcher received them."""
    return {nid: len(mails) for nid, mails in mails_for(ids).items()}


def sms_deliveries(ids):
    """Deliveries per id as the Twilio double received them."""
    per_id = providers.stats(ids=True)["twilio"].get("per_id", {})
    return {nid: per_id.get(nid, 0) for nid in ids}


# The broker connections a process logs opening and losing (wc_broker.c), by name and node port.
OPENED = re.compile(r"RabbitMQ connection (\S+) open to node [0-9.]+:(\d+)$")
LOST = re.compile(r"RabbitMQ connection (\S+) to node [0-9.]+:(\d+) lost")


def log_messages(stack, name):
    """The messages of a process's JSON log lines, oldest first."""
    messages = []
    for line in stack.log(name, whole=True).splitlines():
        try:
            messages.append(json.loads(line)["msg"])
        except (ValueError, KeyError, TypeError):
            continue
    return messages


def connection_nodes(messages):
    """{connection name: AMQP port of the node it is open to} from a log; a lost one is absent."""
    nodes = {}
    for msg in messages:
        opened, lost = OPENED.search(msg), LOST.search(msg)
        if opened:
            nodes[opened.group(1)] = int(opened.group(2))
        elif lost:
            nodes.pop(lost.group(1), None)
    return nodes


class Load:
    """Clients submitting notifications at a steady pace until stopped.

    Every answer is checked against the contract: 201 (recorded with the time
    its request started and ended), or 503 with Retry-After while a dependency
    is down. Anything else is a contract breach, kept in `bad`."""

    def __init__(self, stack, key, body_for, clients=3, pause=0.02, timeout=30):
        self.stack = stack
        self.key = key
        self.body_for = body_for  # (client, i) -> request body
        self.pause = pause
        self.timeout = timeout
        self.accepted = []  # (id, started, ended), monotonic seconds
        self.refused = collections.Counter()  # status -> count
        self.unanswered = 0
        self.bad = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True)
                        for n in range(clients)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _client(self, n):
        i = 0
        while not self.stopping.is_set():
            i += 1
            started = time.monotonic()
            try:
                r = self.stack.request("POST", "/api/notifications", key=self.key,
                                       body=self.body_for(n, i), timeout=self.timeout)
            except (OSError, urllib.error.URLError):
                with self.lock:
                    self.unanswered += 1
                time.sleep(0.2)
                continue
            ended = time.monotonic()
            with self.lock:
                if r.status == 201:
                    self.accepted.append((r.json["data"]["_id"], started, ended))
                elif r.status == 503 and r.headers.get("Retry-After"):
                    self.refused[r.status] += 1
                else:
                    self.bad.append(r)
            time.sleep(self.pause if r.status == 201 else 0.2)

    def accepted_count(self):
        with self.lock:
            return len(self.accepted)

    def refused_count(self):
        with self.lock:
            return sum(self.refused.values())

    def wait_accepted(self, more, timeout=90):
        """Waits for `more` 201s beyond those already counted."""
        target = self.accepted_count() + more
        wait_until(lambda: self.accepted_count() >= target, timeout, interval=0.05,
                   what=f"{target} notifications accepted")

    @classmethod
    def emails(cls, test, tag, **options):
        """A load of emails tagged `tag`, started, and stopped when the test ends at the latest."""
        load = cls(test.stack, test.key, lambda n, i: {
            "type": "EMAIL", "recipient": f"{tag}-{n}-{i}@example.com",
            "subject": f"{tag} {n}-{i}", "message": "body"}, **options)
        test.addCleanup(load.stopping.set)
        return load.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=self.timeout + 10)
            if t.is_alive():
                raise AssertionError("a load client did not finish")
        return [nid for nid, _, _ in self.accepted]


def dlq_depth(stack):
    """Messages in the DLQ of the stack's broker, by an AMQP passive declare
    (wavecomctl queues): exact, where rabbitmqctl's counts lag by a statistics
    interval."""
    out = subprocess.run([CTL_BIN, "queues", "--json", "--no-management"], env=stack.env,
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return {row["queue"]: row["ready"] for row in json.loads(out)}["notifications_dlq"]


def quiesce(stack, timeout):
    """Waits until every stored notification is final, riding out the database's
    own restart (reads fail while it is away)."""
    def settled():
        try:
            return stack.db.notifications.count_documents({"status": {"$nin": list(FINAL)}}) == 0
        except Exception:  # the database may still be coming back
            return False
    wait_until(settled, timeout, interval=1, what="every stored notification to be final")


def reconcile(test, stack, load, deliveries, label, timeout=150, duplicates_allowed=0):
    """Reconciles every 201 of `load`. deliveries(ids) -> {id: count} comes from
    the provider's own records; the dead-letter queue was empty when the test
    began. Prints the reconciliation line."""
    test.assertEqual(load.bad, [], "answers other than 201, or 503 with Retry-After")
    ids = [nid for nid, _, _ in load.accepted]
    test.assertEqual(len(set(ids)), len(ids), "an id was answered twice")
    test.assertGreater(len(ids), 0, "nothing was accepted")
    quiesce(stack, timeout)
    docs = {str(d["_id"]): d["status"] for d in stack.db.notifications.find({}, {"status": 1})}
    statuses = {nid: docs.get(nid) for nid in ids}
    sent = {nid for nid, s in statuses.items() if s == "SENT"}
    failed = {nid for nid, s in statuses.items() if s == "FAILED"}
    lost = set(ids) - sent - failed
    # Delivery records may trail the status write by a moment.
    counts = {}

    def every_sent_delivered():
        counts.clear()
        counts.update(deliveries(sent))
        return all(counts.get(nid, 0) >= 1 for nid in sent)
    try:
        wait_until(every_sent_delivered, 30, interval=0.5, what="a delivery for every SENT")
    except AssertionError:
        pass
    undelivered = {nid for nid in sent if counts.get(nid, 0) < 1}
    duplicates = sum(counts.get(nid, 0) - 1 for nid in sent if counts.get(nid, 0) > 1)
    stored_failed = sum(1 for s in docs.values() if s == "FAILED")
    dlq = dlq_depth(stack)
    print(f"\nreconciliation [{label}]: submitted={len(ids)} sent={len(sent)} "
          f"failed={len(failed)} (dead-lettered={dlq}) duplicates={duplicates} "
          f"lost={len(lost) + len(undelivered)}; refused with 503={load.refused_count()} "
          f"unanswered={load.unanswered}; stored without a 201 and finished anyway="
          f"{len(docs) - len(ids)}", flush=True)
    test.assertEqual(lost, set(), "accepted notifications not final")
    test.assertEqual(undelivered, set(), "SENT notifications the provider never received")
    test.assertLessEqual(duplicates, duplicates_allowed, "deliveries beyond the duplicate window")
    test.assertEqual(dlq, stored_failed, "every FAILED notification has its DLQ message")
    return {"sent": sent, "failed": failed, "duplicates": duplicates}


def kill_and_restart_mid_load(test, service, kill, restart, label, before=120, after=120,
                              down_seconds=6, refused_within=20):
    """A dependency killed under a steady load of emails and started again: while it is down
    the API answers 503 with Retry-After and /api/health names `service`; once it is back the
    API and the worker reconnect by themselves and every 201 is delivered once."""
    load = Load.emails(test, label.replace(" ", "-"))
    load.wait_accepted(before)

    kill()
    killed_at = time.monotonic()
    test.assertEqual(health(test.stack, service), (503, "disconnected", "5"))
    wait_until(lambda: load.refused_count() > 0, refused_within,
               what=f"a 503 while {service} is down")
    time.sleep(max(0.0, down_seconds - (time.monotonic() - killed_at)))

    restart()
    wait_until(lambda: health(test.stack, service)[0] == 200, 60, interval=0.5,
               what=f"the API to report {service} connected again")
    load.wait_accepted(after)
    load.stop()

    reconcile(test, test.stack, load, deliveries=mail_deliveries, label=label)
    # The worker came back by itself: it delivered what was accepted after the restart.
    test.assertIsNone(test.stack.worker.poll(), "the worker master exited")
