"""kill -9 of the node that leads the high-priority quorum queue, then of the node the API publishes
to, during 5,000 deliveries on every channel: nothing lost, no delivery twice, and every quorum
queue back to three members in sync (docs/ARCHITECTURE.md §5, "Several nodes").

The test runs a 3-node cluster of its own (private_services.py) with one replica of each quorum
queue on every node, an API and a worker pool given every node, and a load of EMAIL, SMS, PUSH
(FCM and APNs) and WEBHOOK notifications, half of them HIGH, to the SMTP catcher and the provider
doubles. Once a fifth of the load is accepted it kills the high_priority queue's leader (as
rabbitmqctl names it), waits, starts it again and waits for it to rejoin; at half the load it does
the same to the node of the API's group-commit connection, which by then may have moved. Every
201 is reconciled against what the catcher and the doubles received.

A node's death redelivers the messages the worker had not acked there; the worker's claim meets
a notification that is already SENT (or held by a live lease) and drops the copy, so no delivery
is repeated: the test counts deliveries per id and prints the audit trail of any delivered twice
before it fails. Last, every quorum queue must list all three nodes as members and online, and
each member's Raft log must be committed up to the leader's (rabbitmq-queues quorum_status).

5,000 submissions take about a minute on two cores under the sanitizer build, the whole test about
three; the two kills and restarts are bounded by START_TIMEOUT each.
"""
import json
import os
import time
import unittest

from bson import ObjectId

import providers
from api_support import email, push, sms, webhook
from fault_support import (Load, connection_nodes, log_messages, mail_deliveries, reconcile,
                           start_stack)
from harness import wait_until
from private_services import PrivateRabbitMQCluster

TOTAL = int(os.environ.get("WAVECOM_TEST_LEADER_KILL_TOTAL", "5000"))
DOWN_SECONDS = 5
REJOIN_TIMEOUT = 120
SYNC_TIMEOUT = 60


def quorum_queues(node):
    """[{name, leader, members, online}] of every quorum queue, as `node` sees them."""
    rows = json.loads(node.ctl("list_queues", "name", "type", "leader", "members", "online",
                               "--formatter", "json"))
    return [row for row in rows if row.get("type") == "quorum"]


def raft_members(node, queue):
    """[(node name, Raft state, commit index)] of `queue`'s members (rabbitmq-queues)."""
    rows = json.loads(node.ctl("quorum_status", queue, "--formatter", "json",
                               tool="rabbitmq-queues"))
    members = []
    for row in rows:
        fields = {key.lower().replace(" ", "_"): value for key, value in row.items()}
        members.append((fields.get("node_name"), str(fields.get("raft_state")),
                        fields.get("commit_index")))
    return members


