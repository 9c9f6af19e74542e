"""The dashboard end to end in a real browser: Debian's Chromium driven by playwright-core
(dashboard.test.cjs) against a real API and worker pool on the local services.

This wrapper starts the stack (tests/integration/harness.py), makes an admin and a viewer key of
one tenant, runs the browser script, and checks in the database what the script did through the
pages. Screenshots of every page go to <build>/dashboard-screenshots/.
"""
import os
import shutil
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import providers  # noqa: E402
from harness import BUILD_DIR, Stack, close_cleanly, purge_queues, trail as trail_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# deploy/stack.sh install puts playwright-core (tests/browser/package-lock.json) here.
NODE_MODULES = os.environ.get("WAVECOM_BROWSER_NODE_MODULES",
                              os.path.join(REPO, ".wavecom", "browser", "node_modules"))
CHROMIUM = "/usr/bin/chromium"
SCRIPT_TIMEOUT_S = 420


class DashboardBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for need in (CHROMIUM, os.path.join(NODE_MODULES, "playwright-core")):
            if not os.path.exists(need):
                raise AssertionError(f"{need} is missing: run deploy/stack.sh install")
        purge_queues()
        env = providers.worker_env()
        # The statistics cache is kept short so the overview's counters move within the test.
        env.update({"WAVECOM_API_STATS_CACHE_SECONDS": "1"})
        cls.stack = Stack(workers=2, env=env)
        cls.stack.start_api()
        cls.stack.start_worker()

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def test_dashboard_in_chromium(self):
        tenant, admin_key = self.stack.new_tenant_key(role="admin")
        viewer_key = self.stack.ctl("apikey", "create", "--tenant", tenant, "--role", "viewer").stdout.strip()
        secret = self.stack.db.tenants.find_one({"_id": tenant})["webhookSecret"]
        shots = os.path.join(BUILD_DIR, "dashboard-screenshots")
        shutil.rmtree(shots, ignore_errors=True)
        os.makedirs(shots)
        run_id = uuid.uuid4().hex[:10]
        env = dict(os.environ)
        env.update({
            "NODE_PATH": NODE_MODULES,
            "DASHBOARD_URL": self.stack.url,
            "DASHBOARD_ADMIN_KEY": admin_key,
            "DASHBOARD_VIEWER_KEY": viewer_key,
            "DASHBOARD_WEBHOOK_URL": providers.WEBHOOK_URL,
            "DASHBOARD_WEBHOOK_SECRET": secret,
            "DASHBOARD_DOUBLES_CONTROL": providers.CONTROL,
            "DASHBOARD_SCREENSHOT_DIR": shots,
            "DASHBOARD_RUN_ID": run_id,
        })
        result = subprocess.run(["node", os.path.join(HERE, "dashboard.test.cjs")], env=env,
                                capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
        self.assertEqual(result.returncode, 0,
                         f"browser test failed:\n{result.stdout}\n{result.stderr}\n"
                         f"api log:\n{self.stack.log('api')}\nworker log:\n{self.stack.log('worker')}")

        # What the pages did, as the database has it: six notifications of the tenant SENT (one
        # per channel, the templated SMS, and the webhook the dashboard replayed from the DLQ),
        # a scheduled one cancelled, and one to a suppressed number SUPPRESSED.
        docs = list(self.stack.db.notifications.find({"tenantId": tenant, "endpointId": {"$exists": False}}))
        sent = [d for d in docs if d["status"] == "SENT"]
        self.assertEqual(sorted(d["type"] for d in sent),
                         ["EMAIL", "PUSH", "SMS", "SMS", "WEBHOOK", "WEBHOOK"])
        self.assertEqual(len([d for d in sent if "template" in d]), 1)
        cancelled = [d for d in docs if d["status"] == "CANCELLED"]
        self.assertEqual([(d["type"], "scheduledAt" in d) for d in cancelled], [("SMS", True)])
        suppressed = [d for d in docs if d["status"] == "SUPPRESSED"]
        self.assertEqual([(d["type"], d["recipient"], d["suppressionReason"]) for d in suppressed],
                         [("SMS", "+14155550199", "manual")])
        self.assertEqual(len(docs), 8)
        replayed = [d for d in sent if "replayedAt" in d]
        self.assertEqual(len(replayed), 1)
        logs = trail_of(self.stack.db, replayed[0])
        statuses = [e["status"] for e in logs]
        self.assertIn("FAILED", statuses)
        self.assertEqual(statuses[-1], "SENT")
        # Reopened (FAILED -> PENDING) by the signed-in admin key.
        self.assertTrue(any(e["status"] == "PENDING" and e["actor"].startswith("api:key:")
                            for e in logs), logs)

        # The Endpoints page: two endpoints registered (one through its form), the first
        # disabled and enabled again, rotated, and replayed twice (FAILED: none; ALL: its two
        # delivered events sent again as new deliveries); the second's one delivery to a receiver
        # that is gone replayed once, failing again.
        endpoints = {e["url"][len(providers.WEBHOOK_URL):]: e for e in self.stack.db.endpoints.find({"tenantId": tenant})}
        self.assertEqual(sorted(endpoints), [f"/dash-evt-{run_id}/hook", f"/gone/dash-{run_id}"])
        ok, gone = endpoints[f"/dash-evt-{run_id}/hook"], endpoints[f"/gone/dash-{run_id}"]
        self.assertTrue(ok["enabled"])
        self.assertEqual(ok["rateLimit"], 20)
        delivered = list(self.stack.db.notifications.find({"tenantId": tenant, "endpointId": str(ok["_id"])}))
        self.assertEqual(sorted(d["eventId"] for d in delivered),
                         [f"dash-{run_id}-1", f"dash-{run_id}-1", f"dash-{run_id}-3", f"dash-{run_id}-3"])
        self.assertEqual({d["status"] for d in delivered}, {"SENT"})
        failed = list(self.stack.db.notifications.find({"tenantId": tenant, "endpointId": str(gone["_id"])}))
        self.assertEqual([(d["eventId"], d["status"]) for d in failed], [(f"dash-{run_id}-4", "FAILED")])
        self.assertEqual(self.stack.db.audit.count_documents({"action": "endpoint.replay", "target": str(ok["_id"])}), 2)
        self.assertEqual(self.stack.db.audit.count_documents({"action": "endpoint.replay", "target": str(gone["_id"])}), 1)

        for name in ("01-sign-in", "02-overview-empty", "04-detail-email-sent", "06-dlq",
                     "09-overview-after", "10-notifications-filtered", "11-phone-overview",
                     "16-endpoints-created", "17-endpoint-healthy", "18-event", "19-endpoint-rotated",
                     "20-endpoint-replayed", "21-endpoint-failing", "24-phone-event"):
            self.assertGreater(os.path.getsize(os.path.join(shots, name + ".png")), 1000, name)


if __name__ == "__main__":
    unittest.main()
