"""The probes of deploy/k8s and the health checks of docker-compose.yml and deploy/Dockerfile, asked of
the real API and worker: each answers as the manifests expect, and the API's readiness turns
false, while its liveness stays true, when its broker is out of reach.

The probes' paths come from the files; the ports are the ones this test gives the processes (the
manifests' own ports are checked against the configuration in tests/repository/test_deploy.py).
"""
import os
import re
import unittest
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import yaml

from harness import API_BIN, Stack, free_port, tcp_answers, wait_until

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def manifest_probes():
    """{(deployment, probe kind): probe} for the API and the worker."""
    probes = {}
    for name in ("api", "worker"):
        with open(os.path.join(ROOT, "deploy", "k8s", f"{name}.yaml"), encoding="utf-8") as f:
            deployment = next(d for d in yaml.safe_load_all(f) if d and d["kind"] == "Deployment")
        [c] = deployment["spec"]["template"]["spec"]["containers"]
        for kind in ("readinessProbe", "livenessProbe"):
            probes[(name, kind)] = c[kind]
    return probes


def compose_health_paths():
    """{service: the path its health check asks} for the API and the worker, and the Dockerfile's."""
    with open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8") as f:
        services = yaml.safe_load(f)["services"]
    paths = {}
    for name in ("api", "worker"):
        [url] = [w for w in services[name]["healthcheck"]["test"] if w.startswith("http")]
        paths[name] = urlsplit(url).path
    with open(os.path.join(ROOT, "deploy", "Dockerfile"), encoding="utf-8") as f:
        paths["image"] = urlsplit(re.search(r"HEALTHCHECK.*?(http://\S+)", f.read(), re.S).group(1)).path
    return paths


def http_status(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


class ProbesTest(unittest.TestCase):
    def start(self, env=None):
        stack = Stack(workers=1, env=env)
        self.addCleanup(stack.close)
        return stack

    def ports(self, stack):
        return {"api": stack.port, "worker": int(stack.env["WAVECOM_WORKER_METRICS_PORT"])}

    def ask(self, port, probe):
        """True when the kubelet would count the probe as a success."""
        if "httpGet" in probe:
            return 200 <= http_status(port, probe["httpGet"]["path"]) < 400
        return tcp_answers(port)

    def test_every_probe_and_health_check_passes_on_a_healthy_stack(self):
        stack = self.start()
        stack.start_api()
        worker = stack.start_worker()
        ports = self.ports(stack)
        probes = manifest_probes()
        # The worker master serves its endpoint once it has forked its children.
        wait_until(lambda: worker.poll() is not None or tcp_answers(ports["worker"]), 60,
                   what="the worker's metrics port")
        self.assertIsNone(worker.poll(), stack.log("worker"))
        for (name, kind), probe in sorted(probes.items()):
            with self.subTest(probe=f"{name} {kind}"):
                self.assertTrue(self.ask(ports[name], probe), f"{name} {kind} {probe} fails")
        paths = compose_health_paths()
        for name, path in paths.items():
            with self.subTest(health_check=name):
                port = ports["worker" if name == "worker" else "api"]
                self.assertEqual(http_status(port, path), 200, f"{name}: GET {path}")
        # A path nobody serves is refused, so the answers above are not a catch-all.
        self.assertEqual(http_status(ports["worker"], "/healthz"), 404)
        self.assertEqual(http_status(ports["api"], "/api/healthz"), 404)

    def test_api_is_alive_but_not_ready_without_its_broker(self):
        # A real fault: nothing listens where the API is told RabbitMQ is.
        closed = free_port()
        stack = self.start(env={"WAVECOM_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{closed}/"})
        # Not stack.start_api(): it waits for a healthy /api/health, which is the point here.
        stack.api = stack._spawn(API_BIN, "api")
        probes = manifest_probes()
        wait_until(lambda: stack.api.poll() is not None or tcp_answers(stack.port), 60,
                   what="the API's port")
        self.assertIsNone(stack.api.poll(), stack.log("api"))
        self.assertFalse(self.ask(stack.port, probes[("api", "readinessProbe")]),
                         "the API is ready without RabbitMQ")
        self.assertEqual(http_status(stack.port, "/api/health"), 503)
        self.assertTrue(self.ask(stack.port, probes[("api", "livenessProbe")]),
                        "the liveness probe would restart an API that only lost its broker")


if __name__ == "__main__":
    unittest.main()
