"""Per API key usage and monthly quotas (docs/ARCHITECTURE.md §13).

Usage: the counts an API instance keeps in memory and adds to api_key_usage once per flush
match the traffic sent, refusals included; the last use moves; a revoked key's attempts are
still counted; every notification names the hint of the key that created it; the last counts
are written when the API stops.

Quotas: a key over its quota gets 429 naming it, with its reset time, while another key of the
tenant still sends; channel quotas and the CRITICAL exemption; the month rolls over on the test
build's shifted clock; two API instances on one database never send more than the quota."""
import concurrent.futures
import datetime
import json
import time
import unittest

from api_support import started, email, sms, webhook, post, call, field_rules, wait_for
import pymongo

from harness import MONGODB_URI, Stack, StackTestCase, close_cleanly

FLUSH_SECONDS = 1


def today():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


class KeyUsageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = started(Stack(workers=1, env={
            "WAVECOM_USAGE_FLUSH_SECONDS": str(FLUSH_SECONDS),
            # 429s for the refusal counts: every key may make 3 requests a second.
            "WAVECOM_RATE_KEY_RPS": "3",
        }))

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def usage_doc(self, key):
        """Today's usage document of `key`, found by its hint."""
        return self.stack.db.api_key_usage.find_one({"hint": key[:12], "day": today()})

    def wait_counts(self, key, group, expected):
        """Waits (a few flushes at most) until the key's counts of `group` equal `expected`."""
        def matches():
            doc = self.usage_doc(key)
            got = {k: v for k, v in ((doc or {}).get(group) or {}).items() if v}
            return doc if got == expected else None
        try:
            return wait_for(matches, 10 * FLUSH_SECONDS + 5, what=f"{group} == {expected}")
        except AssertionError:
            raise AssertionError(f"{group}: expected {expected}, stored {self.usage_doc(key)}")

    def paced(self, fn, n):
        """n calls, spaced so that the key's 3 requests/s never refuse one."""
        out = []
        for _ in range(n):
            out.append(fn())
            time.sleep(0.4)
        return out

    def test_counts_per_key_match_the_traffic_after_a_flush(self):
        tenant, k1 = self.stack.new_tenant_key(role="sender")
        k2 = self.stack.ctl("apikey", "create", "--tenant", tenant).stdout.strip()
        viewer = self.stack.ctl("apikey", "create", "--tenant", tenant,
                                "--role", "viewer").stdout.strip()

        sent = self.paced(lambda: post(self.stack, k1, email()), 3)
        sent += self.paced(lambda: post(self.stack, k1, sms()), 2)
        self.assertEqual([r.status for r in sent], [201] * 5, sent)
        reads = self.paced(lambda: call(self.stack, "GET", "/api/notifications?limit=1", key=k1), 2)
        self.assertEqual([r.status for r in reads], [200, 200])
        r = post(self.stack, k2, webhook())
        self.assertEqual(r.status, 201, r)
        # The viewer may not send: 403, counted as a send request and a refusal.
        self.assertEqual(post(self.stack, viewer, email()).status, 403)

        time.sleep(1.1)  # a fresh second of k2's bucket: a burst now meets the limit
        burst = [call(self.stack, "GET", "/api/notifications?limit=1", key=k2).status
                 for _ in range(8)]
        refused = burst.count(429)
        self.assertGreater(refused, 0, burst)
        self.assertEqual(burst.count(200) + refused, 8, burst)

        self.wait_counts(k1, "requests", {"send": 5, "read": 2})
        self.wait_counts(k1, "accepted", {"EMAIL": 3, "SMS": 2})
        self.wait_counts(k1, "refused", {})
        d2 = self.wait_counts(k2, "requests", {"send": 1, "read": 8})
        self.wait_counts(k2, "accepted", {"WEBHOOK": 1})
        self.wait_counts(k2, "refused", {"429": refused})
        dv = self.wait_counts(viewer, "refused", {"403": 1})
        self.assertEqual(dv["requests"], {"send": 1})

        # The document names the key by hint and tenant, never by the key itself.
        self.assertEqual(d2["tenantId"], tenant)
        self.assertEqual(d2["hint"], k2[:12])
        self.assertNotIn(k2, repr(d2))
        self.assertEqual(d2["firstUseFrom"], "127.0.0.1")
        self.assertEqual(d2["lastUseFrom"], "127.0.0.1")
        self.assertLessEqual(d2["firstUseAt"], d2["lastUseAt"])

    def test_what_operators_read_keys_and_usage(self):
        tenant, admin = self.stack.new_tenant_key(role="admin")
        sender = self.stack.ctl("apikey", "create", "--tenant", tenant).stdout.strip()
        unused = self.stack.ctl("apikey", "create", "--tenant", tenant, "--name", "old").stdout.strip()
        self.assertEqual(post(self.stack, sender, sms()).status, 201)
        time.sleep(0.4)
        self.assertEqual(post(self.stack, sender, email()).status, 201)
        self.wait_counts(sender, "accepted", {"SMS": 1, "EMAIL": 1})

        # wavecomctl apikey list: last use and 30-day counts per key.
        rows = {r["hint"]: r for r in json.loads(
            self.stack.ctl("apikey", "list", "--tenant", tenant, "--json").stdout)}
        self.assertEqual(rows[sender[:12]]["requests30d"], 2)
        self.assertEqual(rows[sender[:12]]["accepted30d"], 2)
        self.assertEqual(rows[sender[:12]]["lastUsedFrom"], "127.0.0.1")
        self.assertIsNotNone(rows[sender[:12]]["lastUsedAt"])
        self.assertIsNone(rows[unused[:12]]["lastUsedAt"])
        self.assertEqual(rows[unused[:12]]["requests30d"], 0)
        # A key made today is not stale, used or not.
        self.assertEqual(json.loads(self.stack.ctl("apikey", "list", "--tenant", tenant, "--stale",
                                                   "--json").stdout), [])
        # ... but one created 40 days ago and never used is.
        self.stack.db.api_keys.update_one(
            {"hint": unused[:12]},
            {"$set": {"createdAt": datetime.datetime.now(datetime.timezone.utc)
                      - datetime.timedelta(days=40)}})
        stale = json.loads(self.stack.ctl("apikey", "list", "--tenant", tenant, "--stale",
                                          "--json").stdout)
        self.assertEqual([r["hint"] for r in stale], [unused[:12]])

        # wavecomctl apikey usage: today's row.
        usage = json.loads(self.stack.ctl("apikey", "usage", sender[:12], "--json").stdout)
        self.assertEqual(usage["tenant"], tenant)
        self.assertEqual([d["day"] for d in usage["days"]], [today()])
        self.assertEqual(usage["days"][0]["accepted"], {"EMAIL": 1, "SMS": 1, "PUSH": 0, "WEBHOOK": 0})
        self.assertEqual(usage["days"][0]["requests"]["send"], 2)

        # GET /api/keys and GET /api/usage (admin) say the same.
        r = call(self.stack, "GET", "/api/keys", key=admin)
        self.assertEqual(r.status, 200, r)
        keys = {k["hint"]: k for k in r.json["data"]["keys"]}
        self.assertEqual(keys[sender[:12]]["accepted30d"], 2)
        self.assertTrue(keys[unused[:12]]["stale"])
        self.assertEqual(r.json["data"]["staleKeys"], 1)
        r = call(self.stack, "GET", f"/api/usage?from={today()}&to={today()}&apiKey={sender[:12]}",
                 key=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"]["totals"]["accepted"]["SMS"], 1)
        self.assertEqual([d["apiKey"] for d in r.json["data"]["days"]], [sender[:12]])
        r = call(self.stack, "GET", "/api/usage?from=2026-13-01", key=admin)
        self.assertEqual((r.status, r.json["errors"][0]["field"]), (400, "from"))
        self.assertEqual(call(self.stack, "GET", "/api/keys", key=sender).status, 403)

    def test_last_use_moves(self):
        _, key = self.stack.new_tenant_key(role="sender")
        self.assertEqual(call(self.stack, "GET", "/api/notifications?limit=1", key=key).status, 200)
        first = self.wait_counts(key, "requests", {"read": 1})
        time.sleep(0.05)
        self.assertEqual(call(self.stack, "GET", "/api/notifications?limit=1", key=key).status, 200)
        second = self.wait_counts(key, "requests", {"read": 2})
        self.assertGreater(second["lastUseAt"], first["lastUseAt"])
        self.assertEqual(second["firstUseAt"], first["firstUseAt"])

    def test_a_revoked_key_is_still_counted(self):
        tenant, key = self.stack.new_tenant_key(role="sender")
        self.assertEqual(post(self.stack, key, email()).status, 201)
        self.stack.ctl("apikey", "revoke", key)
        for _ in range(2):
            self.assertEqual(post(self.stack, key, email()).status, 401)
        # An unknown key is refused and counted nowhere.
        self.assertEqual(post(self.stack, "wck_" + "0" * 48, email()).status, 401)
        self.wait_counts(key, "refused", {"401": 2})
        self.wait_counts(key, "requests", {"send": 1})
        self.assertEqual(self.stack.db.api_key_usage.count_documents({"hint": "wck_00000000"}), 0)

    def test_each_notification_names_its_key(self):
        tenant, k1 = self.stack.new_tenant_key(role="sender")
        k2 = self.stack.ctl("apikey", "create", "--tenant", tenant).stdout.strip()
        r1 = post(self.stack, k1, email())
        time.sleep(0.4)
        r2 = post(self.stack, k2, email())
        self.assertEqual((r1.status, r2.status), (201, 201))
        self.assertEqual(r1.json["data"]["apiKey"], k1[:12])
        got = call(self.stack, "GET", f"/api/notifications/{r2.json['data']['_id']}", key=k1)
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.json["data"]["notification"]["apiKey"], k2[:12])
        stored = self.stack.db.notifications.find_one({"apiKey": k1[:12]})
        self.assertEqual(str(stored["_id"]), r1.json["data"]["_id"])
        self.assertNotIn(k1, repr(stored))


    def test_the_list_filters_by_key(self):
        tenant, k1 = self.stack.new_tenant_key(role="operator")
        k2 = self.stack.ctl("apikey", "create", "--tenant", tenant).stdout.strip()
        mine = [r.json["data"]["_id"] for r in self.paced(lambda: post(self.stack, k1, email()), 3)]
        mine += [r.json["data"]["_id"] for r in self.paced(lambda: post(self.stack, k1, sms()), 2)]
        theirs = [r.json["data"]["_id"] for r in self.paced(lambda: post(self.stack, k2, sms()), 3)]
        self.assertEqual(len(set(mine + theirs)), 8)

        def page(query, key=k1):
            r = call(self.stack, "GET", f"/api/notifications?{query}", key=key)
            self.assertEqual(r.status, 200, r)
            return r.json["data"]

        def listed(query):
            time.sleep(0.4)
            data = page(query)
            return [n["_id"] for n in data["notifications"]], data["pagination"]["totalItems"]

        ids, total = listed(f"apiKey={k1[:12]}&limit=100")
        self.assertEqual((sorted(ids), total), (sorted(mine), 5))
        ids, total = listed(f"apiKey={k2[:12]}&type=SMS")
        self.assertEqual((sorted(ids), total), (sorted(theirs), 3))
        ids, total = listed(f"apiKey={k1[:12]}&type=SMS")
        self.assertEqual((sorted(ids), total), (sorted(mine[3:]), 2))
        # Following the cursors visits each of the key's notifications once, newest first.
        data, seen = page(f"apiKey={k1[:12]}&limit=2"), []
        while True:
            seen += [n["_id"] for n in data["notifications"]]
            if not data["pagination"]["nextCursor"]:
                break
            time.sleep(0.4)
            data = page(f"apiKey={k1[:12]}&limit=2&before={data['pagination']['nextCursor']}")
        self.assertEqual(seen, list(reversed(mine)))
        # A key that sent nothing lists nothing; a malformed hint is refused by name.
        self.assertEqual(listed("apiKey=wck_00000000"), ([], 0))
        time.sleep(0.4)
        r = call(self.stack, "GET", "/api/notifications?apiKey=wck_live", key=k1)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(field_rules(r), [("apiKey", "format")])
        # The key's counts follow the notifications through delivery: a worker for this step
        # (it has no SMS provider, so the SMS fail for good).
        self.stack.start_worker()
        try:
            wait_for(lambda: listed(f"apiKey={k2[:12]}&status=FAILED")[1] == 3, 60, interval=0.5,
                     what="the second key's three SMS listed as FAILED")
            wait_for(lambda: listed(f"apiKey={k1[:12]}&status=SENT")[1] == 3, 60, interval=0.5,
                     what="the first key's three emails listed as SENT")
        finally:
            worker, self.stack.worker = self.stack.worker, None
            self.assertEqual(self.stack.stop(worker), 0, self.stack.log("worker"))
        self.assertEqual(sorted(listed(f"apiKey={k1[:12]}&status=SENT")[0]), sorted(mine[:3]))
        self.assertEqual(sorted(listed(f"apiKey={k1[:12]}&status=FAILED")[0]), sorted(mine[3:]))
        self.assertEqual(listed(f"apiKey={k1[:12]}&status=QUEUED"), ([], 0))


