"""A queue message that cannot be delivered goes to the DLQ with a reason, once.

Two kinds of poison are put on the standard queue directly (tests/tools/
publish_raw), as the API never would: a body that is not a queue message at
all, and a well-formed message whose notification does not exist. Neither may
loop between the queue and the worker: each lands in the dead-letter queue
exactly once, with why, and the worker goes on delivering the next
notification as if nothing happened.
"""
import json
import os
import subprocess
import time
import unittest

import bson

from harness import BUILD_DIR, CTL_BIN, mails_for, purge_queues, stack_for_test, wait_until

PUBLISH_RAW = os.path.join(BUILD_DIR, "tests", "publish_raw")
DLQ = "notifications_dlq"


class PoisonMessageTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        stack_for_test(self, workers=1)

    def publish_raw(self, body):
        subprocess.run([PUBLISH_RAW, "notifications", body], env=self.stack.env, check=True,
                       capture_output=True, timeout=30)

    def ctl_json(self, *args):
        out = subprocess.run([CTL_BIN, *args, "--json"], env=self.stack.env, check=True,
                             capture_output=True, text=True, timeout=60).stdout
        return json.loads(out)

    def dlq_depth(self):
        rows = self.ctl_json("queues", "--no-management")
        return {row["queue"]: row["ready"] for row in rows}[DLQ]

    def test_undecodable_and_orphan_messages_are_dead_lettered_once(self):
        missing = str(bson.ObjectId())
        self.publish_raw("this is not a queue message {")
        self.publish_raw(json.dumps({"notificationId": missing, "tenantId": self.tenant,
                                     "type": "EMAIL", "priority": "MEDIUM", "retryCount": 0}))
        wait_until(lambda: self.dlq_depth() == 2, 30, interval=0.5,
                   what="both poison messages in the DLQ")
        rows = self.ctl_json("dlq", "list", "--limit", "100")
        undecodable = [r for r in rows if r.get("undecodable")]
        orphan = [r for r in rows if r.get("id") == missing]
        self.assertEqual(len(undecodable), 1, rows)
        self.assertTrue(undecodable[0]["error"], rows)
        self.assertEqual(len(orphan), 1, rows)
        self.assertIn("not found", orphan[0]["error"])

        # The worker did not get stuck on them: a real notification still goes through.
        r = self.stack.create_email(self.key, "after-poison@example.com", "after poison", "body")
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        self.stack.wait_for_status(self.key, nid, "SENT", timeout=30)
        self.assertEqual(len(mails_for([nid]).get(nid, [])), 1)
        # And they stay dead-lettered once: no loop brought them back.
        time.sleep(2)
        self.assertEqual(self.dlq_depth(), 2)


if __name__ == "__main__":
    unittest.main()
