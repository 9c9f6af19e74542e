"""wavecomctl tenant list|disable and apikey list|revoke, checked against the API's answers."""
import json
import unittest

from harness import Stack, close_cleanly


class CtlAdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Keys are looked up on every request, so a revocation shows at once.
        cls.stack = Stack(workers=1, env={"WAVECOM_API_AUTH_CACHE_SECONDS": "0"})
        cls.stack.start_api()

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def ctl_json(self, *args):
        r = self.stack.ctl(*args, "--json")
        return json.loads(r.stdout)

    def status_with(self, key):
        return self.stack.request("GET", "/api/notifications", key=key).status

    def test_apikey_list_shows_hints_only_and_revoke_stops_the_key(self):
        tenant, key = self.stack.new_tenant_key(role="viewer")
        _, other = self.stack.new_tenant_key(role="viewer")
        keys = self.ctl_json("apikey", "list", "--tenant", tenant)
        self.assertEqual(len(keys), 1)
        self.assertEqual(keys[0]["hint"], key[:12])
        self.assertEqual((keys[0]["tenant"], keys[0]["role"], keys[0]["revoked"]), (tenant, "viewer", False))
        self.assertNotIn(key, self.stack.ctl("apikey", "list").stdout)
        self.assertEqual(self.status_with(key), 200)

        r = self.stack.ctl("apikey", "revoke", key[:12])
        self.assertIn("revoked", r.stdout)
        self.assertEqual(self.status_with(key), 401)
        self.assertEqual(self.status_with(other), 200)
        self.assertTrue(self.ctl_json("apikey", "list", "--tenant", tenant)[0]["revoked"])

        missing = self.stack.ctl("apikey", "revoke", "wck_00000000", check=False)
        self.assertEqual(missing.returncode, 3)
        bad = self.stack.ctl("apikey", "revoke", "nonsense", check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertEqual(len(bad.stderr.strip().splitlines()), 1)

    def test_tenant_list_and_disable(self):
        tenant, key = self.stack.new_tenant_key(role="viewer")
        rows = {t["id"]: t for t in self.ctl_json("tenant", "list")}
        self.assertIn(tenant, rows)
        self.assertFalse(rows[tenant]["disabled"])
        self.assertNotIn("webhookSecret", self.stack.ctl("tenant", "list", "--json").stdout)
        self.assertEqual(self.status_with(key), 200)

        self.stack.ctl("tenant", "disable", tenant)
        self.assertEqual(self.status_with(key), 401)
        self.assertTrue({t["id"]: t for t in self.ctl_json("tenant", "list")}[tenant]["disabled"])
        refused = self.stack.ctl("apikey", "create", "--tenant", tenant, check=False)
        self.assertEqual(refused.returncode, 3)
        missing = self.stack.ctl("tenant", "disable", "no-such-tenant", check=False)
        self.assertEqual(missing.returncode, 3)


if __name__ == "__main__":
    unittest.main()
