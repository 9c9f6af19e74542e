"""The deployment files (deploy/Dockerfile, docker-compose.yml, deploy/k8s) refer only to what exists:
variables the code reads, paths and ports it serves, queues it declares, files in the repository,
and they are built the way CI builds. No container engine or cluster is needed: the schemas are
checked by deploy/validate (Go, typed structs of Kubernetes and KEDA, compose-go)."""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from urllib.parse import urlsplit

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ["WAVECOM_BUILD_DIR"]
CTL = os.path.join(BUILD_DIR, "ctl", "wavecomctl")
K8S = os.path.join(ROOT, "deploy", "k8s")
COMPOSE_FILE = os.path.join(ROOT, "docker-compose.yml")
CLUSTER_COMPOSE_FILE = os.path.join(ROOT, "docker-compose.cluster.yml")
DOCKERFILE = os.path.join(ROOT, "deploy", "Dockerfile")
# deploy/stack.sh install builds it and deploy/stack.sh test names it here.
VALIDATE = os.environ.get("WAVECOM_TEST_DEPLOY_VALIDATE")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def clean_env(extra=None):
    """The environment without any WAVECOM_* of the caller's, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAVECOM_")}
    env.update(extra or {})
    return env


def ctl(*args, env=None):
    return subprocess.run([CTL, *args], env=clean_env(env), capture_output=True, text=True, timeout=30)


def code_variables():
    """Every variable of the configuration table, the one table the code reads its environment from."""
    out = ctl("config-table")
    assert out.returncode == 0, out.stderr
    return set(re.findall(r"`(WAVECOM_[A-Z0-9_]+)`", out.stdout))


def declared_topology():
    out = ctl("topology")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def load_compose():
    with open(COMPOSE_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_manifests():
    """(kustomization, [every document of every resource it lists])."""
    with open(os.path.join(K8S, "kustomization.yaml"), encoding="utf-8") as f:
        kustomization = yaml.safe_load(f)
    docs = []
    for resource in kustomization["resources"]:
        with open(os.path.join(K8S, resource), encoding="utf-8") as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return kustomization, docs


def find(docs, kind, name):
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def port_number(c, port):
    """A container port given by name or number, as a number."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in c["ports"] if p["name"] == port)


def k8s_environment(docs, deployment_name):
    """What the container's process would see: the ConfigMap's keys, then env (secret values are
    the placeholders of secret.yaml)."""
    c = container(find(docs, "Deployment", deployment_name))
    env = {}
    for source in c.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = find(docs, "Secret", ref["name"])["stringData"][ref["key"]]
    return env


def api_routes():
    """(method, path) of every route of the API's table."""
    return set(re.findall(r'\{"(GET|POST|PUT|DELETE|PATCH)", "(/[^"]*)"', read("api/router.c")))


def worker_paths():
    """The paths the worker master's metrics endpoint answers."""
    return set(re.findall(r'strcmp\(url, "(/[^"]*)"\) != 0', read("worker/metrics_server.c")))


def dockerfile_stages(text):
    """{stage name or index: [instruction lines, continuations joined]}."""
    text = re.sub(r"\\\n", " ", text)
    stages, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = m.group(2) or str(len(stages))
            stages[current] = [line]
        else:
            stages[current].append(line)
    return stages


