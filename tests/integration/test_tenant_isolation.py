"""A tenant only ever sees its own notifications."""
import unittest

from harness import StackTestCase


class TenantIsolationTest(StackTestCase):
    WORKER = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tenant_a, cls.key_a = cls.tenant, cls.key
        cls.tenant_b, cls.key_b = cls.stack.new_tenant_key(role="admin")

    def test_other_tenant_gets_404_indistinguishable_from_missing(self):
        r = self.stack.create_email(self.key_a, "iso@example.com", "private", "for A only")
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        self.assertEqual(r.json["data"]["tenantId"], self.tenant_a)

        self.assertEqual(self.stack.get(self.key_a, nid).status, 200)
        other = self.stack.get(self.key_b, nid)
        missing = self.stack.get(self.key_b, "0" * 24)
        self.assertEqual(other.status, 404, other)
        self.assertEqual(other.json, missing.json)
        # Even an admin key of tenant B: roles never cross tenants.
        self.assertNotIn("for A only", other.raw.decode())

    def test_document_carries_its_tenant(self):
        r = self.stack.create_email(self.key_b, "iso-b@example.com", "s", "m")
        self.assertEqual(r.status, 201, r)
        doc = self.stack.db.notifications.find_one({"recipient": "iso-b@example.com"})
        self.assertEqual(doc["tenantId"], self.tenant_b)

    def test_keys_are_stored_only_as_hashes(self):
        for key in (self.key_a, self.key_b):
            self.assertEqual(self.stack.db.api_keys.count_documents({"_id": key}), 0)
            dump = str(list(self.stack.db.api_keys.find({})))
            self.assertNotIn(key, dump)
        for tenant in (self.tenant_a, self.tenant_b):
            record = self.stack.db.api_keys.find_one({"tenantId": tenant})
            self.assertRegex(record["_id"], "^[0-9a-f]{64}$")

    def test_disabled_tenant_key_is_refused(self):
        tenant, key = self.stack.new_tenant_key(role="sender")
        self.assertEqual(self.stack.get(key, "0" * 24).status, 404)
        self.stack.db.tenants.update_one({"_id": tenant}, {"$set": {"disabled": True}})
        self.assertEqual(self.stack.get(key, "0" * 24).status, 401)


if __name__ == "__main__":
    unittest.main()
