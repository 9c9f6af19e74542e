"""Every loadtest/ scenario runs from this checkout, small, and reconciles.

The scripts run exactly as documented, on the sanitized test build (WAVECOM_LOADTEST_PREBUILT=1)
and with their results written to a scratch directory, never to loadtest/results. Their figures
are not checked (a sanitized build on a busy CI machine measures nothing); what is checked is that
each scenario completes, writes its JSON and Markdown, and accounts for every notification it got
a 201 for. loadtest/report.py then builds a report from those results. loadtest/profile.sh is
left out: perf needs privileges a CI machine may not grant.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ["WAVECOM_BUILD_DIR"]


class LoadtestScenariosTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.results = tempfile.mkdtemp(prefix="wavecom-loadtest-")
        cls.env = dict(os.environ)
        cls.env.update({
            "WAVECOM_LOADTEST_PREBUILT": "1",
            "WAVECOM_BENCH_BUILD_DIR": BUILD_DIR,
            "WAVECOM_PERF_BUILD_DIR": BUILD_DIR,
            # The sanitized services report leaks at exit; the scripts stop them with SIGTERM
            # and judge them by their work, not their exit code.
            "ASAN_OPTIONS": "detect_leaks=0",
        })

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.results, ignore_errors=True)

    def run_scenario(self, *argv, timeout=420):
        result = subprocess.run(list(argv), cwd=ROOT, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        tail = (result.stdout + result.stderr)[-4000:]
        self.assertEqual(result.returncode, 0, f"{' '.join(argv)} failed:\n{tail}")
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        self.assertTrue(lines, f"{argv[0]} printed no summary line:\n{tail}")
        print(f"{argv[0]}: {lines[-1]}", flush=True)
        return lines[-1]

    def result(self, name):
        with open(os.path.join(self.results, f"{name}.json")) as f:
            data = json.load(f)
        self.assertTrue(os.path.getsize(os.path.join(self.results, f"{name}.md")) > 0)
        return data

    def test_1_intake_single_paced_and_batch(self):
        self.run_scenario("loadtest/intake.sh", "--duration", "3", "--connections", "4",
                          "--batch-duration", "3", "--results", self.results)
        r = self.result("intake")
        self.assertEqual(r["lost"], 0)
        for run in r["single"] + [r["paced"]]:
            self.assertGreater(run["created_201"], 0, run)
            self.assertEqual(run["stored"], run["ids_recorded"], run)
            self.assertEqual(run["ids_recorded"], run["created_201"], run)
            self.assertEqual(run["still_pending"], 0, run)
        self.assertGreater(r["batch"]["accepted"], 0)
        self.assertEqual(r["batch"]["stored"], r["batch"]["accepted"])

    def test_2_e2e_reconciles_every_id(self):
        line = self.run_scenario("loadtest/e2e.sh", "--count", "300", "--private-doubles",
                                 "--drop-db", "--results", self.results)
        self.assertIn("lost 0", line)
        r = self.result("e2e")
        rec = r["reconciliation"]
        self.assertEqual(rec["accepted"], 300)
        self.assertEqual(rec["sent"] + rec["failed"], 300)
        self.assertEqual(rec["lost"], 0)
        self.assertEqual(rec["duplicates"], 0)
        self.assertTrue(all(p.get("idle_rss_kb") for p in r["rss"]["processes"]), r["rss"])

    def test_2b_hosts_and_nodes_reconcile_in_each_configuration(self):
        line = self.run_scenario("loadtest/hosts_and_nodes.sh", "--count", "150",
                                 "--results", self.results)
        self.assertIn("base", line)
        r = self.result("hosts_and_nodes")
        self.assertEqual(set(r["configurations"]), {"base", "two-hosts", "cluster"})
        for name, c in r["configurations"].items():
            self.assertEqual((c["accepted"], c["lost"], c["duplicates"]), (150, 0, 0), name)
        self.assertEqual(r["configurations"]["two-hosts"]["worker_hosts"], "2")
        self.assertEqual(r["configurations"]["cluster"]["rabbitmq_nodes"], "3")

    def test_3_priority_critical_behind_low(self):
        self.run_scenario("loadtest/priority.sh", "--low", "400", "--critical", "20", "--lead", "2",
                          "--drop-db", "--results", self.results)
        r = self.result("priority")
        self.assertEqual(r["reconciliation"]["lost"], 0)
        self.assertEqual(r["critical"]["sent"], 20)
        self.assertEqual(r["reconciliation"]["accepted"], 420)

    def test_4_overload_accepts_nothing_it_loses(self):
        self.run_scenario("loadtest/overload.sh", "--capacity", "20", "--duration", "5",
                          "--results", self.results)
        r = self.result("overload")
        self.assertEqual(r["reconciliation"]["lost"], 0)
        self.assertTrue(r["reconciliation"]["accepted_equals_sent_plus_failed"])
        self.assertEqual(r["offered"], sum(r["answers_by_code"].values()))

    def test_5_memory_idle_and_under_load(self):
        self.run_scenario("loadtest/memory.sh", "--count", "100", "--results", self.results)
        r = self.result("memory")
        roles = {p["role"] for p in r["processes"]}
        self.assertEqual(roles, {"api", "worker-master", "worker-child"})
        for p in r["processes"]:
            self.assertGreater(p["idle_mb"], 0, p)
            self.assertGreaterEqual(p["peak_mb"], p["end_mb"], p)

    def test_5b_hostile_endpoint_among_twenty(self):
        self.run_scenario("loadtest/hostile.sh", "--events", "20", "--kinds", "redirect",
                          "--run-timeout", "120", "--results", self.results)
        r = self.result("hostile")
        self.assertTrue(r["reconciled"], r)
        self.assertEqual([run["kind"] for run in r["runs"]], ["none", "redirect"])
        for run in r["runs"]:
            healthy = run["healthy"]
            self.assertEqual(healthy["received_once"], healthy["expected"], run)
            self.assertEqual(healthy["received_twice_or_more"], 0, run)
            self.assertEqual(run["non_loopback_connections"], 0, run)
        # The redirect is an answer, never followed: nothing of it was delivered.
        self.assertNotIn("SENT", r["runs"][1]["last_endpoint"]["status"], r["runs"][1])

    def test_5c_sms_failover_under_an_outage(self):
        self.run_scenario("loadtest/failover.sh", "--count", "200", "--rate", "40",
                          "--outage-start", "1", "--outage", "3", "--modes", "failover",
                          "--run-timeout", "120", "--results", self.results)
        r = self.result("failover")
        self.assertTrue(r["reconciled"], r)
        self.assertTrue(r["failover_all_sent"], r)
        run = r["runs"][0]
        self.assertEqual(run["status"], {"SENT": run["accepted"]}, run["status"])
        self.assertEqual(run["reconciliation"]["lost"], 0)
        self.assertEqual(run["reconciliation"]["duplicates"], 0)

    def test_6_infrastructure_ceilings(self):
        self.run_scenario("loadtest/rabbitmq_ceiling.sh", "--duration", "3", "--results",
                          self.results, timeout=600)
        self.assertGreater(self.result("rabbitmq_ceiling")["published_per_s"], 0)
        self.run_scenario("/usr/bin/python3", "loadtest/db_write_cost.py", "--docs", "400",
                          "--threads", "2", "--writes", "100", "--results", self.results)
        db = self.result("db_ceiling")
        self.assertGreater(db["find_and_modify_per_s"], 0)
        self.assertGreater(db["ceiling_notifications_per_s"], 0)

    def test_7_report_from_the_results(self):
        out = os.path.join(self.results, "RESULTS.md")
        self.run_scenario("/usr/bin/python3", "loadtest/report.py", "--results", self.results,
                          "--out", out)
        with open(out) as f:
            text = f.read()
        self.assertIn("## Against the WaveCom specification's plan and our goals", text)
        # Every scenario above is in it; the perf profile (loadtest/profile.sh) and the reads at
        # scale (loadtest/reads.sh, a fill of a million) are not run here.
        missing = [line for line in text.splitlines() if line.startswith("Not measured yet")]
        self.assertEqual(missing, ["Not measured yet: `loadtest/profile.sh`.",
                                   "Not measured yet: `loadtest/reads.sh`."], missing)


if __name__ == "__main__":
    unittest.main()
