"""A RabbitMQ node and a database of a test's own, to stop and start for real.

The broker and database fault tests kill their dependency mid-load. Doing that
to the shared services would break every other test running against them, so
these tests start private ones from the same installations deploy/stack.sh
uses: a RabbitMQ node with its own name, AMQP and distribution ports, data and
log directories (registered with the epmd already running), and a PostgreSQL
cluster made by initdb in a temporary directory behind a FerretDB process of
its own. Each is restarted on the same ports and data, and removed at the end.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from loopback import free_port, parse_queue_depths, tcp_answers, wait_until

RABBITMQ_LIBEXEC = "/usr/lib/rabbitmq/bin"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# deploy/stack.sh builds FerretDB next to the rabbitmqctl wrapper it writes.
FERRETDB_BIN = os.environ.get("WAVECOM_TEST_FERRETDB_BIN") or os.path.join(
    os.path.dirname(os.environ.get("WAVECOM_TEST_RABBITMQCTL", "")), "wavecom-ferretdb")

# A test killed before its cleanup (a ctest timeout) must not leave a broker or database behind:
# each process gets a signal when the test process dies (util-linux setpriv sets it after any
# change of user, which would clear it).
DIE_WITH_TEST = ["setpriv", "--pdeathsig", "SIGKILL", "--"]

START_TIMEOUT = 90
STOP_TIMEOUT = 30


def _kill_group(proc, sig):
    """Signals the process group `proc` leads (it was started in a session of its own)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _reap(proc, timeout=STOP_TIMEOUT):
    if proc is None:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.wait(timeout=timeout)


