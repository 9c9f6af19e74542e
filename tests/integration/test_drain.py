"""SIGTERM during a burst of 200 emails loses none and sends none twice."""
import concurrent.futures
import signal
import unittest

from harness import mails_for, purge_queues, stack_for_test, wait_until

BURST = 200


class DrainTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        stack_for_test(self, worker=False, workers=2)

    def test_sigterm_mid_burst_loses_nothing(self):
        worker = self.stack.start_worker()

        def submit(i):
            r = self.stack.create_email(self.key, f"drain-{i}@example.com", f"Drain {i}",
                                        f"Message {i}", priority="HIGH" if i % 4 == 0 else "LOW")
            self.assertEqual(r.status, 201, r)
            return r.json["data"]["_id"]

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(submit, i) for i in range(BURST)]
            # Drain once deliveries are under way and submissions still arrive.
            wait_until(lambda: list(self.stack.statuses().values()).count("SENT") >= 20, 60,
                       what="the first deliveries")
            code = self.stack.stop(worker, signal.SIGTERM, timeout=60)
            ids = [f.result() for f in futures]
        self.assertEqual(code, 0, self.stack.log("worker"))
        self.assertIn("all workers drained", self.stack.log("worker"))

        statuses = self.stack.statuses()
        sent_before = sum(1 for s in statuses.values() if s == "SENT")
        self.assertLess(sent_before, BURST, "the drain came too late to test anything")
        # Nothing is left half-done by the drain: no PROCESSING holds a lease.
        self.assertNotIn("PROCESSING", statuses.values())

        self.stack.start_worker()
        wait_until(lambda: all(s == "SENT" for s in self.stack.statuses().values())
                   and len(self.stack.statuses()) == BURST, 120, interval=0.5,
                   what="every notification to be SENT after the restart")

        mails = wait_until(lambda: (lambda m: m if len(m) == BURST else None)(mails_for(ids)),
                           30, what="all mails in the catcher")
        duplicates = {nid: len(m) for nid, m in mails.items() if len(m) > 1}
        print(f"\nreconciliation: submitted={BURST} sent={len(mails)} "
              f"sent_before_drain={sent_before} duplicates={len(duplicates)} lost=0")
        self.assertEqual(duplicates, {})
        self.assertEqual(set(mails), set(ids))


if __name__ == "__main__":
    unittest.main()
