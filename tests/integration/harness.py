"""Runs the real wavecom binaries against the real services for a test.

deploy/stack.sh test starts RabbitMQ (vhost wavecom_test), FerretDB and the
SMTP catcher, and exports where they are. Each Stack gets a database of its
own and its own API port, so tests never read each other's data.
"""
import email
import email.parser
import email.policy
import json
import os
import signal
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request
import uuid

import pymongo

# Re-exported: the tests take these from here.
from loopback import free_port, parse_queue_depths, tcp_answers, wait_until  # noqa: F401


def _required_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: run the tests through `deploy/stack.sh test`")
    return value


BUILD_DIR = _required_env("WAVECOM_BUILD_DIR")
AMQP_URL = _required_env("WAVECOM_TEST_AMQP_URL")
MONGODB_URI = _required_env("WAVECOM_TEST_MONGODB_URI")
MAILDIR = _required_env("WAVECOM_TEST_MAILDIR")
SMTP_PORT = _required_env("WAVECOM_TEST_SMTP_PORT")
RABBITMQCTL = _required_env("WAVECOM_TEST_RABBITMQCTL")
VHOST = AMQP_URL.rsplit("/", 1)[1] or "/"
# Each test's database is named with this prefix (deploy/stack.sh test removes old wc_test_ ones);
# someone running tests beside another run picks a prefix of their own.
DB_PREFIX = os.environ.get("WAVECOM_TEST_DB_PREFIX", "wc_test_")
# libmongoc keeps its performance counters in /dev/shm/mongoc-<pid>; a file left by a killed
# process whose pid comes round again makes it warn on stderr, which tests of the CLI's one-line
# errors read. Every process a test starts inherits this.
os.environ["MONGOC_DISABLE_SHM"] = "1"

API_BIN = os.path.join(BUILD_DIR, "api", "wavecom-api")
WORKER_BIN = os.path.join(BUILD_DIR, "worker", "wavecom-worker")
CTL_BIN = os.path.join(BUILD_DIR, "ctl", "wavecomctl")


def trail(db, doc):
    """The audit trail of notification `doc` (a document read from `db`) as the API shows it
    (docs/ARCHITECTURE.md §3.2): the changes of its creation, which follow from the document,
    then its entries in notification_logs oldest first (one per change), completed from the
    document's `last` when the newest change's entry is not written yet."""
    created = {2: [("PENDING", "Notification created"), ("QUEUED", "Added to queue")],
               1: [("SCHEDULED", "Notification scheduled")]}.get(doc.get("createdSeq"), [])
    entries = [{"seq": i, "status": s, "message": m, "actor": "api", "timestamp": doc["createdAt"]}
               for i, (s, m) in enumerate(created, start=1)]
    for e in db.notification_logs.find({"notificationId": doc["_id"]}).sort("seq", 1):
        if e["seq"] > (entries[-1]["seq"] if entries else 0):
            entries.append(e)
    if doc.get("last") and doc.get("seq", 0) > (entries[-1]["seq"] if entries else 0):
        entries.append(dict(doc["last"], seq=doc["seq"]))
    return entries


def queue_depths():
    """Messages ready + unacked per queue of the test vhost, from the broker itself."""
    return parse_queue_depths(subprocess.run(
        [RABBITMQCTL, "list_queues", "-p", VHOST, "--quiet", "--no-table-headers",
         "name", "messages"],
        check=True, capture_output=True, text=True, timeout=60).stdout)


def purge_queues():
    for name in queue_depths():
        subprocess.run([RABBITMQCTL, "purge_queue", "-p", VHOST, name],
                       check=True, capture_output=True, timeout=60)


# Maildir files never change once delivered: their notification ids are read once.
_mail_ids = {}


def _notification_id_of(path):
    if path not in _mail_ids:
        try:
            with open(path, "rb") as f:
                headers = email.parser.BytesHeaderParser(policy=email.policy.default).parse(f)
        except FileNotFoundError:
            return None
        _mail_ids[path] = headers.get("X-WaveCom-Notification-Id")
    return _mail_ids[path]


def mails_for(notification_ids):
    """Mails in the catcher's Maildir whose X-WaveCom-Notification-Id is one of
    `notification_ids`, as {id: [message, ...]} (a list, to count duplicates)."""
    wanted = set(notification_ids)
    found = {}
    for sub in ("new", "cur"):
        folder = os.path.join(MAILDIR, sub)
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if _notification_id_of(path) not in wanted:
                continue
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            found.setdefault(msg["X-WaveCom-Notification-Id"], []).append(msg)
    return found


def started(stack, worker=False):
    """Starts the stack's API (and worker), stopping what started when a step
    fails: a failed setUp never runs its tearDown, and a left-over API would
    keep working on the shared services."""
    try:
        stack.start_api()
        if worker:
            stack.start_worker()
    except BaseException:
        stack.close()
        raise
    return stack


def stack_for_test(test, worker=True, **stack_args):
    """A Stack(**stack_args) for one test: its API (and worker pool) started, a sender's tenant and
    key made (test.stack, test.tenant, test.key), and everything closed when the test ends."""
    test.stack = started(Stack(**stack_args), worker=worker)
    test.addCleanup(test.stack.close)
    test.tenant, test.key = test.stack.new_tenant_key()
    return test.stack


def close_cleanly(stack):
    """Closes the stack and fails unless each of its processes exited 0 (a leak exits 23)."""
    codes = stack.close()
    assert codes and set(codes.values()) == {0}, (codes, stack.log("api"), stack.log("worker"))