class PrivateRabbitMQ:
    """One RabbitMQ node; its default vhost "/" and the guest user serve the test.

    `home` is where Erlang finds the cookie: the nodes of one cluster share it."""

    def __init__(self, home=None):
        self.dir = tempfile.mkdtemp(prefix="wavecom-rabbitmq-")
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"wcfault{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.proc = None
        with open(os.path.join(self.dir, "rabbitmq-env.conf"), "w") as f:
            f.write("# Keeps /etc/rabbitmq/rabbitmq-env.conf away from this node.\n")
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home or self.dir,  # where Erlang keeps the cookie the node and its CLI share
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.dir, "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(self.dir, "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "RABBITMQ_PID_FILE": os.path.join(self.dir, "node.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            # The script then execs the VM instead of forking it, so the node is the process
            # we started and dies with the test (DIE_WITH_TEST).
            "RUNNING_UNDER_SYSTEMD": "1",
        }

    def start(self):
        self.spawn()
        return self.wait_started()

    def spawn(self):
        """Starts the node without waiting for it (see wait_started)."""
        with open(os.path.join(self.dir, "server.out"), "ab") as out:
            self.proc = subprocess.Popen([*DIE_WITH_TEST,
                                          os.path.join(RABBITMQ_LIBEXEC, "rabbitmq-server")],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_started(self):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"private RabbitMQ exited with {self.proc.returncode}:\n"
                                     + self.log())
            return tcp_answers(self.port, timeout=1)
        wait_until(up, START_TIMEOUT, interval=0.3, what="the private RabbitMQ node")
        return self

    def kill(self):
        """Stops the node as a crash would: SIGKILL to the whole node."""
        _kill_group(self.proc, signal.SIGKILL)
        _reap(self.proc)
        wait_until(lambda: not tcp_answers(self.port, timeout=1), 10, what="the AMQP port to close")

    def ctl(self, *args, timeout=60, tool="rabbitmqctl"):
        """A RabbitMQ command line tool (rabbitmqctl, rabbitmq-queues, ...) against this node."""
        return subprocess.run([os.path.join(RABBITMQ_LIBEXEC, tool), *args],
                              env=self.env, check=True, capture_output=True, text=True,
                              timeout=timeout).stdout

    def queue_depths(self):
        return parse_queue_depths(
            self.ctl("list_queues", "--quiet", "--no-table-headers", "name", "messages"))

    def set_memory_alarm(self, on):
        """A memory high watermark far below what the node uses raises the memory
        alarm at once (publishes block); the default one clears it."""
        self.ctl("set_vm_memory_high_watermark", "0.000001" if on else "0.4")

    def log(self):
        texts = []
        for path in sorted(glob.glob(os.path.join(self.dir, "log", "*.log")))[-2:] + [
                os.path.join(self.dir, "server.out")]:
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    texts.append(f.read()[-3000:])
        return "\n".join(texts)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            _kill_group(self.proc, signal.SIGKILL)
            _reap(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbitMQCluster:
    """Three RabbitMQ nodes (PrivateRabbitMQ, each with its own ports and data) sharing one
    Erlang cookie, the second and third joined to the first: a cluster of the test's own."""

    def __init__(self, size=3):
        self.home = tempfile.mkdtemp(prefix="wavecom-rabbitmq-cluster-")
        cookie = os.path.join(self.home, ".erlang.cookie")
        with open(os.open(cookie, os.O_WRONLY | os.O_CREAT, 0o400), "w") as f:
            f.write(uuid.uuid4().hex)
        self.nodes = [PrivateRabbitMQ(home=self.home) for _ in range(size)]
        # Every node's URL, for WAVECOM_AMQP_URL.
        self.url = ",".join(node.url for node in self.nodes)

    def start(self):
        for node in self.nodes:
            node.spawn()
        for node in self.nodes:
            node.wait_started()
        first = self.nodes[0].node
        for node in self.nodes[1:]:
            node.ctl("await_startup", timeout=START_TIMEOUT)
            node.ctl("stop_app")
            node.ctl("join_cluster", first)
            node.ctl("start_app", timeout=START_TIMEOUT)
        wait_until(lambda: len(self.running_nodes()) == len(self.nodes), START_TIMEOUT,
                   interval=0.5, what="every node of the cluster running")
        return self

    def running_nodes(self, via=0):
        out = self.nodes[via].ctl("cluster_status", "--formatter", "json")
        return json.loads(out).get("running_nodes", [])

    def node_on_port(self, port):
        return next(node for node in self.nodes if node.port == port)

    def node_named(self, name):
        return next(node for node in self.nodes if node.node == name)

    def live_node(self):
        """A node whose process runs, to ask about the cluster."""
        return next(node for node in self.nodes if node.proc is not None and
                    node.proc.poll() is None)

    def close(self):
        for node in self.nodes:
            node.close()
        shutil.rmtree(self.home, ignore_errors=True)


def _postgres_bin():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: [int(x) for x in d.split("/")[-2].split(".") if x.isdigit()])
    if not dirs:
        raise RuntimeError("PostgreSQL is not installed: run deploy/stack.sh install")
    return dirs[-1]


