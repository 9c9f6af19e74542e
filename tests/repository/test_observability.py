"""The dashboard, the alert rules and the scrape configuration in deploy/ load, and name only
series that the code exports."""
import glob
import json
import os
import re
import shutil
import subprocess
import unittest

import yaml

PROMTOOL = os.environ.get("WAVECOM_TEST_PROMTOOL") or shutil.which("promtool")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROMETHEUS = os.path.join(ROOT, "deploy", "prometheus")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "wavecom-dashboard.json")
# Words in PromQL that look like series names but are functions, keywords or label names.
NOT_SERIES = {"sum", "max", "min", "rate", "increase", "histogram_quantile", "by", "and", "or",
              "le", "job", "queue", "type", "tier", "provider", "outcome", "route", "status",
              "method", "instance", "humanizePercentage", "value", "labels", "without"}


def exported_series():
    """Every quoted series name in the C sources of the API and the worker."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "api", "*.c")) + glob.glob(os.path.join(ROOT, "worker", "*.c")):
        with open(path, encoding="utf-8") as f:
            names.update(re.findall(r'"([a-z][a-z_]+?)(?:\{|\s|_bucket|_sum|_count|")', f.read()))
    return names


def series_in(expr):
    expr = re.sub(r'"[^"]*"', '""', expr)      # label values
    expr = re.sub(r"\[[^\]]*\]", "", expr)      # range selectors
    words = re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", expr)
    return {re.sub(r"_(bucket|sum|count)$", "", w) for w in words} - NOT_SERIES


class ObservabilityFilesTest(unittest.TestCase):
    def setUp(self):
        self.exported = exported_series()

    def assert_known(self, expr, where):
        for name in series_in(expr):
            self.assertIn(name, self.exported, f"{where}: {name} is not exported by the code")

    def test_alert_rules_cover_the_specification_thresholds(self):
        with open(os.path.join(PROMETHEUS, "alerts.yml"), encoding="utf-8") as f:
            rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
        exprs = {r["alert"]: " ".join(r["expr"].split()) for r in rules}
        for name, expr in exprs.items():
            self.assert_known(expr, name)
        self.assertIn("> 10000", exprs["WaveComQueueDepthHigh"])
        self.assertIn('queue="notifications_dlq"', exprs["WaveComDeadLetterQueueHigh"])
        self.assertIn("> 100", exprs["WaveComDeadLetterQueueHigh"])
        self.assertIn("> 0.20", exprs["WaveComProviderFailureRateHigh"])
        self.assertIn("> 0.05", exprs["WaveComApiErrorRate"])
        self.assertIn("wavecom_db_pool_waits_total", exprs["WaveComDatabasePoolExhausted"])

    # deploy/stack.sh test installs promtool and names it in WAVECOM_TEST_PROMTOOL; only a run by
    # hand on a machine without it skips this.
    @unittest.skipIf(PROMTOOL is None, "promtool (Debian package prometheus) not installed")
    def test_promtool_accepts_the_rules_and_the_config(self):
        for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"],
                     ["test", "rules", "alerts_test.yml"]):
            result = subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_scrape_config_names_both_endpoints(self):
        with open(os.path.join(PROMETHEUS, "prometheus.yml"), encoding="utf-8") as f:
            config = yaml.safe_load(f)
        paths = {job["job_name"]: job["metrics_path"] for job in config["scrape_configs"]}
        self.assertEqual(paths, {"wavecom-api": "/api/metrics", "wavecom-worker": "/metrics"})
        self.assertEqual(config["rule_files"], ["alerts.yml"])

    def test_dashboard_loads_and_queries_exported_series(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dashboard = json.load(f)
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        ids = [p["id"] for p in dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        exprs = [t["expr"] for p in panels for t in p["targets"]]
        self.assertTrue(panels and all(p["targets"] for p in panels))
        for expr in exprs:
            self.assert_known(expr, expr)
        joined = " ".join(exprs)
        for series in ("notifications_sent_total", "notification_processing_duration_seconds_bucket",
                       "queue_depth", "circuit_breaker_state", "worker_child_restarts_total",
                       "http_request_duration_seconds_bucket"):
            self.assertIn(series, joined)


if __name__ == "__main__":
    unittest.main()
