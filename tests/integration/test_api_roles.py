"""Every route x role cell of the permission table in docs/API.md, checked against
the running API; cross-tenant reads, cancels and replays answer exactly like a
missing id (404); administrative actions land in the audit trail."""
import base64
import hashlib
import hmac
import json
import os
import re
import time
import unittest

from api_support import started, email, post
from harness import Stack, close_cleanly

ROLES = ("admin", "operator", "sender", "viewer")
JWT_SECRET = "a-dashboard-secret-of-32-chars-or-more"


def jwt(claims, secret=JWT_SECRET, alg="HS256"):
    """A compact HS256 JWS, the way a dashboard's login service would mint one."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"
API_DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "API.md")


def role_table():
    """{(method, path): {role: allowed}} from the "Roles" table of docs/API.md."""
    with open(API_DOC, encoding="utf-8") as f:
        text = f.read()
    section = text.split("### Roles and permissions", 1)[1].split("\n#", 1)[0]
    matrix = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`(GET|POST) ([^`]+)`\s*\|(.*)\|\s*$", line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(3).split("|")]
        # The columns: admin, operator, sender, viewer, no key.
        matrix[(m.group(1), m.group(2))] = dict(zip(ROLES + ("none",), (c == "yes" for c in cells)))
    return matrix


class RoleMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = started(Stack(workers=1, env={"WAVECOM_JWT_SECRET": JWT_SECRET}), worker=False)
        cls.tenant, cls.admin = cls.stack.new_tenant_key(role="admin")
        cls.keys = {"admin": cls.admin}
        for role in ROLES[1:]:
            cls.keys[role] = cls.stack.ctl("apikey", "create", "--tenant", cls.tenant,
                                           "--role", role).stdout.strip()
        cls.keys["none"] = None
        cls.other_tenant, cls.other_admin = cls.stack.new_tenant_key(role="admin")

    @classmethod
    def tearDownClass(cls):
        close_cleanly(cls.stack)

    def new_id(self):
        r = post(self.stack, self.admin, email(subject="roles"))
        self.assertEqual(r.status, 201, r)
        return r.json["data"]["_id"]

    def call(self, method, path, key):
        body = None
        if method == "POST" and path == "/api/notifications":
            body = email(subject="roles")
        elif method == "POST" and path.endswith("/batch"):
            body = {"notifications": [email(subject="roles batch")]}
        return self.stack.request(method, path, body=body, key=key)

    def test_every_cell_of_the_documented_table(self):
        matrix = role_table()
        self.assertGreaterEqual(len(matrix), 10, "the Roles table of docs/API.md is missing or short")
        for (method, template), allowed in sorted(matrix.items()):
            for role, may in allowed.items():
                with self.subTest(route=f"{method} {template}", role=role):
                    path = template.replace("{id}", self.new_id())
                    r = self.call(method, path, self.keys[role])
                    if may:
                        self.assertNotIn(r.status, (401, 403), r)
                        self.assertLess(r.status, 500, r)
                    elif role == "none":
                        self.assertEqual(r.status, 401, r)
                    else:
                        self.assertEqual(r.status, 403, r)

    def test_dashboard_jwts_map_to_the_same_roles(self):
        matrix = role_table()
        exp = int(time.time()) + 600
        for role in ROLES:
            token = jwt({"tenant": self.tenant, "role": role, "sub": f"user-{role}", "exp": exp})
            for (method, template), allowed in sorted(matrix.items()):
                if template in ("/api/health", "/api/metrics"):
                    continue
                with self.subTest(route=f"{method} {template}", role=role):
                    r = self.call(method, template.replace("{id}", self.new_id()), token)
                    self.assertEqual(r.status == 403, not allowed[role], r)
                    self.assertNotEqual(r.status, 401, r)
        refused = {
            "expired": jwt({"tenant": self.tenant, "role": "admin", "exp": int(time.time()) - 1}),
            "no exp": jwt({"tenant": self.tenant, "role": "admin"}),
            "wrong secret": jwt({"tenant": self.tenant, "role": "admin", "exp": exp}, secret="x" * 40),
            "alg none": jwt({"tenant": self.tenant, "role": "admin", "exp": exp}, alg="none"),
            "unknown role": jwt({"tenant": self.tenant, "role": "root", "exp": exp}),
            "unknown tenant": jwt({"tenant": "f" * 24, "role": "admin", "exp": exp}),
        }
        for why, token in refused.items():
            with self.subTest(refused=why):
                self.assertEqual(self.stack.request("GET", "/api/notifications", key=token).status, 401)
        # A user's actions are attributed to the user.
        token = jwt({"tenant": self.tenant, "role": "operator", "sub": "ana", "exp": exp})
        nid = self.new_id()
        self.assertEqual(self.stack.request("POST", f"/api/notifications/{nid}/cancel", key=token).status, 200)
        events = self.stack.request("GET", "/api/audit?limit=100", key=self.admin).json["data"]["events"]
        cancel = next(e for e in events if e["target"] == nid)
        self.assertEqual(cancel["actor"], f"api:jwt:{self.tenant}:ana")

    def test_the_table_covers_every_documented_operation(self):
        import yaml
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "schemas", "openapi.yaml")) as f:
            spec = yaml.safe_load(f)
        documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item
                      if m in ("get", "post")}
        self.assertEqual(documented, set(role_table()))

    def test_other_tenants_ids_look_missing(self):
        mine = self.new_id()
        missing = "0" * 24
        for action in ("", "/cancel", "/replay"):
            method = "GET" if action == "" else "POST"
            with self.subTest(action=action or "read"):
                theirs = self.stack.request(method, f"/api/notifications/{mine}{action}",
                                            key=self.other_admin)
                none = self.stack.request(method, f"/api/notifications/{missing}{action}",
                                          key=self.other_admin)
                self.assertEqual(theirs.status, 404, theirs)
                self.assertEqual(theirs.json, none.json)
        # Nothing happened to it.
        got = self.stack.get(self.admin, mine)
        self.assertNotIn(got.json["data"]["notification"]["status"], ("CANCELLED",))

    def test_replay_of_a_failed_notification_and_the_audit_trail(self):
        nid = self.new_id()
        from bson import ObjectId
        self.stack.db.notifications.update_one({"_id": ObjectId(nid)},
                                               {"$set": {"status": "FAILED", "retryCount": 3}})
        r = self.stack.request("POST", f"/api/notifications/{nid}/replay", key=self.keys["operator"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["data"]["status"], "QUEUED")
        self.assertEqual(r.json["data"]["retryCount"], 0)
        again = self.stack.request("POST", f"/api/notifications/{nid}/replay", key=self.admin)
        self.assertEqual(again.status, 409, again)
        c = self.stack.request("POST", f"/api/notifications/{self.new_id()}/cancel",
                               key=self.keys["operator"])
        self.assertEqual(c.status, 200, c)

        audit = self.stack.request("GET", "/api/audit?limit=100", key=self.admin)
        self.assertEqual(audit.status, 200, audit)
        events = audit.json["data"]["events"]
        actions = {e["action"] for e in events}
        self.assertTrue({"notification.replay", "notification.cancel", "apikey.create",
                         "tenant.create"} <= actions, actions)
        replay = next(e for e in events if e["action"] == "notification.replay")
        self.assertEqual(replay["target"], nid)
        self.assertRegex(replay["actor"], r"^api:key:[0-9a-f]{16}$")
        self.assertRegex(replay["at"], r"^\d{4}-\d\d-\d\dT")
        self.assertTrue(all(e["tenantId"] == self.tenant for e in events))
        cli = next(e for e in events if e["action"] == "apikey.create")
        self.assertTrue(cli["actor"].startswith("wavecomctl:"), cli)
        # Nothing of another tenant's trail, and no key in it.
        other = self.stack.request("GET", "/api/audit", key=self.other_admin)
        self.assertNotIn(nid, other.raw.decode())
        for key in self.keys.values():
            if key:
                self.assertNotIn(key, audit.raw.decode())


if __name__ == "__main__":
    unittest.main()