class ConfigurationTest(unittest.TestCase):
    """Every WAVECOM_* variable set anywhere is one the code reads, with a value it accepts."""

    @classmethod
    def setUpClass(cls):
        cls.variables = code_variables()
        cls.compose = load_compose()
        cls.kustomization, cls.docs = load_manifests()

    def test_the_table_is_what_the_sources_read(self):
        # The table is the code's only reader of the environment (CONVENTIONS: configuration as a
        # table); a getenv of a WAVECOM_* name elsewhere would escape these checks.
        in_sources = set()
        for path in glob.glob(os.path.join(ROOT, "*", "**", "*.c"), recursive=True):
            if "/build" in path or "/tests/" in path:
                continue
            with open(path, encoding="utf-8") as f:
                in_sources.update(re.findall(r'"(WAVECOM_[A-Z0-9_]+)"', f.read()))
        self.assertGreater(len(self.variables), 20)
        self.assertEqual(in_sources - self.variables, set())

    def assert_known(self, names, where):
        unknown = {n for n in names if n.startswith("WAVECOM_")} - self.variables
        self.assertEqual(unknown, set(), f"{where} sets variables the code does not read")

    def test_compose_sets_only_variables_the_code_reads(self):
        for name, service in self.compose["services"].items():
            self.assert_known(service.get("environment", {}), f"docker-compose.yml service {name}")

    def test_dockerfile_sets_only_variables_the_code_reads(self):
        self.assert_known(re.findall(r"^ENV\s+(WAVECOM_[A-Z0-9_]+)", read("deploy/Dockerfile"), re.M),
                          "deploy/Dockerfile")

    def test_manifests_set_only_variables_the_code_reads(self):
        for doc in self.docs:
            if doc["kind"] == "ConfigMap":
                self.assert_known(doc["data"], f"ConfigMap {doc['metadata']['name']}")
            if doc["kind"] == "Deployment":
                c = container(doc)
                self.assert_known([e["name"] for e in c.get("env", [])],
                                  f"Deployment {doc['metadata']['name']}")

    def test_every_file_variable_points_into_a_mounted_secret(self):
        # The code reads these settings as file paths; on Kubernetes the files come from a Secret.
        file_vars = {v for v in self.variables if v.endswith("_FILE")}
        self.assertIn("WAVECOM_FCM_SERVICE_ACCOUNT_FILE", file_vars)
        worker = find(self.docs, "Deployment", "wavecom-worker")
        env = k8s_environment(self.docs, "wavecom-worker")
        mounts = {m["name"]: m["mountPath"] for m in container(worker)["volumeMounts"]}
        volumes = {v["name"]: v for v in worker["spec"]["template"]["spec"]["volumes"]}
        for var in sorted(file_vars & env.keys()):
            path = env[var]
            mount = next((n for n, p in mounts.items() if path.startswith(p.rstrip("/") + "/")), None)
            self.assertIsNotNone(mount, f"{var}={path} is in no volume the worker mounts")
            secret = find(self.docs, "Secret", volumes[mount]["secret"]["secretName"])
            self.assertIn(os.path.basename(path), secret["stringData"], f"{var}: no such key")

    def run_config_check(self, env, where):
        # `wavecomctl topology` loads and validates the whole configuration with the code's own
        # validators (types, ranges, choices, URL schemes) before it prints anything.
        out = ctl("topology", env={k: str(v) for k, v in env.items()})
        self.assertEqual(out.returncode, 0, f"{where}: the code rejects this configuration: {out.stderr}")
        return json.loads(out.stdout)

    def test_the_code_accepts_every_configuration(self):
        for name in ("api", "worker"):
            self.run_config_check(self.compose["services"][name]["environment"], f"compose {name}")
        # docker-compose.cluster.yml extends these services, its variables over theirs.
        with open(CLUSTER_COMPOSE_FILE, encoding="utf-8") as f:
            cluster = yaml.safe_load(f)
        for name in ("api", "worker"):
            env = dict(self.compose["services"][name]["environment"],
                       **cluster["services"][name]["environment"])
            self.assert_known(env, f"docker-compose.cluster.yml service {name}")
            self.run_config_check(env, f"cluster compose {name}")
            self.run_config_check(k8s_environment(self.docs, f"wavecom-{name}"), f"k8s wavecom-{name}")

    def test_the_code_refuses_a_bad_value(self):
        # The check above can fail: an out-of-range value is refused, naming the variable.
        env = dict(k8s_environment(self.docs, "wavecom-worker"), WAVECOM_WORKER_PROCESSES="9999")
        out = ctl("topology", env=env)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("WAVECOM_WORKER_PROCESSES", out.stderr)


