"""Files that describe the code stay true to it."""
import json
import os
import re
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CTL = os.path.join(os.environ["WAVECOM_BUILD_DIR"], "ctl", "wavecomctl")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def ctl(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAVECOM_")}
    return subprocess.run([CTL, *args], env=env, check=True, capture_output=True, text=True).stdout


class RepositoryTest(unittest.TestCase):
    def test_readme_opens_with_exactly_the_two_commands(self):
        first_block = re.search(r"```sh\n(.*?)```", read("README.md"), re.S).group(1)
        commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
        self.assertEqual(commands, ["deploy/stack.sh up", "deploy/stack.sh test"])

    def test_ci_runs_the_readme_test_command(self):
        lines = [l.strip() for l in read(".ci/run").splitlines()
                 if l.strip() and not l.strip().startswith("#")]
        self.assertIn("deploy/stack.sh test", " ".join(lines))

    def test_documented_configuration_table_is_the_code_table(self):
        table = ctl("config-table").strip()
        self.assertIn(table, read("docs/CONFIGURATION.md"),
                      "docs/CONFIGURATION.md's table differs from `wavecomctl config-table`")

    def test_rabbitmq_definitions_match_the_declared_topology(self):
        declared = json.loads(ctl("topology"))
        on_file = json.loads(read("deploy/rabbitmq-definitions.json"))
        self.assertEqual(on_file, declared,
                         "regenerate with: build/ctl/wavecomctl topology > deploy/rabbitmq-definitions.json")


if __name__ == "__main__":
    unittest.main()
