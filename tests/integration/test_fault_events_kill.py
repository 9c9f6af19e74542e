"""kill -9 of the API in the middle of fanning out events loses and doubles nothing.

Clients publish events, each with its own eventId, to a tenant with five subscribed endpoints,
and retry an event with the same id until it is answered (201, or 200 when an earlier, cut-off
attempt had stored it). The API is killed with SIGKILL mid-load and started again. Every
(event, endpoint) pair must be stored once and delivered: a fan-out the kill interrupted is
finished by the sweeper (docs/ARCHITECTURE.md §14), and a delivery stored twice would be a
duplicate key. Sends the webhook double saw twice for one webhook-id are counted and must be
none: only a killed worker can send twice (invariant 3), and no worker is killed here.
"""
import os
import signal
import threading
import time
import unittest
import urllib.error
import uuid

import providers
from harness import close_cleanly, purge_queues, wait_until

EVENTS = 1000
BEFORE_KILL = 300
ENDPOINTS = 5
CLIENTS = 4


class EventsApiKillTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        self.stack, self.tenant, self.key = providers.started_stack(
            workers=2, WAVECOM_PENDING_REPUBLISH_SECONDS="3", WAVECOM_SCHEDULER_INTERVAL_MS="200")
        self.addCleanup(lambda: close_cleanly(self.stack))
        admin = self.stack.ctl("apikey", "create", "--tenant", self.tenant,
                               "--role", "admin").stdout.strip()
        self.endpoints = []
        for i in range(ENDPOINTS):
            prefix = f"/kill-{uuid.uuid4().hex[:10]}-{i}"
            r = self.stack.request("POST", "/api/endpoints", key=admin, body={
                "url": providers.WEBHOOK_URL + prefix, "eventTypes": ["load.*"]})
            self.assertEqual(r.status, 201, r)
            providers.register_webhook_secret(prefix, r.json["data"]["secret"])
            self.endpoints.append(r.json["data"]["id"])
        self.lock = threading.Lock()
        self.next_event = 0
        self.answered = {}
        self.cut_off = 0

    def client(self):
        while True:
            with self.lock:
                if self.next_event >= EVENTS:
                    return
                n = self.next_event
                self.next_event += 1
            body = {"type": "load.tick", "payload": {"n": n}, "eventId": f"kill-{n}"}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    r = self.stack.request("POST", "/api/events", key=self.key, body=body,
                                           timeout=10)
                except (OSError, urllib.error.URLError):
                    with self.lock:
                        self.cut_off += 1
                    time.sleep(0.1)
                    continue
                if r.status in (200, 201):
                    with self.lock:
                        self.answered[n] = r.status
                    break
                time.sleep(0.2)  # 503 while the API restarts: the same event again

    def test_kill_9_api_mid_fan_out(self):
        clients = [threading.Thread(target=self.client) for _ in range(CLIENTS)]
        for t in clients:
            t.start()
        wait_until(lambda: len(self.answered) >= BEFORE_KILL, 120, interval=0.05,
                   what=f"{BEFORE_KILL} events answered before the kill")
        killed = self.stack.api
        os.kill(killed.pid, signal.SIGKILL)
        self.assertEqual(killed.wait(timeout=10), -signal.SIGKILL)
        time.sleep(1)
        self.stack.start_api()
        for t in clients:
            t.join(timeout=300)
            self.assertFalse(t.is_alive(), "the clients did not finish")
        self.assertEqual(len(self.answered), EVENTS, "an event was never answered")

        events = self.stack.db.events
        wait_until(lambda: events.count_documents({"fanout": "done"}) == EVENTS, 120, interval=0.5,
                   what="every event's fan-out to finish")
        deliveries = self.stack.db.notifications
        pairs = EVENTS * ENDPOINTS
        wait_until(lambda: deliveries.count_documents({"status": "SENT"}) == pairs, 300,
                   interval=1, what=f"{pairs} deliveries SENT")
        stored = [(d["eventId"], d["endpointId"]) for d in deliveries.find({}, {"eventId": 1,
                                                                              "endpointId": 1})]
        self.assertEqual(len(stored), pairs, "a delivery stored twice, or one missing")
        self.assertEqual(set(stored), {(f"kill-{n}", e) for n in range(EVENTS)
                                       for e in self.endpoints})
        webhook = providers.stats()["webhook"]
        print(f"\nevents={EVENTS} endpoints={ENDPOINTS} deliveries stored={len(stored)} "
              f"accepted by the receiver={webhook['accepted']} duplicates={webhook['duplicates']} "
              f"answered 200 (stored by a cut-off attempt)="
              f"{sum(1 for s in self.answered.values() if s == 200)} "
              f"attempts cut off by the kill={self.cut_off} "
              f"fan-outs resumed by the sweeper="
              f"{self.stack.log('api', whole=True).count('fan-out of event')}")
        self.assertEqual(webhook["duplicates"], 0, webhook)
        self.assertEqual(webhook["accepted"], pairs, webhook)


if __name__ == "__main__":
    unittest.main()
