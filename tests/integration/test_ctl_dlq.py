"""wavecomctl dlq: list, show, replay (all, interrupted, filtered, dry run) and purge.

A webhook path with no signing secret registered at the receiver double fails every delivery
(401); with maxRetries 0 each notification goes straight to the DLQ. Registering the tenant's
secret for that path "fixes the provider" for these notifications only, so the test never changes
the doubles' shared behaviour.
"""
import json
import signal
import subprocess
import threading
import time
import unittest
import uuid

import providers
from harness import AMQP_URL, CTL_BIN, close_cleanly, purge_queues, trail, wait_until

DLQ = "notifications_dlq"
_ENV = {"PATH": "/usr/bin:/bin", "WAVECOM_AMQP_URL": AMQP_URL}


def dlq_depth():
    """Messages in the DLQ now, by an AMQP passive declare (`wavecomctl queues`): exact, where
    rabbitmqctl's counts lag by a statistics interval. Nothing consumes the DLQ but wavecomctl,
    which has exited, so every message is ready."""
    result = subprocess.run([CTL_BIN, "queues", "--json", "--no-management"], env=_ENV, capture_output=True, text=True,
                            timeout=30, check=True)
    return {row["queue"]: row["ready"] for row in json.loads(result.stdout)}[DLQ]


class CtlDlqTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Hundreds of failures on purpose: the webhook breaker must not open and hold them back.
        cls.stack, _, _ = providers.started_stack(workers=2, WAVECOM_BREAKER_THRESHOLD="10000")

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def setUp(self):
        purge_queues()

    # -- helpers --

    def ctl(self, *args, stdin=subprocess.DEVNULL, env=None):
        full_env = dict(self.stack.env)
        full_env.update(env or {})
        return subprocess.run([CTL_BIN, *args], env=full_env, capture_output=True, text=True,
                              timeout=80, stdin=stdin)

    def tenant(self):
        tenant, key = self.stack.new_tenant_key()
        secret = self.stack.db.tenants.find_one({"_id": tenant})["webhookSecret"]
        return tenant, key, secret

    def dead_letter(self, key, n, prefix):
        """Creates n webhooks to `prefix` (no secret there yet) and waits until all are FAILED."""
        ids = []
        for i in range(n):
            r = self.stack.request("POST", "/api/notifications", key=key, body={
                "type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + f"{prefix}/{i}",
                "message": "m", "payload": {"i": i}, "maxRetries": 0})
            self.assertEqual(r.status, 201, r)
            ids.append(r.json["data"]["_id"])
        wait_until(lambda: self.stack.db.notifications.count_documents(
            {"status": "FAILED", "recipient": {"$regex": "^" + providers.WEBHOOK_URL + prefix + "/"}}) == n,
            60, interval=0.5, what=f"{n} notifications FAILED")
        return ids

    def dead_lettered_tenant(self, label, n):
        """A new tenant whose n webhooks to /ctl-LABEL-TENANT (where no secret is registered yet)
        are FAILED and in the DLQ. Returns the tenant, that prefix, the ids, the DLQ's depth then,
        and fix_provider(), which registers the tenant's secret there so that a replay delivers."""
        tenant, key, secret = self.tenant()
        prefix = f"/ctl-{label}-{tenant}"
        ids = self.dead_letter(key, n, prefix)
        depth = self.wait_dlq(n)
        return tenant, prefix, ids, depth, lambda: providers.register_webhook_secret(prefix, secret)

    def wait_dlq(self, n):
        """Waits until the DLQ holds (at least) the n messages just dead-lettered; returns its depth.
        At least: the worker may, rarely, dead-letter a notification twice (it publishes to the DLQ
        before it records FAILED), and replay must cope with that second copy anyway."""
        return wait_until(lambda: (lambda d: d if d >= n else None)(dlq_depth()), 30, interval=0.5,
                          what=f"{n} messages in the DLQ")

    def docs(self, ids):
        """The documents of `ids`, each with its audit trail as `logs`."""
        docs = {nid: self.stack.db.notifications.find_one({"_id": __import__("bson").ObjectId(nid)})
                for nid in ids}
        for doc in docs.values():
            doc["logs"] = trail(self.stack.db, doc)
        return docs

    def statuses(self, ids):
        return [d["status"] for d in self.docs(ids).values()]

    def deliveries(self, ids):
        per_id = providers.stats(ids=True)["webhook"].get("per_id", {})
        return {nid: per_id.get(nid, 0) for nid in ids}

    def assert_all_sent_once(self, ids):
        wait_until(lambda: all(s == "SENT" for s in self.statuses(ids)), 60, interval=0.5,
                   what="every replayed notification SENT")
        for nid, doc in self.docs(ids).items():
            sent = [e for e in doc["logs"] if e["status"] == "SENT"]
            self.assertEqual(len(sent), 1, doc["logs"])
        # The receiver counts deliveries per webhook-id (= notification id): none twice.
        counts = self.deliveries(ids)
        self.assertTrue(all(c <= 1 for c in counts.values()), {k: v for k, v in counts.items() if v > 1})

    # -- tests --

    def test_replay_all_after_fixing_the_provider(self):
        tenant, prefix, ids, depth, fix_provider = self.dead_lettered_tenant("all", 100)

        listed = self.ctl("dlq", "list", "--json", "--limit", "1000")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        rows = json.loads(listed.stdout)
        self.assertEqual({r["id"] for r in rows}, set(ids))
        self.assertTrue(all(r["status"] == "FAILED" and r["tenant"] == tenant and r["type"] == "WEBHOOK"
                            and r["attempts"] == 1 and "401" in r["error"] and r["failedAt"]
                            for r in rows), rows[0])
        self.assertTrue(all("***" in r["recipient"] and prefix not in r["recipient"] for r in rows),
                        rows[0]["recipient"])
        shown = self.ctl("dlq", "show", ids[0])
        self.assertEqual(shown.returncode, 0, shown.stderr)
        shown = json.loads(shown.stdout)
        self.assertIn(ids[0], shown["message"]["body"])
        self.assertIn("x-wavecom-reason", shown["message"]["headers"])
        self.assertEqual(shown["document"]["status"], "FAILED")
        self.assertEqual(shown["trail"][-1]["status"], "FAILED")
        self.assertEqual(dlq_depth(), depth)  # listing and showing took nothing

        fix_provider()
        r = self.ctl("dlq", "replay", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("replayed 100", r.stderr)
        self.assert_all_sent_once(ids)
        self.assertEqual(dlq_depth(), 0)
        for doc in self.docs(ids).values():
            statuses = [e["status"] for e in doc["logs"]]
            self.assertEqual(statuses[-5:], ["FAILED", "PENDING", "QUEUED", "PROCESSING", "SENT"])
            replay = doc["logs"][-4]  # FAILED -> PENDING by the operator
            self.assertTrue(replay["actor"].startswith("wavecomctl:"), replay)
            self.assertIn("Replayed from the dead-letter queue", replay["message"])
            self.assertEqual(doc["retryCount"], 0)

    def test_replay_interrupted_then_rerun_loses_and_duplicates_nothing(self):
        _, _, ids, _, fix_provider = self.dead_lettered_tenant("int", 60)
        fix_provider()

        env = dict(self.stack.env)
        proc = subprocess.Popen([CTL_BIN, "dlq", "replay", "--all", "--rate", "20/s"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        # readline() has no timeout of its own: a hung replay is killed, and the test fails.
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        self.addCleanup(watchdog.cancel)
        replayed = []
        while len(replayed) < 25:
            line = proc.stdout.readline()
            self.assertTrue(line, proc.stderr.read() if proc.poll() is not None else "no output")
            if line.startswith("done"):
                replayed.append(line.split()[1])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted", err)
        replayed += [l.split()[1] for l in out.splitlines() if l.startswith("done")]
        self.assertLess(len(replayed), 60)
        # Nothing lost: each notification the run did not get to is still FAILED and in the DLQ.
        # (Compared as sets: the worker may, rarely, have dead-lettered one twice; a second copy
        # is harmless, as the rerun shows.)
        rest = set(ids) - set(replayed)
        docs = self.docs(ids)
        self.assertEqual({nid for nid, d in docs.items() if d["status"] == "FAILED"}, rest)
        listed = json.loads(self.ctl("dlq", "list", "--json", "--limit", "1000").stdout)
        self.assertEqual({r["id"] for r in listed if r["status"] == "FAILED"}, rest)
        self.assertGreaterEqual(dlq_depth(), len(rest))

        r = self.ctl("dlq", "replay", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"replayed {len(rest)},", r.stderr)
        self.assert_all_sent_once(ids)
        self.assertEqual(dlq_depth(), 0)

    def test_replay_after_a_crash_between_its_steps(self):
        """The states a replay killed between its steps leaves behind, made by hand."""
        _, _, ids, _, fix_provider = self.dead_lettered_tenant("crash", 3)
        fix_provider()
        oid = __import__("bson").ObjectId
        # ids[0]: step 1 done (PENDING, replayedAt set), the publish lost; ids[2]: settled
        # meanwhile (CANCELLED).
        self.stack.db.notifications.update_one(
            {"_id": oid(ids[0])},
            {"$set": {"status": "PENDING", "replayedAt": __import__("datetime").datetime.now(
                __import__("datetime").timezone.utc)}})
        self.stack.db.notifications.update_one({"_id": oid(ids[2])}, {"$set": {"status": "CANCELLED"}})

        r = self.ctl("dlq", "replay", "--all", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual([e["id"] for e in out["republished"]], [ids[0]])
        self.assertEqual({e["id"] for e in out["done"]}, {ids[1]})
        self.assertEqual([e["id"] for e in out["settled"]], [ids[2]])
        self.assert_all_sent_once(ids[:2])
        self.assertEqual(self.deliveries([ids[2]])[ids[2]], 0)
        self.assertEqual(self.docs([ids[2]])[ids[2]]["status"], "CANCELLED")
        self.assertEqual(dlq_depth(), 0)

    def test_dry_run_changes_nothing_and_a_filter_replays_only_its_match(self):
        tenant_a, key_a, secret_a = self.tenant()
        tenant_b, key_b, secret_b = self.tenant()
        prefix_a, prefix_b = f"/ctl-fa-{tenant_a}", f"/ctl-fb-{tenant_b}"
        ids_a = self.dead_letter(key_a, 10, prefix_a)
        ids_b = self.dead_letter(key_b, 5, prefix_b)
        depth = self.wait_dlq(15)
        before = {nid: len(d["logs"]) for nid, d in self.docs(ids_a + ids_b).items()}

        dry = self.ctl("dlq", "replay", "--all", "--dry-run", "--json")
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertEqual({e["id"] for e in json.loads(dry.stdout)["would"]}, set(ids_a + ids_b))
        dry_purge = self.ctl("dlq", "purge", "--all", "--dry-run")
        self.assertEqual(dry_purge.returncode, 0, dry_purge.stderr)
        self.assertEqual(dlq_depth(), depth)
        after = {nid: len(d["logs"]) for nid, d in self.docs(ids_a + ids_b).items()}
        self.assertEqual(before, after)
        self.assertEqual(set(self.statuses(ids_a + ids_b)), {"FAILED"})

        def listed(*args):
            r = self.ctl("dlq", "list", "--json", *args)
            self.assertEqual(r.returncode, 0, r.stderr)
            return {row["id"] for row in json.loads(r.stdout)}
        self.assertEqual(listed("--tenant", tenant_a), set(ids_a))
        self.assertEqual(listed("--error", "no secret registered", "--type", "WEBHOOK"), set(ids_a + ids_b))
        self.assertEqual(listed("--error", "HTTP 503"), set())
        self.assertEqual(listed("--since", "2999-01-01T00:00:00Z"), set())
        self.assertEqual(listed("--until", "2000-01-01T00:00:00Z"), set())
        self.assertEqual(listed("--type", "SMS"), set())
        self.assertEqual(len(listed("--limit", "4")), 4)

        providers.register_webhook_secret(prefix_a, secret_a)
        providers.register_webhook_secret(prefix_b, secret_b)
        r = self.ctl("dlq", "replay", "--tenant", tenant_b, "--type", "WEBHOOK")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_all_sent_once(ids_b)
        self.assertEqual(set(self.statuses(ids_a)), {"FAILED"})
        left = dlq_depth()
        self.assertGreaterEqual(left, 10)
        listed = json.loads(self.ctl("dlq", "list", "--json").stdout)
        self.assertEqual({r["id"] for r in listed if r["status"] == "FAILED"}, set(ids_a))

        # Purge asks first; with stdin not a terminal and no --yes it refuses and changes nothing.
        refused = self.ctl("dlq", "purge", "--tenant", tenant_a)
        self.assertEqual(refused.returncode, 2)
        self.assertIn("--yes", refused.stderr)
        self.assertEqual(len(refused.stderr.strip().splitlines()), 1, refused.stderr)
        self.assertEqual(dlq_depth(), left)
        self.assertEqual([d["logs"][-1]["status"] for d in self.docs(ids_a).values()], ["FAILED"] * 10)

        purged = self.ctl("dlq", "purge", "--tenant", tenant_a, "--yes")
        self.assertEqual(purged.returncode, 0, purged.stderr)
        self.assertEqual(dlq_depth(), 0)
        for doc in self.docs(ids_a).values():
            self.assertEqual(doc["status"], "FAILED")
            self.assertIn("Purged", doc["logs"][-1]["message"])
            self.assertTrue(doc["logs"][-1]["actor"].startswith("wavecomctl:"))

    def test_bad_input_fails_in_one_line_and_changes_nothing(self):
        tenant, key, _ = self.tenant()
        ids = self.dead_letter(key, 3, f"/ctl-bad-{tenant}")
        depth = self.wait_dlq(3)
        before = {nid: len(d["logs"]) for nid, d in self.docs(ids).items()}
        cases = [
            (("dlq", "frobnicate"), 2),
            (("frobnicate",), 2),
            (("dlq", "replay", "not-an-id"), 2),
            (("dlq", "show", "123"), 2),
            (("dlq", "replay", "--all", ids[0]), 2),
            (("dlq", "replay", "--all", "--tenant", tenant), 2),
            (("dlq", "purge", "--all", "--dry-run", "--yes"), 2),
            (("dlq", "replay", "--all", "--rate", "fast"), 2),
            (("dlq", "list", "--since", "yesterday"), 2),
            (("dlq", "replay", "--all", "--bogus"), 2),
            (("notification", "show", "xyz"), 2),
        ]
        for args, code in cases:
            r = self.ctl(*args)
            self.assertEqual(r.returncode, code, (args, r.stderr))
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("wavecomctl: "), (args, r.stderr))
        unreachable = [
            {"WAVECOM_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/wavecom_ctl"},
            {"WAVECOM_MONGODB_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"},
        ]
        for env in unreachable:
            for args in (("dlq", "replay", "--all"), ("dlq", "list"), ("dlq", "purge", "--all", "--yes")):
                r = self.ctl(*args, env=env)
                self.assertEqual(r.returncode, 1, (args, env, r.stderr))
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))
        self.assertEqual(dlq_depth(), depth)
        after = {nid: len(d["logs"]) for nid, d in self.docs(ids).items()}
        self.assertEqual(before, after)
        self.assertEqual(set(self.statuses(ids)), {"FAILED"})
        # --help of every command answers 0 on stdout.
        for args in (("--help",), ("dlq", "--help"), ("dlq", "replay", "--help"),
                     ("notification", "--help"), ("tenant", "--help"), ("apikey", "--help"),
                     ("queues", "--help")):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertIn("Usage", r.stdout)

    def test_queues_shows_every_queue_with_its_consumers(self):
        r = self.ctl("queues", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {row["queue"]: row for row in json.loads(r.stdout)}
        self.assertTrue({"high_priority", "notifications", DLQ}.issubset(rows), rows)
        self.assertTrue(any(name.startswith("retry.") for name in rows), rows)
        # Two worker children each consume both priority queues.
        self.assertGreaterEqual(rows["high_priority"]["consumers"], 2)
        self.assertEqual(rows[DLQ]["consumers"], 0)
        # The management API answers on the local stack: unacked counts come from it.
        self.assertIn("unacked", rows["high_priority"])
        text = self.ctl("queues")
        self.assertIn("CONSUMERS", text.stdout)

    def test_notification_show_and_cancel(self):
        tenant, key, _ = self.tenant()
        # Scheduled an hour ahead: it waits, cancellable, while the test looks at it.
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        r = self.stack.create_email(key, "alice@example.com", "s", "m", scheduledAt=at)
        self.assertIn(r.status, (201, 202), r)
        nid = r.json["data"]["_id"]
        shown = self.ctl("notification", "show", nid, "--json")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(json.loads(shown.stdout)["notification"]["status"], "SCHEDULED")
        cancelled = self.ctl("notification", "cancel", nid, "--reason", "customer asked")
        self.assertEqual(cancelled.returncode, 0, cancelled.stderr)
        doc = self.docs([nid])[nid]
        self.assertEqual(doc["status"], "CANCELLED")
        self.assertTrue(doc["logs"][-1]["actor"].startswith("wavecomctl:"))
        self.assertIn("customer asked", doc["logs"][-1]["message"])
        again = self.ctl("notification", "cancel", nid)
        self.assertEqual(again.returncode, 0, again.stderr)
        missing = self.ctl("notification", "show", uuid.uuid4().hex[:24])
        self.assertEqual(missing.returncode, 3, missing.stderr)


if __name__ == "__main__":
    unittest.main()
