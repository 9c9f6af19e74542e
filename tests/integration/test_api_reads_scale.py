"""The list and the statistics through the counters (wc_store_counters.h, wc_store_list.c).

Documents are written straight into the database and their counter deltas fed to
wc_store_counters_apply through tests/counters_apply, as the write path's transition function
does; so each test decides exactly what the counters saw. It checks that:
  - following nextCursor returns every notification exactly once while new ones arrive, with and
    without filters, and `after` returns the new ones;
  - page numbers, totals and from/to ranges agree with a count of the documents, also inside a
    minute busy enough to be read by its seconds, and a counted change shows at once;
  - after creations, retries, failures, cancels and replays the counters equal a full recount,
    and so do GET .../stats/system and /api/metrics;
  - counters left short (the deltas of a process killed before it flushed them) are repaired by
    `wavecomctl counters reconcile`, whose second run finds nothing to do.
"""
import datetime
import json
import os
import random
import subprocess
import time
import unittest
import urllib.parse
from collections import Counter

from bson import ObjectId

from api_support import call, post, sms, started
from harness import BUILD_DIR, Stack, close_cleanly

UTC = datetime.timezone.utc
STATUSES = ["PENDING", "QUEUED", "PROCESSING", "SENT", "FAILED", "RETRYING", "SCHEDULED",
            "CANCELLED"]
TYPES = ["EMAIL", "SMS", "PUSH", "WEBHOOK"]
PRIORITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
COUNTERS_APPLY = os.path.join(BUILD_DIR, "tests", "counters_apply")


def ms_of(dt):
    return int(dt.timestamp() * 1000)