class HealthAndPortsTest(unittest.TestCase):
    """Probes and health checks ask paths the code serves, on the ports it listens on."""

    @classmethod
    def setUpClass(cls):
        cls.compose = load_compose()
        cls.kustomization, cls.docs = load_manifests()
        cls.routes = api_routes()
        cls.worker_paths = worker_paths()

    def test_the_route_table_was_read(self):
        self.assertIn(("GET", "/api/health"), self.routes)
        self.assertEqual(self.worker_paths, {"/metrics"})

    def assert_served(self, url, api_port, worker_port, where):
        parts = urlsplit(url)
        if parts.port == api_port:
            self.assertIn(("GET", parts.path), self.routes, f"{where}: the API serves no GET {parts.path}")
        elif parts.port == worker_port:
            self.assertIn(parts.path, self.worker_paths, f"{where}: the worker serves no {parts.path}")
        else:
            self.fail(f"{where}: port {parts.port} is neither the API's ({api_port}) nor the worker's ({worker_port})")

    def test_kubernetes_probes(self):
        for name in ("wavecom-api", "wavecom-worker"):
            env = k8s_environment(self.docs, name)
            api_port, worker_port = int(env["WAVECOM_API_PORT"]), int(env["WAVECOM_WORKER_METRICS_PORT"])
            c = container(find(self.docs, "Deployment", name))
            self.assertEqual(env.get("WAVECOM_WORKER_METRICS_HOST" if name.endswith("worker") else
                                     "WAVECOM_API_HOST"), "0.0.0.0",
                             f"{name}: the probes come from the node, not from loopback")
            for kind in ("readinessProbe", "livenessProbe"):
                probe = c[kind]
                if "httpGet" in probe:
                    port = port_number(c, probe["httpGet"]["port"])
                    self.assert_served(f"http://x:{port}{probe['httpGet']['path']}", api_port, worker_port,
                                       f"{name} {kind}")
                else:
                    port = port_number(c, probe["tcpSocket"]["port"])
                    self.assertIn(port, (api_port, worker_port), f"{name} {kind}")
            # The readiness of the API is its health check, which looks at MongoDB and RabbitMQ.
            if name == "wavecom-api":
                self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/api/health")
                self.assertEqual(port_number(c, "http"), api_port)
            else:
                self.assertEqual(port_number(c, "metrics"), worker_port)

    def test_compose_health_checks_and_dockerfile(self):
        for name in ("api", "worker"):
            service = self.compose["services"][name]
            env = service["environment"]
            api_port = int(env.get("WAVECOM_API_PORT", 5000))
            worker_port = int(env.get("WAVECOM_WORKER_METRICS_PORT", 9101))
            urls = [w for w in service["healthcheck"]["test"] if w.startswith("http")]
            self.assertEqual(len(urls), 1, name)
            self.assert_served(urls[0], api_port, worker_port, f"compose {name}")
        url = re.search(r"HEALTHCHECK[^\n]*\n?.*?(http://\S+)", read("deploy/Dockerfile"), re.S).group(1)
        self.assert_served(url, 5000, 9101, "deploy/Dockerfile HEALTHCHECK")

    def test_prometheus_and_nginx_targets_exist_in_compose(self):
        services = self.compose["services"]
        aliases = {name: {name, *((s.get("networks") or {}).get("default") or {}).get("aliases", [])}
                   for name, s in services.items()}
        prometheus = yaml.safe_load(read("deploy/prometheus/prometheus.yml"))
        targets = [t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
        nginx = re.findall(r"^\s*server\s+(\S+):(\d+)", read("deploy/nginx/wavecom-api.conf"), re.M)
        self.assertEqual(nginx, [("api", "5000")])
        for host, port in [t.split(":") for t in targets] + nginx:
            owner = next((n for n, a in aliases.items() if host in a), None)
            self.assertIsNotNone(owner, f"{host}: no service or alias of that name")
            # The worker lives in the network namespace of the service it names in network_mode.
            runs_there = [n for n, s in services.items()
                          if n == owner or s.get("network_mode") == f"service:{owner}"]
            ports = {int(services[n].get("environment", {}).get(var, default))
                     for n in runs_there if n in ("api", "worker")
                     for var, default in (("WAVECOM_API_PORT", 5000),
                                          ("WAVECOM_WORKER_METRICS_PORT", 9101))
                     if (var == "WAVECOM_API_PORT") == (n == "api")}
            self.assertIn(int(port), ports, f"{host}:{port} is not where the API or the worker listens")

    def test_worker_termination_grace_covers_its_drain(self):
        worker = find(self.docs, "Deployment", "wavecom-worker")
        drain = int(k8s_environment(self.docs, "wavecom-worker")["WAVECOM_DRAIN_GRACE_SECONDS"])
        grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        # The master kills its children at the drain deadline and then exits; five seconds is its
        # margin before the kubelet's SIGKILL. Much more would only delay rollouts.
        self.assertEqual(grace, drain + 5)
        compose = self.compose["services"]["worker"]
        self.assertEqual(int(compose["stop_grace_period"].rstrip("s")),
                         int(compose["environment"]["WAVECOM_DRAIN_GRACE_SECONDS"]) + 5)


    def test_systemd_units_restart_drain_and_set_only_known_variables(self):
        # Where there is no Kubernetes, systemd supervises (deploy/systemd, docs/OPERATIONS.md).
        example = read("deploy/systemd/wavecom.env.example")
        env = dict(line.split("=", 1) for line in example.splitlines()
                   if line and not line.startswith("#"))
        unknown = {n for n in env if n.startswith("WAVECOM_")} - code_variables()
        self.assertEqual(unknown, set(), "wavecom.env.example sets variables the code does not read")
        drain = int(env["WAVECOM_DRAIN_GRACE_SECONDS"])
        for unit, binary in (("wavecom-api.service", "wavecom-api"),
                             ("wavecom-worker.service", "wavecom-worker")):
            keys = {}
            for line in read(f"deploy/systemd/{unit}").splitlines():
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    keys.setdefault(k, []).append(v)
            self.assertEqual(keys["Restart"], ["always"], unit)
            self.assertEqual(keys["KillSignal"], ["SIGTERM"], unit)
            self.assertEqual(keys["RestartPreventExitStatus"], ["2"], unit)  # a bad configuration
            self.assertEqual(keys["NoNewPrivileges"], ["true"], unit)
            self.assertIn("LimitNOFILE", keys, unit)
            self.assertEqual(keys["ExecStart"], [f"/usr/local/bin/{binary}"], unit)
            self.assertTrue(all(f.lstrip("-").startswith("/etc/wavecom/")
                                for f in keys["EnvironmentFile"]), unit)
            if binary == "wavecom-worker":
                # systemd's SIGKILL comes after the master's own drain deadline.
                self.assertGreater(int(keys["TimeoutStopSec"][0]), drain, unit)


class QueuesTest(unittest.TestCase):
    """KEDA scales on queues the code declares; the broker is given the same topology."""

    @classmethod
    def setUpClass(cls):
        cls.topology = declared_topology()
        cls.kustomization, cls.docs = load_manifests()

    def test_keda_scales_on_the_high_and_standard_queues(self):
        declared = {q["name"] for q in self.topology["queues"]}
        header = read("shared/broker/wc_topology.h")
        high = re.search(r'#define WC_QUEUE_HIGH "([^"]+)"', header).group(1)
        standard = re.search(r'#define WC_QUEUE_STANDARD "([^"]+)"', header).group(1)
        # The retry tiers: the queues whose messages come back after a delay. The pacing queue
        # also delays, but what waits there is held back by its endpoint's rate limit, which
        # more pods would not send sooner.
        delayed = [q["name"] for q in self.topology["queues"] if "x-message-ttl" in q["arguments"]]
        self.assertEqual(len(delayed), 4, self.topology["queues"])
        tiers = [name for name in delayed if name != "pace.1s"]
        self.assertEqual(len(tiers), 3, delayed)
        scaled = find(self.docs, "ScaledObject", "wavecom-worker")
        self.assertEqual(scaled["spec"]["scaleTargetRef"]["name"], "wavecom-worker")
        queues = [t["metadata"]["queueName"] for t in scaled["spec"]["triggers"]]
        for q in queues:
            self.assertIn(q, declared, f"KEDA trigger on {q}, a queue the code does not declare")
        self.assertEqual(sorted(queues), sorted([high, standard, *tiers]))

    def test_the_cluster_is_given_the_declared_topology(self):
        # What the programs declare with the ConfigMap's settings, byte for byte what the Job
        # imports and what the cluster's definitions file holds.
        config = find(self.docs, "ConfigMap", "wavecom-config")["data"]
        out = ctl("topology", env=config)
        self.assertEqual(out.returncode, 0, out.stderr)
        on_file = read("deploy/rabbitmq-definitions-cluster.json")
        self.assertEqual(out.stdout, on_file, "regenerate with: WAVECOM_QUORUM_GROUP_SIZE=3 "
                         "wavecomctl topology > deploy/rabbitmq-definitions-cluster.json")
        definitions = find(self.docs, "ConfigMap", "wavecom-rabbitmq-definitions")
        self.assertEqual(definitions["data"]["definitions.json"], on_file,
                         "copy deploy/rabbitmq-definitions-cluster.json into rabbitmq-definitions.yaml")
        job = find(self.docs, "Job", "wavecom-rabbitmq-definitions")
        volumes = job["spec"]["template"]["spec"]["volumes"]
        self.assertEqual([v["configMap"]["name"] for v in volumes], ["wavecom-rabbitmq-definitions"])
        cluster = find(self.docs, "RabbitmqCluster", "wavecom-rabbitmq")
        self.assertIn(f"http://{cluster['metadata']['name']}:15672/api/definitions",
                      " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"]))

    def test_keda_reads_the_broker_the_programs_use(self):
        auth = find(self.docs, "TriggerAuthentication", "wavecom-rabbitmq")
        [ref] = auth["spec"]["secretTargetRef"]
        worker = container(find(self.docs, "Deployment", "wavecom-worker"))
        amqp = next(e for e in worker["env"] if e["name"] == "WAVECOM_AMQP_URL")["valueFrom"]["secretKeyRef"]
        self.assertEqual((ref["parameter"], ref["name"], ref["key"]), ("host", amqp["name"], amqp["key"]))

    def test_compose_imports_the_definitions_file_into_the_vhost_the_programs_use(self):
        compose = load_compose()
        importer = compose["services"]["rabbitmq-definitions"]
        self.assertIn("./deploy/rabbitmq-definitions.json:/definitions.json:ro", importer["volumes"])
        on_file = json.loads(read("deploy/rabbitmq-definitions.json"))
        self.assertEqual(on_file, self.topology, "regenerate with: wavecomctl topology")
        vhosts = {q["vhost"] for q in on_file["queues"]}
        for name in ("api", "worker"):
            url = urlsplit(compose["services"][name]["environment"]["WAVECOM_AMQP_URL"])
            self.assertEqual({url.path or "/"}, vhosts, name)
            self.assertEqual(compose["services"][name]["environment"]["WAVECOM_QUEUE_TYPE"],
                             on_file["queues"][0]["arguments"]["x-queue-type"])


