"""The running API against an OpenAPI-driven fuzzer: schemathesis generates
requests from schemas/openapi.yaml for every operation (valid and invalid
bodies, query arguments, path ids, headers, with and without the key) and
checks each answer: no 5xx, a documented status, content type and headers,
and a body that validates against the documented schema. Bounded: a fixed
number of examples per operation from a fixed seed.

schemathesis lives in the venv `deploy/stack.sh install` makes
(.wavecom/venv-schemathesis); WAVECOM_TEST_SCHEMATHESIS names another one."""
import os
import re
import subprocess
import unittest

from api_support import started
from harness import Stack, close_cleanly, purge_queues

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMATHESIS = os.environ.get("WAVECOM_TEST_SCHEMATHESIS") or os.path.join(
    ROOT, ".wavecom", "venv-schemathesis", "bin", "schemathesis")
EXAMPLES = os.environ.get("WAVECOM_TEST_FUZZ_EXAMPLES", "50")


class ApiFuzzTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(SCHEMATHESIS, os.X_OK):
            raise AssertionError(f"{SCHEMATHESIS} is missing: run deploy/stack.sh install")
        # The API alone: no worker runs, so the host names the fuzzer puts in webhook recipients
        # are never resolved or reached.
        cls.stack = started(Stack(workers=0))
        # An admin key reaches every operation; the fuzzer also tries without it.
        cls.tenant, cls.key = cls.stack.new_tenant_key(role="admin")

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)
        # What it queued must not reach the worker of a later test.
        purge_queues()

    def test_no_server_error_and_no_schema_violation(self):
        result = subprocess.run(
            [SCHEMATHESIS, "run", os.path.join(ROOT, "schemas", "openapi.yaml"),
             "--base-url", self.stack.url, "-H", f"Authorization: Bearer {self.key}",
             "--checks", "all", "--experimental", "openapi-3.1",
             "--hypothesis-max-examples", EXAMPLES, "--hypothesis-seed", "8",
             "--hypothesis-suppress-health-check", "filter_too_much,too_slow,data_too_large",
             "--workers", "1", "--request-timeout", "30000", "--no-color"],
            capture_output=True, text=True, timeout=540, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
        out = result.stdout
        summary = out[out.find("Performed checks:"):] if "Performed checks:" in out else out[-4000:]
        print(summary)
        self.assertEqual(result.returncode, 0, out[-20000:] + result.stderr[-3000:])
        self.assertRegex(out, r"not_a_server_error\s+\d+ / \d+ passed")
        self.assertRegex(out, r"response_schema_conformance\s+\d+ / \d+ passed")
        self.assertNotIn("5xx", re.sub(r"not_a_server_error.*", "", out))
        # The API survived it all and still answers.
        self.assertEqual(self.stack.request("GET", "/api/health").status, 200)


if __name__ == "__main__":
    unittest.main()