class LeaderKillTest(unittest.TestCase):
    def setUp(self):
        providers.reset()
        self.addCleanup(providers.reset)
        self.cluster = PrivateRabbitMQCluster()
        self.addCleanup(self.cluster.close)
        self.cluster.start()
        start_stack(self, env=dict(providers.worker_env(), WAVECOM_QUORUM_GROUP_SIZE="3",
                                   WAVECOM_SCHEDULER_INTERVAL_MS="200"),
                    amqp_url=self.cluster.url)
        self.hook = providers.WEBHOOK_URL + providers.register_tenant_webhooks(
            self.stack, self.tenant, "leader")

    def body_for(self, client, i):
        """Every channel in turn, every other one HIGH (the high_priority queue)."""
        tag = f"leader {client}-{i}"
        kind = (client + i) % 5
        body = [lambda: email(recipient=f"leader-{client}-{i}@example.com", subject=tag),
                lambda: sms(message=tag),
                lambda: push("fcm", message=tag),
                lambda: push("apns", message=tag),
                lambda: webhook(recipient=f"{self.hook}/{client}")][kind]()
        body["priority"] = "HIGH" if i % 2 else "MEDIUM"
        return body

    def deliveries(self, ids):
        """Deliveries per id as the catcher (EMAIL) and the doubles (the rest) received them."""
        docs = {str(d["_id"]): d for d in self.stack.db.notifications.find(
            {}, {"type": 1, "platform": 1})}
        per_id = {name: stats.get("per_id", {})
                  for name, stats in providers.stats(ids=True).items() if isinstance(stats, dict)}
        counts = mail_deliveries([nid for nid in ids if docs[nid]["type"] == "EMAIL"])
        for nid in ids:
            kind, platform = docs[nid]["type"], docs[nid].get("platform")
            if kind == "SMS":
                counts[nid] = per_id["twilio"].get(nid, 0)
            elif kind == "WEBHOOK":
                counts[nid] = per_id["webhook"].get(nid, 0)
            elif kind == "PUSH" and platform == "apns":
                apns_id = f"00000000-{nid[:4]}-{nid[4:8]}-{nid[8:12]}-{nid[12:]}"
                counts[nid] = per_id["apns"].get(apns_id, 0)
            elif kind == "PUSH":
                counts[nid] = per_id["fcm"].get(nid, 0)
        self.last_counts = counts
        return counts

    def api_node(self):
        nodes = connection_nodes(log_messages(self.stack, "api"))
        self.assertIn("wavecom-api-commit-0", nodes, "the group commit has no open connection")
        return self.cluster.node_on_port(nodes["wavecom-api-commit-0"])

    def high_priority_leader(self):
        rows = {row["name"]: row for row in quorum_queues(self.cluster.live_node())}
        return self.cluster.node_named(rows["high_priority"]["leader"])

    def running_count(self):
        via = self.cluster.nodes.index(self.cluster.live_node())
        try:
            return len(self.cluster.running_nodes(via=via))
        except Exception:  # the node asked may still be starting its CLI listener
            return 0

    def kill_wait_restart(self, victim, why):
        started = time.monotonic()
        victim.kill()
        time.sleep(DOWN_SECONDS)
        victim.start()
        wait_until(lambda: self.running_count() == 3, REJOIN_TIMEOUT, interval=1,
                   what=f"{victim.node} back in the cluster")
        print(f"leader kill: killed {why} {victim.node} (port {victim.port}); back in the cluster "
              f"after {time.monotonic() - started:.1f}s", flush=True)

    def replicas_in_sync(self):
        """None until every quorum queue has all three nodes as members, online, following one
        leader and committed to the same index; then the per-queue summary."""
        everyone = {node.node for node in self.cluster.nodes}
        summary = {}
        ask = self.cluster.live_node()
        for row in quorum_queues(ask):
            if set(row["members"]) != everyone or set(row["online"]) != everyone:
                return None
            members = raft_members(ask, row["name"])
            states = sorted(state for _, state, _ in members)
            commits = {index for _, _, index in members}
            if len(members) != 3 or states != ["follower", "follower", "leader"] or \
                    len(commits) != 1:
                return None
            summary[row["name"]] = commits.pop()
        return summary

    def test_kill_9_of_the_high_priority_leader_then_of_the_api_node(self):
        load = Load(self.stack, self.key, self.body_for, clients=4, pause=0.0, timeout=30)
        self.addCleanup(load.stopping.set)
        load.start()

        load.wait_accepted(TOTAL // 5, timeout=120)
        self.kill_wait_restart(self.high_priority_leader(), "the high_priority leader")
        load.wait_accepted(max(0, TOTAL // 2 - load.accepted_count()), timeout=120)
        self.kill_wait_restart(self.api_node(), "the API's node")
        load.wait_accepted(max(0, TOTAL - load.accepted_count()), timeout=180)
        load.stop()

        self.last_counts = {}
        try:
            result = reconcile(self, self.stack, load, self.deliveries,
                               "high_priority leader and API node killed", timeout=180,
                               duplicates_allowed=len(load.accepted))
        finally:
            self.explain_duplicates()
        self.assertGreaterEqual(len(result["sent"]), TOTAL)
        self.assertEqual(result["failed"], set())
        self.assertEqual(result["duplicates"], 0, "a notification was delivered twice")

        synced = wait_until(self.replicas_in_sync, SYNC_TIMEOUT, interval=1,
                            what="every quorum queue with 3 members online and in sync")
        print(f"leader kill: quorum queues in sync on 3 members, commit index per queue {synced}",
              flush=True)
        self.assertIsNone(self.stack.worker.poll(), "the worker master exited")

    def explain_duplicates(self):
        """Prints each id delivered more than once with its audit trail: which worker delivered
        it when, and why it was delivered again."""
        twice = {nid: n for nid, n in self.last_counts.items() if n > 1}
        print(f"leader kill: {len(twice)} notifications delivered more than once", flush=True)
        for nid, n in sorted(twice.items()):
            trail = [(e["seq"], e["status"], e.get("actor"), e.get("message"))
                     for e in self.stack.db.notification_logs.find(
                         {"notificationId": ObjectId(nid)}).sort("seq", 1)]
            print(f"  {nid}: {n} deliveries; trail {trail}", flush=True)


if __name__ == "__main__":
    unittest.main()
