"""The API's RabbitMQ node frozen for 30 s under load, as a network partition would cut it off:
the API goes on answering within the contract, and after the node resumes nothing accepted is lost
(docs/ARCHITECTURE.md §5, "Several nodes").

SIGSTOP leaves the node's sockets open and silent, so nothing tells the API its connections are
dead: a publish waits for its confirms until WAVECOM_PUBLISH_TIMEOUT_SECONDS (10 s by default)
runs out, the connection is then treated as lost, and the next open tries the next node of
WAVECOM_AMQP_URL (shared/broker/wc_broker.c). What happens then is the cluster's: opening a
connection declares the topology again, and declaring a binding is a transaction every node must
join, so while a node is frozen and not yet declared down by the others (Erlang's net tick time,
60 s by default) the other nodes cannot complete it either. The API then backs off and sheds new
work with 503 + Retry-After (what a failed commit wrote stays in the outbox, and the sweeper
publishes it); if the other nodes answer, it moves to one of them and answers 201. The test
accepts either, asserts that one of them happens while the node is frozen and that nothing else
is ever answered, resumes the node with SIGCONT, lets the load run on, and reconciles: every 201
ends SENT with one mail.

The frozen node is resumed in a cleanup too, before the cluster is removed, whatever failed.
"""
import os
import signal
import time
import unittest

from fault_support import (Load, connection_nodes, log_messages, mail_deliveries, reconcile,
                           start_stack)
from harness import wait_until
from private_services import PrivateRabbitMQCluster

PAUSE_SECONDS = 30


class BrokerPartitionTest(unittest.TestCase):
    def setUp(self):
        self.cluster = PrivateRabbitMQCluster()
        self.addCleanup(self.cluster.close)
        self.cluster.start()
        start_stack(self, env={"WAVECOM_QUORUM_GROUP_SIZE": "3"}, amqp_url=self.cluster.url)

    def api_port(self):
        nodes = connection_nodes(log_messages(self.stack, "api"))
        return nodes.get("wavecom-api-commit-0")

    def test_the_api_node_frozen_30_s_under_load(self):
        load = Load.emails(self, "partition", clients=4, timeout=60)
        load.wait_accepted(150)
        port = self.api_port()
        self.assertIsNotNone(port, "the group commit has no open connection")
        frozen = self.cluster.node_on_port(port)

        def resume():
            try:
                os.killpg(frozen.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.addCleanup(resume)  # runs before the cluster's close (cleanups run last first)
        os.killpg(frozen.proc.pid, signal.SIGSTOP)
        paused_at = time.monotonic()
        accepted_before, refused_before = load.accepted_count(), load.refused_count()

        def moved():
            return (self.api_port() not in (None, port) and
                    load.accepted_count() >= accepted_before + 50)

        def shed():
            return load.refused_count() > refused_before
        wait_until(lambda: moved() or shed(), PAUSE_SECONDS - 2, interval=0.2,
                   what="the API to move to another node or to shed with 503 + Retry-After")
        reacted_after = time.monotonic() - paused_at
        how = "moved to another node" if moved() else "shed with 503 + Retry-After"
        time.sleep(max(0.0, PAUSE_SECONDS - (time.monotonic() - paused_at)))
        accepted_paused = load.accepted_count() - accepted_before
        refused_paused = load.refused_count() - refused_before
        resume()
        resumed_at = time.monotonic()

        # After SIGCONT the API publishes again, to whichever node it reaches.
        load.wait_accepted(150, timeout=90)
        accepting_after = time.monotonic() - resumed_at
        load.stop()
        result = reconcile(self, self.stack, load, mail_deliveries,
                           f"the API's node frozen {PAUSE_SECONDS}s", timeout=180)
        self.assertEqual(result["failed"], set())
        self.assertIsNone(self.stack.worker.poll(), "the worker master exited")
        print(f"partition: node on port {port} frozen {PAUSE_SECONDS}s; the API {how} after "
              f"{reacted_after:.1f}s; during the pause {accepted_paused} accepted, "
              f"{refused_paused} refused with 503 + Retry-After; 150 more accepted "
              f"{accepting_after:.1f}s after SIGCONT, on port {self.api_port()}", flush=True)


if __name__ == "__main__":
    unittest.main()