class PrivateDatabase:
    """A PostgreSQL cluster of its own behind a FerretDB process of its own."""

    def __init__(self):
        self.bin = _postgres_bin()
        self.dir = tempfile.mkdtemp(prefix="wavecom-db-")
        self.pg_port = free_port()
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}"
        self.postgres = None
        self.ferretdb = None
        # PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
        self.as_postgres = ["setpriv"]
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_postgres += ["--reuid=postgres", "--regid=postgres", "--init-groups"]
        try:
            self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-A", "trust",
                      "-U", "postgres", "-E", "UTF8", "--no-sync")
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    def _run(self, *cmd):
        with open(os.path.join(self.dir, "setup.log"), "ab") as out:
            subprocess.run([*self.as_postgres, "--", *cmd], check=True, stdout=out,
                           stderr=subprocess.STDOUT, timeout=120)

    def _spawn(self, name, cmd):
        with open(os.path.join(self.dir, f"{name}.log"), "ab") as out:
            return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def _wait_port(self, proc, port, name):
        def up():
            if proc.poll() is not None:
                raise AssertionError(f"private {name} exited with {proc.returncode}:\n"
                                     + self.log(name))
            return tcp_answers(port, timeout=1)
        wait_until(up, START_TIMEOUT, interval=0.2, what=f"the private {name}")

    def start(self, first=True):
        self.start_postgres(first)
        self.ferretdb = self._spawn("ferretdb", [
            *DIE_WITH_TEST, FERRETDB_BIN, "-listen", f"127.0.0.1:{self.port}",
            "-data", os.path.join(self.dir, "ferretdb"),
            "-postgresql-url",
            f"postgres://postgres@127.0.0.1:{self.pg_port}/ferretdb?pool_max_conns=32"])
        self._wait_port(self.ferretdb, self.port, "ferretdb")
        return self

    def start_postgres(self, first=False):
        """Starts PostgreSQL alone (FerretDB, still running, reconnects to it)."""
        # SIGQUIT: an immediate shutdown, whose backends exit with the postmaster.
        self.postgres = self._spawn("postgres", [
            *self.as_postgres, "--pdeathsig", "SIGQUIT", "--",
            os.path.join(self.bin, "postgres"), "-D", self.data,
            "-h", "127.0.0.1", "-p", str(self.pg_port), "-k", self.dir,
            "-c", "max_connections=100"])
        self._wait_port(self.postgres, self.pg_port, "postgres")
        # The port opens before recovery ends; FerretDB's first connections would fail.
        wait_until(lambda: subprocess.run(
            [os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1",
             "-p", str(self.pg_port)]).returncode == 0, START_TIMEOUT,
            interval=0.2, what="PostgreSQL to accept connections")
        if first:
            self._run(os.path.join(self.bin, "createdb"), "-h", "127.0.0.1",
                      "-p", str(self.pg_port), "-U", "postgres", "ferretdb")
            self._run(os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port),
                      "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-f",
                      os.path.join(ROOT, "deploy", "ferretdb", "postgresql.sql"), "ferretdb")
        return self

    def kill_postgres(self):
        """kill -9 of PostgreSQL, postmaster and backends at once (its own process group);
        FerretDB stays up and answers every command with an error meanwhile."""
        _kill_group(self.postgres, signal.SIGKILL)
        _reap(self.postgres)
        wait_until(lambda: not tcp_answers(self.pg_port, timeout=1), 10,
                   what="PostgreSQL's port to close")

    def pause(self):
        """SIGSTOP of FerretDB and of every PostgreSQL process: connections stay open and
        nothing answers, as with a host that froze."""
        _kill_group(self.ferretdb, signal.SIGSTOP)
        _kill_group(self.postgres, signal.SIGSTOP)

    def resume(self):
        _kill_group(self.postgres, signal.SIGCONT)
        _kill_group(self.ferretdb, signal.SIGCONT)

    def kill(self):
        """Stops the database as a crash would: FerretDB gets SIGKILL, PostgreSQL an
        immediate shutdown (no checkpoint: the next start replays its WAL)."""
        _kill_group(self.ferretdb, signal.SIGKILL)
        _reap(self.ferretdb)
        if self.postgres is not None and self.postgres.poll() is None:
            self.postgres.send_signal(signal.SIGQUIT)
        _reap(self.postgres)
        wait_until(lambda: not (tcp_answers(self.port, timeout=1) or
                                tcp_answers(self.pg_port, timeout=1)), 10,
                   what="the database ports to close")

    def restart(self):
        return self.start(first=False)

    def log(self, name):
        path = os.path.join(self.dir, f"{name}.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()[-4000:]

    def close(self):
        self.resume()  # a stopped process would not act on SIGQUIT
        _kill_group(self.ferretdb, signal.SIGKILL)
        _reap(self.ferretdb)
        if self.postgres is not None and self.postgres.poll() is None:
            self.postgres.send_signal(signal.SIGQUIT)
            _reap(self.postgres)
        shutil.rmtree(self.dir, ignore_errors=True)