def rfc3339(ms):
    return dt_of(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def dt_of(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, tz=UTC)


class ReadsScaleTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stack = started(Stack(workers=0, env={"WAVECOM_API_STATS_CACHE_SECONDS": "0",
                                                  "WAVECOM_SCHEDULER_ENABLED": "0"}))
        cls.rng = random.Random(23)
        cls.now = ms_of(datetime.datetime.now(tz=UTC))

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    # -- helpers --

    def apply(self, deltas):
        """Feeds (tenant, created_ms, at_ms, type, priority, from, to) tuples to the counters."""
        lines = "".join(f"{t} {c} {a} {TYPES.index(ty)} {PRIORITIES.index(p)} "
                        f"{-1 if f is None else STATUSES.index(f)} {STATUSES.index(to)}\n"
                        for t, c, a, ty, p, f, to in deltas)
        r = subprocess.run([COUNTERS_APPLY], input=lines, text=True, capture_output=True,
                           env=self.stack.env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def create(self, tenant, created_ms, status="SENT", type_=None, priority=None, count=True,
               api_key=None):
        """Inserts one notification as the write path would, and counts its creation."""
        type_ = type_ or self.rng.choice(TYPES)
        priority = priority or self.rng.choice(PRIORITIES)
        oid = ObjectId(int(created_ms // 1000).to_bytes(4, "big") + os.urandom(8))
        doc = {"_id": oid, "tenantId": tenant, "type": type_, "recipient": "+15005550006",
               "message": "m", "status": status, "priority": priority, "retryCount": 0,
               "maxRetries": 3, "createdAt": dt_of(created_ms), "updatedAt": dt_of(created_ms),
               "listBucket": f"{tenant}:{created_ms // MINUTE * MINUTE}",
               "listSlot": f"{tenant}:{created_ms // 1000 * 1000}",
               "listDayKind": f"{tenant}:{created_ms // DAY * DAY}:{type_}:{priority}"}
        if api_key:
            doc["apiKey"] = api_key
        self.stack.db.notifications.insert_one(doc)
        delta = (tenant, created_ms, created_ms, type_, priority, None, status)
        if count:
            self.apply([delta])
        return doc, delta

    def fill(self, tenant, n, span_ms, same_ms_pairs=10):
        """n notifications over the last span_ms, some sharing a millisecond (the _id decides)."""
        docs, deltas = [], []
        for i in range(n):
            created = self.now - self.rng.randrange(span_ms)
            if i < same_ms_pairs * 2 and i % 2 == 1:
                created = ms_of(docs[-1]["createdAt"])
            status = self.rng.choices(["SENT", "FAILED", "CANCELLED", "QUEUED"], [80, 8, 7, 5])[0]
            doc, delta = self.create(tenant, created, status, count=False)
            docs.append(doc)
            deltas.append(delta)
        self.apply(deltas)
        return docs

    def get(self, key, path):
        r = call(self.stack, "GET", path, key=key)
        self.assertEqual(r.status, 200, r)
        return r.json["data"]

    def advance_versions(self, tenant, minute_start):
        """What every writer of the counters does with a change to a minute (the write path,
        reconciliation): advances the versions of the tenant and of the minute's day and hour,
        under which the API keeps their children (api/bucket_cache.h)."""
        for _id in (tenant, f"{tenant}:d:{minute_start // DAY * DAY}",
                    f"{tenant}:h:{minute_start // HOUR * HOUR}", f"{tenant}:m:{minute_start}"):
            self.stack.db.notification_counters.update_one({"_id": _id},
                                                           {"$inc": {"version": 1}})

    def eventually(self, key, path, holds, seconds=5.0):
        """GET `path` until `holds(data)`: a change another process made (the counters tool,
        wavecomctl) shows once the API's remembered data version is older than
        WAVECOM_API_VERSION_FRESH_MS (1 s by default), not before."""
        deadline = time.monotonic() + seconds
        while True:
            data = self.get(key, path)
            if holds(data) or time.monotonic() > deadline:
                return data
            time.sleep(0.1)

    def walk(self, key, query="", limit=17, between=None):
        """Every id from the first page on by nextCursor; `between` runs after each page."""
        sep = "&" if query else ""
        data = self.get(key, f"/api/notifications?{query}{sep}limit={limit}")
        seen = [n["_id"] for n in data["notifications"]]
        pages = 1
        while data["pagination"]["nextCursor"]:
            if between:
                between()
            cursor = urllib.parse.quote(data["pagination"]["nextCursor"])
            data = self.get(key, f"/api/notifications?{query}{sep}limit={limit}&before={cursor}")
            seen += [n["_id"] for n in data["notifications"]]
            pages += 1
            self.assertLess(pages, 1000, "the walk does not end")
        return seen

    def newest_first(self, docs):
        return [str(d["_id"]) for d in sorted(docs, key=lambda d: (d["createdAt"], d["_id"]),
                                              reverse=True)]

    def recount(self, tenant=None):
        """{(status, type, priority): n} from the documents themselves."""
        q = {"tenantId": tenant} if tenant else {}
        return Counter((d["status"], d["type"], d["priority"])
                       for d in self.stack.db.notifications.find(q, {"status": 1, "type": 1,
                                                                     "priority": 1}))

    def counter_docs(self, tenant, level):
        """The tenant's own counter documents of one level (not its keys')."""
        return self.stack.db.notification_counters.find(
            {"tenantId": tenant, "_id": {"$regex": f"^{tenant}:{level}:"}})

    def counted(self, doc_id):
        doc = self.stack.db.notification_counters.find_one({"_id": doc_id}) or {}
        return Counter({tuple(k.split(":")): v for k, v in doc.get("c", {}).items() if v})

    def assert_counters_equal_recount(self, tenant):
        want = self.recount(tenant)
        self.assertEqual(self.counted(tenant), +want, "tenant counter")
        by_level = {"d": Counter(), "h": Counter(), "m": Counter()}
        for d in self.stack.db.notifications.find({"tenantId": tenant}):
            c = ms_of(d["createdAt"].replace(tzinfo=UTC))
            key = (d["status"], d["type"], d["priority"])
            by_level["d"][(c // DAY * DAY, key)] += 1
            by_level["h"][(c // HOUR * HOUR, key)] += 1
            by_level["m"][(c // MINUTE * MINUTE, key)] += 1
        for level, want_cells in by_level.items():
            got = Counter()
            for doc in self.counter_docs(tenant, level):
                start = int(doc["_id"].rsplit(":", 1)[1])
                for k, v in doc.get("c", {}).items():
                    if v:
                        got[(start, tuple(k.split(":")))] += v
            self.assertEqual(got, +want_cells, f"level {level}")

    # -- tests --

    def test_cursor_walk_returns_every_notification_once_while_new_ones_arrive(self):
        tenant, key = self.stack.new_tenant_key(role="operator")
        docs = self.fill(tenant, 240, 3 * HOUR)
        arrivals = []

        def arrive():
            for _ in range(3):
                doc, _ = self.create(tenant, ms_of(datetime.datetime.now(tz=UTC)))
                arrivals.append(doc)

        seen = self.walk(key, between=arrive)
        self.assertEqual(len(seen), len(set(seen)), "an item came twice")
        self.assertEqual(seen, self.newest_first(docs), "not every item, or out of order")
        self.assertTrue(arrivals)
        # `after` the newest item seen: exactly the ones that arrived meanwhile, newest first.
        first = self.get(key, "/api/notifications?limit=100")
        top = next(n for n in first["notifications"] if n["_id"] == seen[0])
        cursor = f"{ms_of(datetime.datetime.strptime(top['createdAt'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=UTC))}.{top['_id']}"
        newer = self.get(key, f"/api/notifications?limit=100&after={cursor}")
        self.assertEqual([n["_id"] for n in newer["notifications"]], self.newest_first(arrivals))

        # The same with a filter: only FAILED, each once, in order.
        failed = [d for d in docs + arrivals if d["status"] == "FAILED"]
        seen = self.walk(key, "status=FAILED", limit=3, between=arrive)
        self.assertEqual(seen, self.newest_first(failed))

    def test_a_busy_minute_is_read_by_its_seconds_and_each_item_comes_once(self):
        # 700 notifications in one minute (more than a page reads whole, wc_store_list.c): its
        # counter is marked slotted by the creations, and pages read it second by second.
        tenant, key = self.stack.new_tenant_key(role="operator")
        start = (self.now - 10 * MINUTE) // MINUTE * MINUTE
        docs, deltas = [], []
        for i in range(700):
            created = start + self.rng.randrange(MINUTE)
            status = self.rng.choices(["SENT", "FAILED"], [85, 15])[0]
            type_, priority = self.rng.choice(TYPES), self.rng.choice(PRIORITIES)
            oid = ObjectId(int(created // 1000).to_bytes(4, "big") + os.urandom(8))
            docs.append({"_id": oid, "tenantId": tenant, "type": type_,
                         "recipient": "+15005550006", "message": "m", "status": status,
                         "priority": priority, "retryCount": 0, "maxRetries": 3,
                         "createdAt": dt_of(created), "updatedAt": dt_of(created),
                         "listBucket": f"{tenant}:{start}", "listSlot": f"{tenant}:{created // 1000 * 1000}",
                         "listDayKind": f"{tenant}:{start // DAY * DAY}:{type_}:{priority}"})
            deltas.append((tenant, created, created, type_, priority, None, status))
        self.stack.db.notifications.insert_many(docs)
        self.apply(deltas)
        minute = self.stack.db.notification_counters.find_one({"_id": f"{tenant}:m:{start}"})
        self.assertTrue(minute and minute.get("slotted"), minute)

        seen = self.walk(key, limit=17)
        self.assertEqual(seen, self.newest_first(docs))
        order = self.newest_first(docs)
        for page in (1, 2, 30, 35):
            data = self.get(key, f"/api/notifications?page={page}&limit=20")
            self.assertEqual([n["_id"] for n in data["notifications"]],
                             order[(page - 1) * 20:page * 20], f"page {page}")
            self.assertEqual(data["pagination"]["totalItems"], 700)
        failed = [d for d in docs if d["status"] == "FAILED"]
        self.assertEqual(self.walk(key, "status=FAILED", limit=9), self.newest_first(failed))

        # A change another process counted shows within the freshness window: the cached
        # answer belongs to the old data version.
        path = "/api/notifications?status=FAILED&limit=100"
        before = self.get(key, path)
        turned = next(d for d in docs if d["status"] == "SENT")
        self.stack.db.notifications.update_one({"_id": turned["_id"]},
                                               {"$set": {"status": "FAILED"}})
        self.apply([(tenant, ms_of(turned["createdAt"]), self.now, turned["type"],
                     turned["priority"], "SENT", "FAILED")])
        counted = lambda data: (data["pagination"]["totalItems"] ==
                                before["pagination"]["totalItems"] + 1)
        after = self.eventually(key, path, counted)
        self.assertTrue(counted(after), after["pagination"])
        self.assertIn(str(turned["_id"]), [n["_id"] for n in after["notifications"]])

        # A range whose edges cut the busy minute, on a second or inside one, counts exactly:
        # whole seconds from the minute's counts by second, a cut second from its documents.
        for lo_s, hi_s in ((12.0, 47.0), (12.345, 47.89), (0.0, 30.5)):
            lo, hi = start + int(lo_s * 1000), start + int(hi_s * 1000)
            want = self.newest_first([d for d in docs if lo <= ms_of(d["createdAt"]) < hi])
            for page in (1, 3):
                data = self.get(key, f"/api/notifications?from={rfc3339(lo)}&to={rfc3339(hi)}"
                                     f"&page={page}&limit=20")
                self.assertEqual(data["pagination"]["totalItems"], len(want), (lo_s, hi_s))
                self.assertEqual([n["_id"] for n in data["notifications"]],
                                 want[(page - 1) * 20:page * 20], (lo_s, hi_s, page))

        # The minute counts its creations by second, and a page skips whole seconds by those
        # counts instead of reading them. To see that it does, the newest second's documents
        # go behind the counters' back: a page deeper than them still starts where the counts
        # say. Each request below asks for a page not asked before, so no cached answer serves it.
        seconds = {}
        for d in docs:
            second = f's{(ms_of(d["createdAt"]) - start) // 1000}'
            seconds[second] = seconds.get(second, 0) + 1
        minute = self.stack.db.notification_counters.find_one({"_id": f"{tenant}:m:{start}"})
        self.assertEqual(minute.get("s"), seconds)
        newest = max(int(k[1:]) for k in seconds)
        gone = [d["_id"] for d in docs if (ms_of(d["createdAt"]) - start) // 1000 == newest]
        stored = list(self.stack.db.notifications.find({"_id": {"$in": gone}}))
        self.stack.db.notifications.delete_many({"_id": {"$in": gone}})
        # The API keeps a minute's documents under its version: advance it, as any change does.
        self.advance_versions(tenant, start)
        data = self.get(key, "/api/notifications?page=32&limit=19")
        self.assertEqual([n["_id"] for n in data["notifications"]], order[589:608])
        # A range that cuts the minute counts its whole seconds from the same counts, so the
        # missing documents are still counted (a read of the whole minute would not count
        # them), and the page holds the documents that are there.
        lo = start + 500
        data = self.get(key, f"/api/notifications?from={rfc3339(lo)}&to={rfc3339(start + MINUTE)}"
                             f"&limit=20")
        in_range = [d for d in docs if ms_of(d["createdAt"]) >= lo]
        self.assertEqual(data["pagination"]["totalItems"], len(in_range))
        missing = {str(g) for g in gone}
        want = [i for i in self.newest_first(in_range) if i not in missing][:20]
        data = self.eventually(key, f"/api/notifications?from={rfc3339(lo)}"
                                    f"&to={rfc3339(start + MINUTE)}&limit=20",
                               lambda data: [n["_id"] for n in data["notifications"]] == want)
        self.assertEqual([n["_id"] for n in data["notifications"]], want)
        # Counts by second that do not add up to the minute's are not trusted: each second is
        # read, and the page starts after the documents that are really there.
        self.stack.db.notification_counters.update_one({"_id": f"{tenant}:m:{start}"},
                                                       {"$inc": {f"s.s{newest}": 3}})
        self.advance_versions(tenant, start)
        k = len(gone)
        want = order[576 + k:594 + k]
        ids = lambda data: [n["_id"] for n in data["notifications"]]
        self.assertEqual(ids(self.eventually(key, "/api/notifications?page=33&limit=18",
                                             lambda data: ids(data) == want)), want)
        # Put both back: other tests compare every tenant's counters with a recount.
        self.stack.db.notifications.insert_many(stored)
        self.stack.db.notification_counters.update_one({"_id": f"{tenant}:m:{start}"},
                                                       {"$inc": {f"s.s{newest}": -3}})
        self.advance_versions(tenant, start)

    def test_the_api_shows_its_own_writes_at_once(self):
        # The API reuses a tenant's data version for a moment (WAVECOM_API_VERSION_FRESH_MS);
        # a write it takes itself forgets it, so its client sees the write on the next read.
        tenant, key = self.stack.new_tenant_key(role="operator")
        self.fill(tenant, 30, HOUR)
        path = "/api/notifications?limit=5"
        before = self.get(key, path)
        self.assertEqual(self.get(key, path), before)  # answered again at the version it read
        stats = self.get(key, "/api/notifications/stats/system")
        r = post(self.stack, key, sms())
        self.assertEqual(r.status, 201, r)
        created = r.json["data"]["_id"]
        after = self.get(key, path)
        self.assertEqual(after["pagination"]["totalItems"], before["pagination"]["totalItems"] + 1)
        self.assertEqual(after["notifications"][0]["_id"], created)
        self.assertEqual(self.get(key, "/api/notifications/stats/system")["total"],
                         stats["total"] + 1)

    def test_pages_totals_and_ranges_agree_with_the_documents(self):
        tenant, key = self.stack.new_tenant_key(role="operator")
        docs = self.fill(tenant, 300, 2 * DAY)
        order = self.newest_first(docs)
        for page in (1, 2, 7, 15, 16):
            data = self.get(key, f"/api/notifications?page={page}&limit=20")
            self.assertEqual([n["_id"] for n in data["notifications"]],
                             order[(page - 1) * 20:page * 20], f"page {page}")
            self.assertEqual(data["pagination"]["totalItems"], 300)
            self.assertEqual(data["pagination"]["totalPages"], 15)
        for query, pick in (("status=SENT", lambda d: d["status"] == "SENT"),
                            ("type=SMS&priority=HIGH",
                             lambda d: d["type"] == "SMS" and d["priority"] == "HIGH")):
            data = self.get(key, f"/api/notifications?{query}&page=2&limit=5")
            want = self.newest_first([d for d in docs if pick(d)])
            self.assertEqual(data["pagination"]["totalItems"], len(want), query)
            self.assertEqual([n["_id"] for n in data["notifications"]], want[5:10], query)
        # A range that cuts through days, hours and minutes: the edges are counted exactly.
        lo, hi = self.now - 31 * HOUR - 12_345, self.now - 5 * HOUR + 6_789
        data = self.get(key, f"/api/notifications?from={rfc3339(lo)}&to={rfc3339(hi)}&limit=50")
        want = self.newest_first([d for d in docs if lo <= ms_of(d["createdAt"]) < hi])
        self.assertEqual(data["pagination"]["totalItems"], len(want))
        self.assertEqual([n["_id"] for n in data["notifications"]], want[:50])
        # Bad cursors and mixing are refused, naming the field.
        for query, field in (("before=nonsense", "before"), ("after=1.zz", "after"),
                             (f"before=1.{'0' * 24}&after=1.{'0' * 24}", "after"),
                             (f"page=2&before=1.{'0' * 24}", "page")):
            r = call(self.stack, "GET", f"/api/notifications?{query}", key=key)
            self.assertEqual(r.status, 400, (query, r))
            self.assertIn(field, [e["field"] for e in r.json["errors"]], query)

    def test_counters_equal_a_recount_after_retries_failures_cancels_and_replays(self):
        tenant, key = self.stack.new_tenant_key(role="operator")
        coll = self.stack.db.notifications
        paths = [["QUEUED", "PROCESSING", "SENT"],
                 ["QUEUED", "PROCESSING", "RETRYING", "PROCESSING", "SENT"],
                 ["QUEUED", "PROCESSING", "RETRYING", "PROCESSING", "FAILED"],
                 ["QUEUED", "PROCESSING", "FAILED", "PENDING", "QUEUED", "PROCESSING", "SENT"],
                 ["CANCELLED"],
                 ["QUEUED", "CANCELLED"]]
        deltas = []
        for i in range(60):
            created = self.now - self.rng.randrange(90 * MINUTE)
            doc, _ = self.create(tenant, created, "PENDING", count=False)
            deltas.append((tenant, created, created, doc["type"], doc["priority"], None, "PENDING"))
            prev, at = "PENDING", created
            for step in paths[i % len(paths)]:
                at += self.rng.randrange(1, 5000)
                deltas.append((tenant, created, at, doc["type"], doc["priority"], prev, step))
                prev = step
            coll.update_one({"_id": doc["_id"]}, {"$set": {"status": prev}})
        self.rng.shuffle(deltas)  # batches fold any order to the same sums
        self.apply(deltas)
        self.assert_counters_equal_recount(tenant)
        stats = self.get(key, "/api/notifications/stats/system")
        want = self.recount(tenant)
        for s in STATUSES:
            self.assertEqual(stats["byStatus"][s], sum(v for k, v in want.items() if k[0] == s), s)
        self.assertEqual(stats["total"], 60)
        r = call(self.stack, "GET", "/api/metrics")
        all_sent = self.recount()
        for t in TYPES:
            line = f'notifications_sent_total{{type="{t}"}} '
            value = next(l for l in r.text.splitlines() if l.startswith(line))
            self.assertEqual(int(float(value.split()[-1])),
                             sum(v for k, v in all_sent.items() if k[0] == "SENT" and k[1] == t))

    def test_statistics_may_be_kept_as_long_as_the_server_keeps_them(self):
        _, own_key = self.stack.new_tenant_key(role="viewer")
        stack = started(Stack(workers=0, env={"WAVECOM_API_STATS_CACHE_SECONDS": "4",
                                              "WAVECOM_SCHEDULER_ENABLED": "0"}))
        try:
            tenant, key = stack.new_tenant_key(role="viewer")
            for path in ("/api/notifications/stats/system", "/api/notifications/stats/throughput"):
                r = call(stack, "GET", path, key=key)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("Cache-Control"), "private, max-age=4", path)
                self.assertTrue(r.header("ETag"))
                again = call(stack, "GET", path, key=key, headers={"If-None-Match": r.header("ETag")})
                self.assertEqual(again.status, 304, path)
            # Everything else is revalidated every time; errors are never kept.
            r = call(stack, "GET", "/api/notifications", key=key)
            self.assertEqual(r.header("Cache-Control"), "private, no-cache")
            r = call(stack, "GET", "/api/notifications?before=x", key=key)
            self.assertEqual(r.header("Cache-Control"), "no-store")
        finally:
            self.assertEqual(stack.close(), {"api": 0})
        # With no server-side cache there is nothing to keep.
        r = call(self.stack, "GET", "/api/notifications/stats/system", key=own_key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Cache-Control"), "private, no-cache")

    def test_a_sparse_filter_reads_whole_days_and_walks_a_day_without_listday(self):
        # A month in which one notification in six matches the filter: each keyed day holds a
        # handful and is read at once by listDayKind. Two days were written before it existed
        # (their documents lack it, their day counters are not keyed): those are walked by their
        # hours and minutes, and the answers are the same.
        tenant, key = self.stack.new_tenant_key(role="operator")
        docs, deltas = [], []
        for _ in range(240):
            created = self.now - self.rng.randrange(30 * DAY)
            match = self.rng.random() < 1 / 6
            doc, delta = self.create(tenant, created, "FAILED" if match else "SENT",
                                     "WEBHOOK" if match else "SMS",
                                     "CRITICAL" if match else "LOW", count=False)
            docs.append(doc)
            deltas.append(delta)
        for i in range(0, len(deltas), 60):
            self.apply(deltas[i:i + 60])  # small bulks: a 1,200-upsert one stalled FerretDB 1.24
        days = {ms_of(d["createdAt"]) // DAY * DAY for d in docs}
        # (count_documents, an aggregate, stalled FerretDB 1.24 here; a find does not.)
        keyed = [d for d in self.stack.db.notification_counters.find({"scope": f"{tenant}:d"})
                 if d.get("keyed") is True]
        self.assertEqual(len(keyed), len(days), "a creation's flush keys the day it inserts")
        match_days = sorted({ms_of(d["createdAt"]) // DAY * DAY for d in docs
                             if d["status"] == "FAILED"})
        self.assertGreater(len(match_days), 5)
        old_days = match_days[-5:-3]
        for day in old_days:
            for d in docs:
                if ms_of(d["createdAt"]) // DAY * DAY == day:
                    self.stack.db.notifications.update_one({"_id": d["_id"]},
                                                           {"$unset": {"listDayKind": ""}})
            self.stack.db.notification_counters.update_one({"_id": f"{tenant}:d:{day}"},
                                                           {"$unset": {"keyed": ""}})
        query = "status=FAILED&type=WEBHOOK&priority=CRITICAL"
        want = self.newest_first([d for d in docs if d["status"] == "FAILED"])
        self.assertGreater(len(want), 10)
        self.assertEqual(self.walk(key, query, limit=3), want)
        data = self.get(key, f"/api/notifications?{query}&page=2&limit=4")
        self.assertEqual([n["_id"] for n in data["notifications"]], want[4:8])
        self.assertEqual(data["pagination"]["totalItems"], len(want))
        lo, hi = self.now - 20 * DAY - 7_777, self.now - 2 * DAY + 5_555
        data = self.get(key, f"/api/notifications?{query}&from={rfc3339(lo)}&to={rfc3339(hi)}"
                             "&limit=100")
        inside = self.newest_first([d for d in docs if d["status"] == "FAILED" and
                                    lo <= ms_of(d["createdAt"]) < hi])
        self.assertEqual([n["_id"] for n in data["notifications"]], inside)
        self.assertEqual(data["pagination"]["totalItems"], len(inside))
        # Reconciliation gives the old days' documents listDayKind again.
        self.stack.ctl("counters", "reconcile", "--tenant", tenant, "--json")
        self.assertEqual([d["_id"] for d in self.stack.db.notifications.find({"tenantId": tenant})
                          if "listDayKind" not in d], [])

    def test_reconciliation_repairs_counters_left_short_by_a_killed_flusher(self):
        tenant, key = self.stack.new_tenant_key(role="operator")
        self.fill(tenant, 50, 2 * HOUR)
        # Ten more whose documents were written but whose deltas died with their process, and
        # one counter cell corrupted by hand.
        for _ in range(10):
            self.create(tenant, self.now - self.rng.randrange(HOUR), "SENT", count=False)
        self.stack.db.notification_counters.update_one(
            {"_id": tenant}, {"$inc": {"c.FAILED:SMS:LOW": 5}})
        self.assertNotEqual(self.counted(tenant), +self.recount(tenant))
        # The list's total is short too (the minute buckets a page reads count their documents;
        # the rest count by their counters).
        self.assertLess(self.get(key, "/api/notifications")["pagination"]["totalItems"], 60)
        # An old document without listBucket (written before it existed) is given one.
        old, _ = self.create(tenant, self.now - 3 * DAY, "SENT", count=False)
        self.stack.db.notifications.update_one({"_id": old["_id"]}, {"$unset": {"listBucket": ""}})

        r = self.stack.ctl("counters", "reconcile", "--tenant", tenant, "--json")
        report = json.loads(r.stdout)
        self.assertEqual(report["notifications"], 61)
        self.assertEqual(report["backfilled"], 1)
        self.assertGreater(report["bucketsFixed"], 0)
        self.assert_counters_equal_recount(tenant)
        total = lambda data: data["pagination"]["totalItems"]
        self.assertEqual(total(self.eventually(key, "/api/notifications",
                                               lambda data: total(data) == 61)), 61)
        again = json.loads(self.stack.ctl("counters", "reconcile", "--tenant", tenant,
                                          "--json").stdout)
        self.assertEqual(again["bucketsFixed"], 0)
        self.assertEqual(again["backfilled"], 0)

    def test_reconciliation_shows_repairs_that_cancel_out_under_one_hour(self):
        # Two minutes of one hour miscounted in opposite directions: the hour's and the day's
        # cells are right, so the repair writes neither; the API keeps the hour's minutes under
        # the hour's version, which reconciliation must therefore advance.
        tenant, key = self.stack.new_tenant_key(role="operator")
        hour = (self.now - 3 * HOUR) // HOUR * HOUR
        a, b = hour + 5 * MINUTE, hour + 40 * MINUTE
        for start in (a, b):
            for i in range(3):
                self.create(tenant, start + 1000 * i, "SENT", "SMS", "LOW")
        # More than a day read at once holds (wc_store_list.c), so the walk goes by the hour.
        self.apply([self.create(tenant, hour - HOUR + 1000 * i, "SENT", "SMS", "LOW",
                                count=False)[1] for i in range(70)])
        self.stack.db.notification_counters.update_one({"_id": f"{tenant}:m:{a}"},
                                                       {"$inc": {"c.SENT:SMS:LOW": 1}})
        self.stack.db.notification_counters.update_one({"_id": f"{tenant}:m:{b}"},
                                                       {"$inc": {"c.SENT:SMS:LOW": -1}})
        # A page past the minute's items counts it by its counter.
        path = f"/api/notifications?from={rfc3339(a)}&to={rfc3339(a + MINUTE)}&page=2&limit=10"
        total = lambda data: data["pagination"]["totalItems"]
        self.assertEqual(total(self.get(key, path)), 4)
        report = json.loads(self.stack.ctl("counters", "reconcile", "--tenant", tenant,
                                           "--json").stdout)
        self.assertEqual(report["bucketsFixed"], 2)
        self.assertEqual(total(self.eventually(key, path, lambda data: total(data) == 3)), 3)

    def test_reconciliation_counts_each_key_the_list_filters_by(self):
        tenant, key = self.stack.new_tenant_key(role="operator")
        hint = key[:12]
        # Notifications of a key written before its counters existed: only the documents.
        mine = [self.create(tenant, self.now - self.rng.randrange(2 * HOUR), "SENT", count=False,
                            api_key=hint)[0] for _ in range(12)]
        self.fill(tenant, 20, 2 * HOUR)
        self.assertEqual(self.get(key, f"/api/notifications?apiKey={hint}")["pagination"]
                         ["totalItems"], 0)
        report = json.loads(self.stack.ctl("counters", "reconcile", "--tenant", tenant,
                                           "--json").stdout)
        self.assertEqual(report["notifications"], 32)
        self.assert_counters_equal_recount(tenant)
        self.assertEqual(self.counted(f"{tenant}~{hint}"), Counter(
            (d["status"], d["type"], d["priority"]) for d in mine))
        # The repair shows once the API's remembered data version is older than a second.
        self.eventually(key, f"/api/notifications?apiKey={hint}&limit=5",
                        lambda data: data["notifications"])
        self.assertEqual(self.walk(key, f"apiKey={hint}", limit=5), self.newest_first(mine))
        sms = [d for d in mine if d["type"] == "SMS"]
        data = self.get(key, f"/api/notifications?apiKey={hint}&type=SMS&limit=100")
        self.assertEqual(data["pagination"]["totalItems"], len(sms))
        self.assertEqual([n["_id"] for n in data["notifications"]], self.newest_first(sms))


if __name__ == "__main__":
    unittest.main()
