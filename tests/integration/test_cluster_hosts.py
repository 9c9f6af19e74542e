"""Two API instances and two worker hosts on one machine share a 3-node RabbitMQ cluster and one
database (docs/ARCHITECTURE.md §5, "Several nodes"): every notification submitted through either
API is delivered once, both worker hosts deliver a share, and GET /api/workers lists both hosts.

The hosts differ as separate machines would: each worker master has its own WAVECOM_WORKER_ID,
children and connections; each API its own port, group commit and sweeper. How two sweepers and
schedulers keep from publishing the same notification twice is proven in
test_api_schedule_cancel.SchedulerInstancesTest (each takes an item by a conditional
findAndModify); here both run beside the load.
"""
import re
import unittest
import uuid

from fault_support import Load, mail_deliveries, reconcile, start_stack
from harness import Stack, wait_until
from private_services import PrivateRabbitMQCluster

STARTED_AS = re.compile(r"started as worker:[^:]+:(\d+)")


def child_pids(stack):
    return {int(m.group(1)) for m in STARTED_AS.finditer(stack.log("worker", whole=True))}


class ClusterHostsTest(unittest.TestCase):
    def setUp(self):
        self.cluster = PrivateRabbitMQCluster()
        self.addCleanup(self.cluster.close)
        self.cluster.start()
        env = {"WAVECOM_QUORUM_GROUP_SIZE": "3", "WAVECOM_WORKER_REPORT_SECONDS": "1"}
        self.hosts = ["host-a-" + uuid.uuid4().hex[:6], "host-b-" + uuid.uuid4().hex[:6]]
        start_stack(self, env=dict(env, WAVECOM_WORKER_ID=self.hosts[0]), workers=1,
                    amqp_url=self.cluster.url)
        # The second API and worker host: the same database, the same cluster.
        second = Stack(workers=1, env=dict(self.stack.env, WAVECOM_WORKER_ID=self.hosts[1]),
                       amqp_url=self.cluster.url)
        second.db_name = self.stack.db_name
        second.db = self.stack.db
        second.env["WAVECOM_API_PORT"] = str(second.port)
        second.env["WAVECOM_WORKER_METRICS_PORT"] = "0"
        self.addCleanup(second.close)
        second.start_api()
        second.start_worker()
        self.second = second

    def test_two_apis_and_two_worker_hosts_deliver_each_notification_once(self):
        loads = []
        for n, stack in enumerate((self.stack, self.second)):
            load = Load(stack, self.key, lambda c, i, n=n: {
                "type": "EMAIL", "recipient": f"hosts-{n}-{c}-{i}@example.com",
                "subject": f"hosts {n}-{c}-{i}", "message": "body"}, clients=2)
            self.addCleanup(load.stopping.set)
            loads.append(load.start())
        for load in loads:
            load.wait_accepted(150)
        for load in loads:
            load.stop()
        merged = Load(self.stack, self.key, None, clients=0)
        merged.accepted = loads[0].accepted + loads[1].accepted
        merged.refused = loads[0].refused + loads[1].refused
        merged.bad = loads[0].bad + loads[1].bad
        result = reconcile(self, self.stack, merged, mail_deliveries, "two APIs, two worker hosts")
        self.assertEqual(result["duplicates"], 0)

        # Each host delivered a share: the SENT entries name the child that delivered.
        shares = []
        for stack in (self.stack, self.second):
            pids = child_pids(stack)
            self.assertTrue(pids, "a worker host started no child")
            actors = [f"worker:.*:{pid}$" for pid in pids]
            shares.append(self.stack.db.notification_logs.count_documents(
                {"status": "SENT", "actor": {"$regex": "|".join(actors)}}))
        self.assertEqual(sum(shares), len(result["sent"]))
        self.assertGreater(min(shares), 0, f"a host delivered nothing: {shares}")

        _, viewer = self.stack.new_tenant_key(role="viewer")
        listed = wait_until(lambda: (lambda ids: ids if set(self.hosts) <= ids else None)(
            {h["id"] for h in self.stack.request("GET", "/api/workers", key=viewer)
             .json["data"]["hosts"]}), 30, interval=0.5, what="both worker hosts listed")
        print(f"hosts: {self.hosts} delivered {shares} of {len(result['sent'])}; "
              f"/api/workers lists {sorted(listed)}", flush=True)


if __name__ == "__main__":
    unittest.main()