class FlushOnStopTest(unittest.TestCase):
    """A long flush interval: what was counted is written when the API stops."""

    def test_stop_writes_the_last_counts(self):
        stack = started(Stack(workers=1, env={"WAVECOM_USAGE_FLUSH_SECONDS": "300"}))
        try:
            _, key = stack.new_tenant_key(role="sender")
            for _ in range(3):
                self.assertEqual(post(stack, key, email()).status, 201)
            time.sleep(1)
            before = stack.db.api_key_usage.find_one({"hint": key[:12]})
            # The first flush ran at start, before any traffic; the next is 300 s away.
            self.assertIsNone(before)
        finally:
            codes = stack.close()
        self.assertEqual(codes, {"api": 0}, stack.log("api"))
        with pymongo.MongoClient(MONGODB_URI, serverSelectionTimeoutMS=10000) as mongo:
            doc = mongo[stack.db_name].api_key_usage.find_one({"hint": key[:12]})
        self.assertIsNotNone(doc)
        self.assertEqual(doc["requests"], {"send": 3})
        self.assertEqual(doc["accepted"], {"EMAIL": 3})


def next_month(t):
    return (t.replace(day=28) + datetime.timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0)


def iso_z(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class QuotaTest(StackTestCase):
    ENV = {"WAVECOM_QUOTA_CHUNK": "3"}

    def assert_over_quota(self, r, scope, limit, channel=None):
        self.assertEqual(r.status, 429, r)
        quota = r.json["quota"]
        self.assertEqual((quota["scope"], quota["limit"], quota["channel"]), (scope, limit, channel))
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertEqual(quota["resetAt"], iso_z(next_month(now)))
        retry = int(r.header("Retry-After"))
        self.assertAlmostEqual(retry, (next_month(now) - now).total_seconds(), delta=60)
        self.assertIn("quota", r.json["message"])

    def test_a_key_over_its_quota_while_another_key_still_sends(self):
        tenant, k1 = self.stack.new_tenant_key(role="sender")
        k2 = self.stack.ctl("apikey", "create", "--tenant", tenant).stdout.strip()
        self.stack.ctl("apikey", "quota", k1[:12], "--monthly", "4")
        self.assertEqual([post(self.stack, k1, email()).status for _ in range(4)], [201] * 4)
        self.assert_over_quota(post(self.stack, k1, email()), "apiKey", 4)
        self.assertEqual(post(self.stack, k2, email()).status, 201)
        # A refused request takes nothing: it stays refused, and k2 goes on.
        self.assert_over_quota(post(self.stack, k1, sms()), "apiKey", 4)
        self.assertEqual(post(self.stack, k2, sms()).status, 201)
        counters = list(self.stack.db.quota_counters.find({"tenantId": tenant}))
        self.assertTrue(counters)
        for c in counters:
            self.assertLessEqual(c["used"], 4, c)

    def test_a_channel_quota_of_the_tenant(self):
        tenant, key = self.stack.new_tenant_key(role="sender")
        self.stack.ctl("tenant", "quota", tenant, "--sms", "2")
        self.assertEqual([post(self.stack, key, sms()).status for _ in range(2)], [201, 201])
        self.assert_over_quota(post(self.stack, key, sms()), "tenant", 2, "SMS")
        self.assertEqual(post(self.stack, key, email()).status, 201)

    def test_critical_notifications_exempt_by_the_tenant(self):
        tenant, key = self.stack.new_tenant_key(role="sender")
        self.stack.ctl("tenant", "quota", tenant, "--monthly", "1")
        self.assertEqual(post(self.stack, key, email()).status, 201)
        self.assert_over_quota(post(self.stack, key, email(priority="CRITICAL")), "tenant", 1)
        self.stack.ctl("tenant", "quota", tenant, "--monthly", "1", "--critical-exempt")
        self.assertEqual(post(self.stack, key, email(priority="CRITICAL")).status, 201)
        self.assert_over_quota(post(self.stack, key, email(priority="HIGH")), "tenant", 1)

    def test_a_batch_is_admitted_whole_or_refused_whole(self):
        tenant, key = self.stack.new_tenant_key(role="sender")
        self.stack.ctl("tenant", "quota", tenant, "--monthly", "5")
        r = call(self.stack, "POST", "/api/notifications/batch", key=key,
                 body={"notifications": [email() for _ in range(6)]})
        self.assert_over_quota(r, "tenant", 5)
        r = call(self.stack, "POST", "/api/notifications/batch", key=key,
                 body={"notifications": [email() for _ in range(5)]})
        self.assertIn(r.status, (201, 207), r)
        self.assertEqual(self.stack.db.notifications.count_documents({"tenantId": tenant}), 5)


class MonthRolloverTest(unittest.TestCase):
    """The test build's WAVECOM_TEST_CLOCK_OFFSET_SECONDS puts the API's quota clock a few
    seconds before the end of the month: a quota used up now is free again after it."""

    LEAD_SECONDS = 25

    def test_the_month_rolls_over(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        month_end = next_month(now + datetime.timedelta(days=40))  # a month whose end is ahead
        offset = int((month_end - now).total_seconds()) - self.LEAD_SECONDS
        stack = started(Stack(workers=1, env={"WAVECOM_TEST_CLOCK_OFFSET_SECONDS": str(offset)}))
        try:
            tenant, key = stack.new_tenant_key(role="sender")
            stack.ctl("tenant", "quota", tenant, "--monthly", "2")
            self.assertEqual([post(stack, key, email()).status for _ in range(2)], [201, 201])
            r = post(stack, key, email())
            self.assertEqual(r.status, 429, r)
            self.assertEqual(r.json["quota"]["resetAt"], iso_z(month_end))
            self.assertLessEqual(int(r.header("Retry-After")), self.LEAD_SECONDS + 1)  # whole seconds, rounded up
            # Wait, on the API's shifted clock, until the month has turned.
            wait_for(lambda: post(stack, key, email()).status == 201, self.LEAD_SECONDS + 15,
                     interval=1, what="the quota to be free in the new month")
            months = sorted(c["_id"].split(":")[2]
                            for c in stack.db.quota_counters.find({"tenantId": tenant}))
            self.assertEqual(months, sorted({(month_end - datetime.timedelta(days=1)).strftime("%Y-%m"),
                                             month_end.strftime("%Y-%m")}))
        finally:
            codes = stack.close()
        self.assertEqual(codes, {"api": 0}, stack.log("api"))


class TwoInstancesTest(unittest.TestCase):
    """Two API processes, two ports, one database: the quota holds across them (no
    overshoot), and what they held reserved and unused goes back when they stop."""

    QUOTA = 40
    CHUNK = 6

    def test_the_quota_holds_across_instances(self):
        env = {"WAVECOM_QUOTA_CHUNK": str(self.CHUNK)}
        a = started(Stack(workers=1, env=env))
        b = None
        try:
            b = started(Stack(workers=1, env=dict(env, WAVECOM_MONGODB_DB=a.db_name)))
            b.db = a.db
            tenant, key = a.new_tenant_key(role="sender")
            a.ctl("tenant", "quota", tenant, "--monthly", str(self.QUOTA))

            def send(i):
                return post(a if i % 2 == 0 else b, key, email()).status

            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(send, range(2 * self.QUOTA)))
            accepted = statuses.count(201)
            self.assertEqual(accepted + statuses.count(429), len(statuses), statuses)
            # The documented bounds: never more than the quota; at most (chunk - 1) per
            # instance held unused by the other while one refuses.
            self.assertLessEqual(accepted, self.QUOTA)
            self.assertGreaterEqual(accepted, self.QUOTA - 2 * (self.CHUNK - 1))
            self.assertEqual(a.db.notifications.count_documents({"tenantId": tenant}), accepted)
        finally:
            codes_b = b.close() if b is not None else {"api": 0}
            codes_a = a.close()
        self.assertEqual((codes_a, codes_b), ({"api": 0}, {"api": 0}), a.log("api") + b.log("api"))
        with pymongo.MongoClient(MONGODB_URI, serverSelectionTimeoutMS=10000) as mongo:
            counter = mongo[a.db_name].quota_counters.find_one({"tenantId": tenant})
        # Stopped, both gave their unused reservations back: the counter is what was sent.
        self.assertEqual(counter["used"], accepted)


if __name__ == "__main__":
    unittest.main()