class CapacityGuideTest(unittest.TestCase):
    """The capacity guide (docs/OPERATIONS.md) quotes measured figures, and KEDA's targets follow
    from it."""

    def test_figures_are_the_measured_ones(self):
        guide = read("docs/OPERATIONS.md").split("### Capacity guide", 1)[1].split("\n## ", 1)[0]
        rows = re.findall(r"^\| [^|]*`(loadtest/results/[a-z0-9_]+\.md)` \| \**([0-9.]+/s)", guide, re.M)
        self.assertEqual(len(rows), 3, guide)
        for path, figure in rows:
            number = figure[:-2]
            self.assertRegex(read(path), rf"(?<![\d.]){re.escape(number)}(?![\d])",
                             f"{figure} is not in {path}")
        planned = int(re.search(r"\*\*(\d+)/s per worker pod", guide).group(1))
        self.assertLessEqual(planned, min(float(f[:-2]) for _, f in rows))
        _, docs = load_manifests()
        triggers = {t["metadata"]["queueName"]: int(t["metadata"]["value"])
                    for t in find(docs, "ScaledObject", "wavecom-worker")["spec"]["triggers"]}
        # About ten seconds of one pod's work for the standard queue and each retry tier, one for
        # the high one.
        self.assertEqual(triggers, {"notifications": 10 * planned, "high_priority": planned,
                                    **{q: 10 * planned for q in triggers if q.startswith("retry.")}})
        self.assertEqual(len(triggers), 5)


