"""With WAVECOM_SECRETS_KEY (here from a *_FILE), a tenant's webhook secret is
stored sealed, never as itself; wavecomctl shows it to hand over, and the
worker still signs with it (the double verifies the signature). API keys are
only ever stored as their SHA-256 (test_tenant_isolation)."""
import os
import tempfile
import unittest

import providers
from harness import Stack, purge_queues


class SecretsAtRestTest(unittest.TestCase):
    def setUp(self):
        purge_queues()
        providers.reset()
        fd, self.keyfile = tempfile.mkstemp(prefix="wavecom-secrets-key-")
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        env = providers.worker_env()
        env["WAVECOM_SECRETS_KEY_FILE"] = self.keyfile
        self.stack = Stack(workers=1, env=env)
        self.stack.start_api()
        self.stack.start_worker()

    def tearDown(self):
        codes = self.stack.close()
        os.unlink(self.keyfile)
        self.assertEqual(codes, {"api": 0, "worker": 0}, self.stack.log("worker"))

    def test_webhook_secret_sealed_and_still_signing(self):
        tenant, key = self.stack.new_tenant_key()
        stored = self.stack.db.tenants.find_one({"_id": tenant})["webhookSecret"]
        self.assertTrue(stored.startswith("enc:v1:"), stored)
        secret = self.stack.ctl("tenant", "secret", tenant).stdout.strip()
        self.assertRegex(secret, r"^whsec_[A-Za-z0-9+/=]{32}$")
        self.assertNotIn(secret[len("whsec_"):], stored)
        providers.register_webhook_secret(f"/sealed-{tenant}", secret)

        r = self.stack.request("POST", "/api/notifications", key=key, body={
            "type": "WEBHOOK", "recipient": providers.WEBHOOK_URL + f"/sealed-{tenant}/hook",
            "message": "m", "payload": {"sealed": True}})
        self.assertEqual(r.status, 201, r)
        self.stack.wait_for_status(key, r.json["data"]["_id"], "SENT", 30)

        # Without the key the sealed secret cannot be read: a wrong key is refused, not guessed.
        env = dict(self.stack.env)
        env.pop("WAVECOM_SECRETS_KEY_FILE")
        env["WAVECOM_SECRETS_KEY"] = "00" * 32
        import subprocess
        from harness import CTL_BIN
        wrong = subprocess.run([CTL_BIN, "tenant", "secret", tenant], env=env,
                               capture_output=True, text=True, timeout=60)
        self.assertNotEqual(wrong.returncode, 0)
        self.assertNotIn("whsec_", wrong.stdout)

        audit = self.stack.request("GET", "/api/audit",
                                   key=self.stack.ctl("apikey", "create", "--tenant", tenant,
                                                      "--role", "admin").stdout.strip())
        self.assertIn("tenant.secret.show", [e["action"] for e in audit.json["data"]["events"]])


if __name__ == "__main__":
    unittest.main()
