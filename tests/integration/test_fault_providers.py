"""A provider failing for a while, or hanging, mid-load: retries, the breaker, nothing lost.

The provider is the Twilio test double (loadtest/doubles), switched at run time
through its control API. Deliveries are counted from the double's own records
(per message id), so a duplicate shows however it came about.

- 500 for 30 s, then recovery: attempts fail transiently, the breaker opens
  (a refused attempt spends no retry), and once the double answers again
  every 201 ends SENT, or FAILED in the DLQ when its retries ran out.
- No answer at all (the double holds every request): each attempt ends at the
  provider timeout, the breaker opens and stops calling the provider, and after
  recovery the same reconciliation holds. A request the double held was never
  accepted by it, so none is counted as delivered.
"""
import time
import unittest

import providers
from fault_support import Load, reconcile, sms_deliveries, start_stack
from harness import purge_queues

OUTAGE_SECONDS = 30
HANG_SECONDS = 15


class ProviderFaultTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        providers.reset()
        self.addCleanup(providers.reset)
        env = providers.worker_env()
        env.update({
            # Short breaker pauses and two retries keep every retry in the 5 s and
            # 25 s tiers, so the test ends within a minute of the recovery.
            "WAVECOM_BREAKER_THRESHOLD": "5",
            "WAVECOM_BREAKER_OPEN_SECONDS": "5",
            "WAVECOM_MAX_RETRIES": "2",
            "WAVECOM_PROVIDER_TIMEOUT_MS": "1000",
        })
        start_stack(self, env=env)

    def sms_load(self, tag):
        return Load(self.stack, self.key, lambda n, i: {
            "type": "SMS", "recipient": "+14155550123", "message": f"{tag} {n}-{i}"},
            clients=2, pause=0.1)

    def breaker_refusals(self):
        """Attempts the breaker refused, from the audit trail (docs/ARCHITECTURE.md §3.2)."""
        return self.stack.db.notification_logs.count_documents(
            {"message": {"$regex": "circuit breaker open"}})

    def run_fault(self, label, fault, seconds):
        """Runs the load, applies `fault` to the Twilio double for `seconds`, restores it,
        reconciles, and checks that the breaker kept the provider from being called for
        every notification submitted meanwhile."""
        load = self.sms_load(label)
        self.addCleanup(load.stopping.set)
        load.start()
        load.wait_accepted(30)
        received_before = providers.stats()["twilio"]["received"]
        accepted_before = load.accepted_count()
        providers.configure("twilio", **fault)
        time.sleep(seconds)
        providers.configure("twilio")
        calls = providers.stats()["twilio"]["received"] - received_before
        submitted = load.accepted_count() - accepted_before
        load.wait_accepted(30)
        load.stop()
        result = reconcile(self, self.stack, load, deliveries=sms_deliveries, label=label)
        print(f"{label}: {submitted} notifications accepted during the fault, "
              f"{calls} provider calls", flush=True)
        self.assertGreater(self.breaker_refusals(), 0, "the breaker never opened")
        # Without the breaker every one of them would have been tried at least once.
        self.assertLess(calls, submitted, "the breaker did not hold calls back")
        self.assertGreater(len(result["sent"]), 0)
        return providers.stats()["twilio"]

    def test_provider_500_for_30_seconds_then_recovers(self):
        stats = self.run_fault("provider 500 for 30 s", {"down": True, "failure_kind": "500"},
                               OUTAGE_SECONDS)
        self.assertGreater(stats["failed_transient"], 0, "the double never failed a request")

    def test_provider_hangs_then_recovers(self):
        # Each held call ends at the 1 s provider timeout; none of them was accepted.
        self.run_fault("provider hangs", {"down": True, "failure_kind": "timeout"}, HANG_SECONDS)

if __name__ == "__main__":
    unittest.main()