class ClusterManifestsTest(unittest.TestCase):
    """RabbitMQ and MongoDB as three replicas each, spread over hosts, drained one at a time, and
    the programs configured for them (docs/OPERATIONS.md, "A RabbitMQ cluster")."""

    @classmethod
    def setUpClass(cls):
        _, cls.docs = load_manifests()

    def pdb_of(self, labels):
        matches = [d for d in self.docs if d["kind"] == "PodDisruptionBudget" and
                   d["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        self.assertEqual(len(matches), 1, labels)
        return matches[0]["spec"]

    def test_three_rabbitmq_nodes_on_three_hosts(self):
        cluster = find(self.docs, "RabbitmqCluster", "wavecom-rabbitmq")
        self.assertEqual(cluster["spec"]["replicas"], 3)
        [term] = cluster["spec"]["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]
        pods = {"app.kubernetes.io/name": "wavecom-rabbitmq"}
        self.assertEqual((term["labelSelector"]["matchLabels"], term["topologyKey"]),
                         (pods, "kubernetes.io/hostname"))
        self.assertEqual(self.pdb_of(pods), {"maxUnavailable": 1, "selector": {"matchLabels": pods}})
        # One replica of each quorum queue per node.
        config = find(self.docs, "ConfigMap", "wavecom-config")["data"]
        self.assertEqual(int(config["WAVECOM_QUORUM_GROUP_SIZE"]), cluster["spec"]["replicas"])
        amqp = urlsplit(find(self.docs, "Secret", "wavecom-secrets")["stringData"]["amqp-url"])
        self.assertEqual(amqp.hostname, cluster["metadata"]["name"])  # the operator's Service

    def test_a_three_member_mongodb_replica_set_on_three_hosts(self):
        mongodb = find(self.docs, "MongoDBCommunity", "wavecom-mongodb")
        self.assertEqual((mongodb["spec"]["members"], mongodb["spec"]["type"]), (3, "ReplicaSet"))
        pods = {"app": "wavecom-mongodb-svc"}
        pod = mongodb["spec"]["statefulSet"]["spec"]["template"]["spec"]
        [term] = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        self.assertEqual((term["labelSelector"]["matchLabels"], term["topologyKey"]),
                         (pods, "kubernetes.io/hostname"))
        self.assertEqual(self.pdb_of(pods), {"maxUnavailable": 1, "selector": {"matchLabels": pods}})
        # The programs' URI names every member, the set (the resource's name) and w=majority.
        uri = find(self.docs, "Secret", "wavecom-secrets")["stringData"]["mongodb-uri"]
        hosts = urlsplit(uri).netloc.split("@", 1)[1].split(",")
        self.assertEqual(hosts, [f"wavecom-mongodb-{i}.wavecom-mongodb-svc:27017" for i in range(3)])
        self.assertIn("replicaSet=wavecom-mongodb", uri)
        self.assertIn("w=majority", uri)
        [user] = mongodb["spec"]["users"]
        self.assertEqual(urlsplit(uri).username, user["name"])

    def test_api_and_worker_spread_over_hosts(self):
        for name in ("wavecom-api", "wavecom-worker"):
            spec = find(self.docs, "Deployment", name)["spec"]["template"]["spec"]
            [term] = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            self.assertEqual(term["podAffinityTerm"]["labelSelector"]["matchLabels"],
                             {"app.kubernetes.io/name": name})
            self.pdb_of({"app.kubernetes.io/name": name})


class ClusterComposeTest(unittest.TestCase):
    """docker-compose.cluster.yml: three RabbitMQ nodes that cluster, three MongoDB members that
    form one set, and programs given all of them."""

    @classmethod
    def setUpClass(cls):
        with open(CLUSTER_COMPOSE_FILE, encoding="utf-8") as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]

    def names(self, prefix):
        return sorted(n for n in self.services if re.fullmatch(rf"{prefix}(-\d)?", n))

    def test_the_imported_topology_is_the_one_the_programs_declare(self):
        importer = self.services["rabbitmq-definitions"]
        self.assertEqual(importer["volumes"],
                         ["./deploy/rabbitmq-definitions-cluster.json:/definitions.json:ro"])
        env = dict(load_compose()["services"]["api"]["environment"],
                   **self.services["api"]["environment"])
        out = ctl("topology", env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, read("deploy/rabbitmq-definitions-cluster.json"))

    def test_every_node_is_a_peer_and_in_the_programs_url_list(self):
        nodes = self.names("rabbitmq")
        self.assertEqual(len(nodes), 3)
        peers = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)$",
                           read("deploy/rabbitmq/cluster.conf"), re.M)
        self.assertEqual(sorted(peers), sorted(self.services[n]["hostname"] for n in nodes))
        for name in ("api", "worker"):
            env = self.services[name]["environment"]
            hosts = [urlsplit(u).hostname for u in env["WAVECOM_AMQP_URL"].split(",")]
            self.assertEqual(sorted(hosts), nodes, name)
            self.assertEqual(int(env["WAVECOM_QUORUM_GROUP_SIZE"]), len(nodes))
        cookies = {self.services[n]["environment"]["RABBITMQ_ERLANG_COOKIE"] for n in nodes}
        self.assertEqual(len(cookies), 1, "the nodes of one cluster share one cookie")

    def test_the_files_it_mounts_exist(self):
        for name, service in self.services.items():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, source)), f"{name}: {source}")
                else:
                    self.assertIn(source, self.compose["volumes"], f"{name}: volume {source}")

    def test_every_member_is_initiated_and_in_the_programs_uri(self):
        members = self.names("mongodb")
        self.assertEqual(len(members), 3)
        initiate = " ".join(self.services["mongodb"]["healthcheck"]["test"])
        self.assertEqual(sorted(re.findall(r"host: '([a-z0-9-]+):27017'", initiate)), members)
        for name in ("api", "worker"):
            uri = urlsplit(self.services[name]["environment"]["WAVECOM_MONGODB_URI"])
            self.assertEqual(sorted(h.split(":")[0] for h in uri.netloc.split(",")), members)
            self.assertIn("w=majority", uri.query)
            self.assertIn("replicaSet=rs0", uri.query)


