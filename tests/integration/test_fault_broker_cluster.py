"""kill -9 of a RabbitMQ cluster node under load loses nothing and delivers nothing twice
(docs/ARCHITECTURE.md §5, "Several nodes").

The test runs a 3-node cluster of its own (private_services.py), quorum queues with a replica on
every node (WAVECOM_QUORUM_GROUP_SIZE=3), and an API and a worker pool given every node in
WAVECOM_AMQP_URL. Under a steady load of emails it freezes the node the API publishes to (SIGSTOP)
until a group commit is stored and waiting for that node's confirms, then kills the node with
SIGKILL: the API must reopen on another node and republish the commit's unconfirmed publishes
there. If no worker connection was on that node, the node is started again, rejoins, and the node
of a worker connection is killed the same way, so that both the API and the worker lose their
node. Every notification that got a 201 must end SENT with one mail at the SMTP catcher.
"""
import os
import re
import signal
import unittest

from fault_support import (LOST, Load, connection_nodes, health, log_messages, mail_deliveries,
                           reconcile, start_stack)
from harness import wait_until
from private_services import PrivateRabbitMQCluster

REPUBLISHED = re.compile(
    r"republishing (\d+) unconfirmed or nacked publishes to RabbitMQ node [0-9.]+:(\d+)")


class BrokerClusterTest(unittest.TestCase):
    def setUp(self):
        self.cluster = PrivateRabbitMQCluster()
        self.addCleanup(self.cluster.close)
        self.cluster.start()
        start_stack(self, env={"WAVECOM_QUORUM_GROUP_SIZE": "3",
                               "WAVECOM_SCHEDULER_INTERVAL_MS": "200"},
                    amqp_url=self.cluster.url)

    def open_commit_with_documents(self):
        """An outbox record at least one of whose notifications is stored: a commit waiting
        for the confirms of the frozen node."""
        for record in self.stack.db.outbox.find({}):
            if self.stack.db.notifications.count_documents({"_id": {"$in": record["ids"]}}) > 0:
                return record
        return None

    def kill_mid_commit(self, node):
        """Freezes `node` until a commit waits for its confirms, then kills it (SIGKILL)."""
        os.killpg(node.proc.pid, signal.SIGSTOP)
        try:
            wait_until(self.open_commit_with_documents, 20, interval=0.05,
                       what="a commit stored and waiting for the frozen node's confirms")
        finally:
            node.kill()  # SIGKILL ends a stopped process too

    def worker_ports(self):
        return set(connection_nodes(log_messages(self.stack, "worker")).values())

    def api_port(self):
        """The node of the API's first group-commit connection, which publishes the load."""
        nodes = connection_nodes(log_messages(self.stack, "api"))
        self.assertIn("wavecom-api-commit-0", nodes, "the group commit has no open connection")
        return nodes["wavecom-api-commit-0"]

    def test_kill_9_of_the_api_and_worker_node_mid_load(self):
        load = Load.emails(self, "cluster", clients=4, timeout=30)
        load.wait_accepted(100)
        wait_until(lambda: len(self.worker_ports()) > 0, 30,
                   what="the worker's connections in its log")
        killed = []

        victim = self.cluster.node_on_port(self.api_port())
        worker_hit = victim.port in self.worker_ports()
        self.kill_mid_commit(victim)
        killed.append(victim.port)
        load.wait_accepted(100, timeout=60)
        self.assertNotEqual(self.api_port(), victim.port)

        if not worker_hit:
            victim.start()
            wait_until(lambda: len(self.cluster.running_nodes()) == 3, 90, interval=0.5,
                       what="the restarted node back in the cluster")
            second = self.cluster.node_on_port(sorted(self.worker_ports())[0])
            self.kill_mid_commit(second)
            killed.append(second.port)
            load.wait_accepted(100, timeout=60)
        load.stop()

        result = reconcile(self, self.stack, load, mail_deliveries,
                           f"cluster nodes on ports {killed} killed mid-load")
        self.assertEqual(result["failed"], set())
        # The API republished what the dead node never confirmed, on a live node.
        api_log = log_messages(self.stack, "api")
        republished = [(int(m.group(1)), int(m.group(2))) for m in map(REPUBLISHED.search, api_log)
                       if m]
        self.assertTrue(republished, "the API republished nothing")
        self.assertTrue(all(port not in killed[:1] for _, port in republished[:1]),
                        f"republished to the dead node: {republished}")
        # Every connection of the API and the worker is open to a live node again. The API's
        # shared connection (health, statistics, scheduler) may have been idle on the dead node:
        # with no heartbeat it learns of the loss at its next use, which /api/health makes.
        live = {node.port for node in self.cluster.nodes} - set(killed[-1:])

        def on_live_nodes(name):
            if name == "api":
                health(self.stack, "rabbitmq")
            nodes = connection_nodes(log_messages(self.stack, name))
            return nodes if nodes and set(nodes.values()) <= live else None
        for name in ("api", "worker"):
            wait_until(lambda: on_live_nodes(name), 30, interval=0.5,
                       what=f"every connection of the {name} on a live node")
        lost = [m for m in log_messages(self.stack, "worker") if LOST.search(m)]
        self.assertTrue(lost, "the worker lost no connection")
        self.assertIsNone(self.stack.worker.poll(), "the worker master exited")
        print(f"cluster: killed {killed}; the API republished {sum(n for n, _ in republished)} "
              f"unconfirmed or nacked publishes ({len(republished)} batches) to "
              f"{sorted({p for _, p in republished})}; worker connections lost {len(lost)}",
              flush=True)


if __name__ == "__main__":
    unittest.main()