class StackTestCase(unittest.TestCase):
    """A test class on one stack of its own: an API (and, with WORKER, a worker pool of WORKERS)
    with ENV, started before the first test with a tenant and a ROLE key (cls.tenant, cls.key),
    and closed after the last, each process exiting 0."""

    ENV = {}
    WORKERS = 1
    WORKER = False
    ROLE = "sender"

    @classmethod
    def setUpClass(cls):
        cls.stack = started(Stack(workers=cls.WORKERS, env=cls.ENV), worker=cls.WORKER)
        cls.tenant, cls.key = cls.stack.new_tenant_key(role=cls.ROLE)

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Stack:
    """An API and a worker pool on a database of their own."""

    def __init__(self, workers=2, env=None, mongodb_uri=MONGODB_URI, amqp_url=AMQP_URL):
        """mongodb_uri and amqp_url name a private database or broker (private_services.py)."""
        self.db_name = DB_PREFIX + uuid.uuid4().hex[:12]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logdir = tempfile.mkdtemp(prefix="wavecom-test-")
        self.env = dict(os.environ)
        self.env.update({
            "WAVECOM_MONGODB_URI": mongodb_uri,
            "WAVECOM_MONGODB_DB": self.db_name,
            "WAVECOM_AMQP_URL": amqp_url,
            "WAVECOM_API_HOST": "127.0.0.1",
            "WAVECOM_API_PORT": str(self.port),
            "WAVECOM_SMTP_HOST": "127.0.0.1",
            "WAVECOM_SMTP_PORT": SMTP_PORT,
            "WAVECOM_WORKER_PROCESSES": str(workers),
            # Each stack's worker master serves its metrics on a port of its own.
            "WAVECOM_WORKER_METRICS_PORT": str(free_port()),
            "WAVECOM_LOG_LEVEL": "info",
            "WAVECOM_DRAIN_GRACE_SECONDS": "30",
            # The provider doubles are on loopback; test_ssrf turns this off again.
            "WAVECOM_WEBHOOK_ALLOW_LOOPBACK": "1",
            # A leak in a service fails its shutdown (exit code 23).
            "ASAN_OPTIONS": "detect_leaks=1:exitcode=23",
        })
        self.env.update(env or {})
        self.api = None
        self.worker = None
        self.mongo = pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=10000)
        self.db = self.mongo[self.db_name]

    # -- processes --

    def _spawn(self, binary, name):
        with open(os.path.join(self.logdir, f"{name}.log"), "ab") as log:
            return subprocess.Popen([binary], env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start_api(self):
        self.api = self._spawn(API_BIN, "api")
        wait_until(self._health_answers, 60, what="the API to answer /api/health")

    def _health_answers(self):
        if self.api.poll() is not None:
            raise AssertionError(f"wavecom-api exited with {self.api.returncode}:\n" + self.log("api"))
        try:
            return self.request("GET", "/api/health").status == 200
        except OSError:
            return False

    def start_worker(self):
        self.worker = self._spawn(WORKER_BIN, "worker")
        return self.worker

    def stop(self, proc, sig=signal.SIGTERM, timeout=60):
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"process {proc.args[0]} did not stop within {timeout}s")

    def close(self):
        codes = {}
        for name in ("api", "worker"):
            proc = getattr(self, name)
            if proc is not None:
                codes[name] = self.stop(proc)
        # The database is left in place: FerretDB's PostgreSQL backend can deadlock when a
        # database is dropped while other clients work (deploy/stack.sh test removes the test
        # databases of earlier runs before it starts, when nothing else runs).
        self.mongo.close()
        return codes

    def log(self, name, whole=False):
        """The process's log: its last lines, or all of it with whole=True."""
        path = os.path.join(self.logdir, f"{name}.log")
        if not os.path.exists(path):
            return ""
        with open(path, "r", errors="replace") as f:
            text = f.read()
        return text if whole else text[-6000:]

    # -- tenants and keys --

    def ctl(self, *args, check=True):
        result = subprocess.run([CTL_BIN, *args], env=self.env, capture_output=True,
                                text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"wavecomctl {' '.join(args)} failed: {result.stderr}")
        return result

    def new_tenant_key(self, role="sender", name=None):
        tenant = self.ctl("tenant", "create", "--name", name or "t-" + uuid.uuid4().hex[:8]).stdout.strip()
        key = self.ctl("apikey", "create", "--tenant", tenant, "--role", role).stdout.strip()
        return tenant, key

    # -- HTTP --

    def request(self, method, path, body=None, key=None, headers=None, raw=None, timeout=30):
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def create_email(self, key, recipient, subject, message, priority="MEDIUM", **extra):
        body = {"type": "EMAIL", "recipient": recipient, "subject": subject,
                "message": message, "priority": priority, **extra}
        return self.request("POST", "/api/notifications", body=body, key=key)

    def get(self, key, nid):
        return self.request("GET", f"/api/notifications/{nid}", key=key)

    def wait_for_status(self, key, nid, status, timeout=30):
        def reached():
            r = self.get(key, nid)
            if r.status == 200 and r.json["data"]["notification"]["status"] == status:
                return r
            return None
        return wait_until(reached, timeout, interval=0.2, what=f"{nid} to reach {status}")

    def count_status(self, status):
        return self.db.notifications.count_documents({"status": status})

    def statuses(self):
        """{id: status} of every notification in this stack's database."""
        return {str(d["_id"]): d["status"]
                for d in self.db.notifications.find({}, {"status": 1})}