class FilesAndBuildTest(unittest.TestCase):
    """Every file a deployment file names exists; the image is built as CI builds."""

    def test_compose_references_existing_files(self):
        compose = load_compose()
        images = {}
        for name, service in compose["services"].items():
            build = service.get("build")
            if build:
                context = os.path.join(ROOT, build["context"])
                self.assertTrue(os.path.isdir(context), f"{name}: build context {build['context']}")
                self.assertTrue(os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))),
                                f"{name}: dockerfile")
                images.setdefault(service["image"], set()).add((build["context"], build.get("dockerfile")))
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, source)), f"{name}: {source}")
                else:
                    self.assertIn(source, compose["volumes"], f"{name}: volume {source} is not declared")
        # One image for api and worker, built from one Dockerfile.
        self.assertEqual(compose["services"]["api"]["image"], compose["services"]["worker"]["image"])
        self.assertTrue(all(len(builds) == 1 for builds in images.values()), images)

    def test_grafana_provisioning_names_the_dashboard(self):
        compose = load_compose()
        mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"] if v.startswith("."))
        provider = yaml.safe_load(read("deploy/grafana/provisioning/dashboards/wavecom.yml"))
        path = provider["providers"][0]["options"]["path"]
        dashboards = [src for src, dst in mounts.items() if os.path.dirname(dst) == path]
        self.assertEqual(dashboards, ["./deploy/grafana/wavecom-dashboard.json"])
        datasource = yaml.safe_load(read("deploy/grafana/provisioning/datasources/prometheus.yml"))
        self.assertEqual(urlsplit(datasource["datasources"][0]["url"]).hostname, "prometheus")
        self.assertIn("prometheus", compose["services"])

    def test_kustomization_references_existing_files_and_the_image(self):
        kustomization, docs = load_manifests()
        for resource in kustomization["resources"]:
            self.assertTrue(os.path.isfile(os.path.join(K8S, resource)), resource)
        listed = set(kustomization["resources"])
        on_disk = {os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*.yaml"))} - {"kustomization.yaml"}
        self.assertEqual(on_disk, listed, "a manifest in deploy/k8s that the kustomization leaves out")
        images = {container(d)["image"] for d in docs if d["kind"] == "Deployment"}
        self.assertEqual(images, {img["name"] for img in kustomization["images"]})

    def test_dockerfile_copies_existing_paths(self):
        for stage in dockerfile_stages(read("deploy/Dockerfile")).values():
            for line in stage:
                if line.upper().startswith("COPY") and "--from=" not in line:
                    for source in line.split()[1:-1]:
                        self.assertTrue(os.path.exists(os.path.join(ROOT, source)), source)

    def test_the_image_is_built_with_the_script_ci_uses(self):
        stages = dockerfile_stages(read("deploy/Dockerfile"))
        build = stages["build"]
        runs = [line for line in build if line.upper().startswith("RUN")]
        self.assertTrue(build[0].split()[1].startswith("debian:bookworm"), build[0])
        self.assertTrue(any("deploy/build-deps.sh install" in r for r in runs), runs)
        self.assertTrue(any("deploy/build-deps.sh build" in r for r in runs), runs)
        # No package list or build step of its own that could drift from the script's.
        for r in runs:
            self.assertNotIn("apt-get", r)
            self.assertNotIn("cmake", r.replace("deploy/build-deps.sh build", ""))
        # deploy/stack.sh (CI) takes its build packages and its build from the same script; the
        # jobs it runs are the files of deploy/stack/.
        stack = "".join(read(os.path.relpath(path, ROOT)) for path in
                        [os.path.join(ROOT, "deploy", "stack.sh")] +
                        sorted(glob.glob(os.path.join(ROOT, "deploy", "stack", "*.sh"))))
        self.assertRegex(stack, r'\n\. "\$ROOT/deploy/build-deps.sh"\n')
        self.assertIn('"${WAVECOM_BUILD_PACKAGES[@]}"', stack)
        self.assertIn("wavecom_cmake_build", stack)
        self.assertNotRegex(stack, r"\blib[a-z0-9.-]+-dev\b", "a -dev package listed outside deploy/build-deps.sh")
        self.assertEqual(len(re.findall(r"cmake --build", stack)), 0)

    def test_runtime_stage_is_slim_and_not_root(self):
        stages = dockerfile_stages(read("deploy/Dockerfile"))
        final = list(stages.values())[-1]
        self.assertRegex(final[0], r"^FROM debian:bookworm-slim$")
        self.assertTrue(any("build-deps.sh install-runtime" in line for line in final))
        user = [line.split()[1] for line in final if line.upper().startswith("USER")]
        self.assertEqual(len(user), 1)
        self.assertNotIn(user[0].split(":")[0], ("0", "root"))
        self.assertTrue(any(line.upper().startswith("HEALTHCHECK") for line in final))
        copied = " ".join(line for line in final if "--from=build" in line)
        for program in ("wavecom-api", "wavecom-worker", "wavecomctl"):
            self.assertIn(program, copied)

    def script_packages(self, what):
        out = subprocess.run([os.path.join(ROOT, "deploy", "build-deps.sh"), what],
                             capture_output=True, text=True, check=True)
        return set(out.stdout.split())

    def test_runtime_packages_cover_what_the_programs_link(self):
        runtime = self.script_packages("runtime-packages")
        # In every Debian image; the sanitizer runtimes only in sanitizer builds such as CI's.
        base = {"libc6", "libgcc-s1", "libasan8", "libubsan1"}
        for program in ("api/wavecom-api", "worker/wavecom-worker", "ctl/wavecomctl"):
            binary = os.path.join(BUILD_DIR, program)
            needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(
                ["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout)
            resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
                ["ldd", binary], capture_output=True, text=True, check=True).stdout, re.M))
            for lib in needed:
                path = resolved[lib]
                candidates = [path, os.path.realpath(path)]
                candidates += [p.replace("/usr/lib/", "/lib/", 1) for p in candidates if p.startswith("/usr/lib/")]
                owner = None
                for candidate in candidates:
                    out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                    if out.returncode == 0:
                        owner = out.stdout.split(":")[0]
                        break
                self.assertIsNotNone(owner, f"{program}: no package owns {lib} ({path})")
                self.assertIn(owner, runtime | base, f"{program} links {lib} from {owner}, "
                              "which deploy/build-deps.sh's runtime list lacks")

    def test_build_packages_are_the_ones_stack_installs(self):
        out = subprocess.run(["bash", "-c", '. deploy/build-deps.sh && printf "%s\\n" "${WAVECOM_BUILD_PACKAGES[@]}"'],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        self.assertEqual(set(out.stdout.split()), self.script_packages("packages"))
        self.assertIn("libmicrohttpd-dev", self.script_packages("packages"))


# deploy/stack.sh test builds deploy/validate and names it in WAVECOM_TEST_DEPLOY_VALIDATE; only a
# run by hand without it skips these.
@unittest.skipIf(not VALIDATE, "WAVECOM_TEST_DEPLOY_VALIDATE not set (deploy/stack.sh install builds it)")
class SchemaTest(unittest.TestCase):
    """The manifests decode strictly into the Kubernetes and KEDA types; the compose file loads."""

    def validate(self, *args):
        return subprocess.run([VALIDATE, *args], capture_output=True, text=True, timeout=60)

    def test_manifests_decode_into_the_typed_structs(self):
        out = self.validate("k8s", K8S)
        self.assertEqual(out.returncode, 0, out.stderr)
        _, docs = load_manifests()
        self.assertEqual(len([l for l in out.stdout.splitlines() if l.startswith("ok ")]), len(docs))
        self.assertIn("ScaledObject/wavecom-worker", out.stdout)

    def test_compose_file_loads(self):
        out = self.validate("compose", COMPOSE_FILE)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.splitlines()), len(load_compose()["services"]))

    def test_cluster_compose_file_loads_with_the_services_it_extends(self):
        out = self.validate("compose", CLUSTER_COMPOSE_FILE)
        self.assertEqual(out.returncode, 0, out.stderr)
        for name in ("rabbitmq", "rabbitmq-2", "rabbitmq-3", "mongodb", "mongodb-2", "mongodb-3",
                     "api", "worker"):
            self.assertIn(f"ok service {name}\n", out.stdout)

    def broken_k8s(self, file, old, new):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        shutil.copytree(K8S, os.path.join(tmp, "k8s"))
        path = os.path.join(tmp, "k8s", file)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))
        return self.validate("k8s", os.path.join(tmp, "k8s"))

    def test_it_rejects_what_a_cluster_would(self):
        cases = [
            # A misspelt field, in a built-in kind and in KEDA's.
            ("api.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSecond: 30",
             "terminationGracePeriodSecond"),
            ("worker.yaml", "cooldownPeriod: 300", "cooldownPeriods: 300", "cooldownPeriods"),
            # A value of the wrong type.
            ("api.yaml", "replicas: 2", "replicas: two", "replicas"),
            # A reference to nothing.
            ("api.yaml", "key: amqp-url", "key: amqp", "no key amqp"),
            ("worker.yaml", "queueName: notifications", "queue: notifications", "queue is not a metadata field"),
            ("api.yaml", "port: http}\n            periodSeconds: 5", "port: web}\n            periodSeconds: 5",
             "port web is not a container port"),
            # The operators' kinds, against the pinned schemas and the types embedded in them.
            ("rabbitmq.yaml", "  replicas: 3", "  replica: 3", "additional properties 'replica'"),
            ("rabbitmq.yaml", "topologyKey:", "topologyKeys:", 'unknown field "topologyKeys"'),
            ("mongodb.yaml", "type: ReplicaSet", "type: Sharded", "/type"),
            ("mongodb.yaml", "name: wavecom-mongodb-password", "name: mongodb-password",
             "Secret mongodb-password has no key password"),
            ("mongodb.yaml", "app: wavecom-mongodb-svc\n---", "app: mongodb\n---",
             "PodDisruptionBudget wavecom-mongodb: its selector selects no pods"),
        ]
        for file, old, new, expected in cases:
            with self.subTest(file=file, new=new):
                out = self.broken_k8s(file, old, new)
                self.assertEqual(out.returncode, 1, out.stdout)
                self.assertIn(expected, out.stderr)

    def test_it_rejects_a_broken_compose_file(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        text = read("docker-compose.yml")
        for old, new, expected in [
            ("mailpit: {condition: service_healthy}", "mailbox: {condition: service_healthy}", "mailbox"),
            ("stop_grace_period: 35s", "stop_grace_periods: 35s", "stop_grace_periods"),
        ]:
            with self.subTest(new=new):
                path = os.path.join(tmp, "docker-compose.yml")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text.replace(old, new, 1))
                out = self.validate("compose", path)
                self.assertEqual(out.returncode, 1, out.stdout)
                self.assertIn(expected, out.stderr)


if __name__ == "__main__":
    unittest.main()
