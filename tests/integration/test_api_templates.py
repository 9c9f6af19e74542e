"""Templates: the /api/templates routes and their versions, rendering at intake per channel and
locale with the fallback chain, HTML escaping, missing variables, SMS segments, batches, and a
sent notification that keeps its content after its template changes."""
import unittest
import uuid

from bson import ObjectId

from api_support import call, field_rules, post, sms, wait_for
from harness import StackTestCase, mails_for

TEMPLATES = "/api/templates"


def template_body(name=None, **extra):
    """A template with an English default and Portuguese locales, as a notification sender would
    keep one: pt-BR has only an email body, pt email and SMS, en every channel."""
    body = {
        "name": name or f"order-shipped-{uuid.uuid4().hex[:8]}",
        "description": "An order left the warehouse",
        "defaultLocale": "en",
        "locales": {
            "en": {
                "EMAIL": {"subject": "Order {{order.id}} shipped",
                          "text": "Hi {{name}}, order {{order.id}} is on its way.",
                          "html": "<p>Hi {{name}}, order <b>{{order.id}}</b> is on its way.</p>"},
                "SMS": {"text": "Order {{order.id}} shipped{{#eta}}, arriving {{eta}}{{/eta}}."},
                "PUSH": {"title": "Shipped", "body": "Order {{order.id}} is on its way",
                         "data": {"orderId": "{{order.id}}", "screen": "orders"}},
                "WEBHOOK": {"payload": {"event": "order.shipped", "order": "{{order.id}}",
                                        "items": ["{{#items}}{{sku}} {{/items}}"], "version": 2},
                            "description": "shipped {{order.id}}"},
            },
            "pt": {
                "EMAIL": {"subject": "Pedido {{order.id}} enviado",
                          "text": "Olá {{name}}, o pedido {{order.id}} está a caminho."},
                "SMS": {"text": "Pedido {{order.id}} enviado."},
            },
            "pt-BR": {
                "EMAIL": {"subject": "Seu pedido {{order.id}} foi enviado",
                          "text": "Oi {{name}}, seu pedido {{order.id}} já está a caminho."},
            },
        },
    }
    body.update(extra)
    return body


DATA = {"name": "Ana", "order": {"id": "A-1001"}, "eta": "Friday",
        "items": [{"sku": "x1"}, {"sku": "y2"}]}


class TemplatesTest(StackTestCase):
    """No worker: the API renders, stores and answers."""

    def create(self, body=None, key=None):
        r = call(self.stack, "POST", TEMPLATES, body=body or template_body(), key=key or self.key)
        self.assertEqual(r.status, 201, r)
        return r.json["data"]

    def send(self, **fields):
        return post(self.stack, self.key, fields)

    def stored(self, nid):
        return self.stack.db.notifications.find_one({"_id": ObjectId(nid)})

    def test_create_read_edit_list_delete(self):
        body = template_body()
        r = call(self.stack, "POST", TEMPLATES, body=body, key=self.key)
        self.assertEqual(r.status, 201, r)
        t = r.json["data"]
        self.assertEqual(r.header("Location"), f"{TEMPLATES}/{t['_id']}")
        self.assertEqual((t["name"], t["version"], t["latestVersion"]), (body["name"], 1, 1))
        self.assertEqual(t["locales"], body["locales"])
        self.assertEqual(call(self.stack, "POST", TEMPLATES, body=body, key=self.key).status, 409)

        # An edit replaces the locales it names (null removes one) and keeps version 1 readable.
        r = call(self.stack, "PATCH", f"{TEMPLATES}/{t['_id']}", key=self.key, body={
            "locales": {"pt-BR": None, "pt": {"SMS": {"text": "Pedido {{order.id}}!"}}}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["data"]["version"], r.json["data"]["latestVersion"]), (2, 2))
        self.assertEqual(sorted(r.json["data"]["locales"]), ["en", "pt"])
        self.assertEqual(r.json["data"]["locales"]["pt"], {"SMS": {"text": "Pedido {{order.id}}!"}})
        old = call(self.stack, "GET", f"{TEMPLATES}/{t['_id']}?version=1", key=self.key)
        self.assertEqual(old.status, 200, old)
        self.assertEqual((old.json["data"]["version"], old.json["data"]["latestVersion"]), (1, 2))
        self.assertEqual(old.json["data"]["locales"], body["locales"])
        latest = call(self.stack, "GET", f"{TEMPLATES}/{t['_id']}", key=self.key)
        self.assertEqual(latest.json["data"]["version"], 2)
        self.assertEqual(call(self.stack, "GET", f"{TEMPLATES}/{t['_id']}?version=3",
                              key=self.key).status, 404)

        # The list pages by name, without content.
        _, key = self.stack.new_tenant_key()
        names = ["c-third", "a-first", "b-second"]
        for name in names:
            self.create(template_body(name), key=key)
        page = call(self.stack, "GET", f"{TEMPLATES}?limit=2&page=1", key=key).json["data"]
        self.assertEqual([x["name"] for x in page["templates"]], ["a-first", "b-second"])
        self.assertNotIn("locales", page["templates"][0])
        page2 = call(self.stack, "GET", f"{TEMPLATES}?limit=2&page=2", key=key).json["data"]
        self.assertEqual([x["name"] for x in page2["templates"]], ["c-third"])
        # Another tenant's template is not found.
        self.assertEqual(call(self.stack, "GET", f"{TEMPLATES}/{t['_id']}", key=key).status, 404)
        self.assertEqual(call(self.stack, "DELETE", f"{TEMPLATES}/{t['_id']}", key=key).status, 404)

        r = call(self.stack, "DELETE", f"{TEMPLATES}/{t['_id']}", key=self.key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(call(self.stack, "GET", f"{TEMPLATES}/{t['_id']}", key=self.key).status,
                         404)
        self.assertIsNone(self.stack.db.templates.find_one({"_id": ObjectId(t["_id"])}))

    def test_each_channel_renders_along_the_locale_chain(self):
        t = self.create()
        cases = [
            # (type, locale asked, locale used, the fields a notification of it has)
            ("EMAIL", "pt-BR", "pt-BR", {"subject": "Seu pedido A-1001 foi enviado",
                                         "message": "Oi Ana, seu pedido A-1001 já está a caminho."}),
            ("EMAIL", "pt-PT", "pt", {"subject": "Pedido A-1001 enviado",
                                      "message": "Olá Ana, o pedido A-1001 está a caminho."}),
            ("SMS", "pt-BR", "pt", {"message": "Pedido A-1001 enviado."}),
            ("SMS", "fr", "en", {"message": "Order A-1001 shipped, arriving Friday."}),
            ("PUSH", "pt-BR", "en", {"title": "Shipped", "message": "Order A-1001 is on its way",
                                     "data": {"orderId": "A-1001", "screen": "orders"}}),
            ("WEBHOOK", None, "en", {"message": "shipped A-1001",
                                     "payload": {"event": "order.shipped", "order": "A-1001",
                                                 "items": ["x1 y2 "], "version": 2}}),
            ("EMAIL", None, "en", {"subject": "Order A-1001 shipped",
                                   "message": "Hi Ana, order A-1001 is on its way.",
                                   "html": "<p>Hi Ana, order <b>A-1001</b> is on its way.</p>"}),
        ]
        recipients = {"EMAIL": "ana@example.com", "SMS": "+14155550100",
                      "PUSH": "fcm:APA91b_token-1.2", "WEBHOOK": "https://hooks.example.com/w"}
        for channel, asked, used, fields in cases:
            with self.subTest(channel=channel, locale=asked):
                body = {"type": channel, "recipient": recipients[channel], "templateId": t["_id"],
                        "data": DATA}
                if channel == "PUSH":
                    body["platform"] = "fcm"
                if asked:
                    body["locale"] = asked
                r = post(self.stack, self.key, body)
                self.assertEqual(r.status, 201, r)
                ref = r.json["data"]["template"]
                self.assertEqual((ref["id"], ref["version"], ref["locale"]), (t["_id"], 1, used))
                doc = self.stored(r.json["data"]["_id"])
                for name, value in fields.items():
                    self.assertEqual(doc[name], value, name)
                self.assertEqual(doc["template"]["locale"], used)
                if channel != "EMAIL" or asked:
                    self.assertNotIn("html", doc)

    def test_markup_in_data_is_escaped_in_html_and_kept_in_text(self):
        t = self.create()
        evil = "<script>alert('x')</script>"
        r = self.send(type="EMAIL", recipient="ana@example.com", templateId=t["_id"],
                      data={"name": evil, "order": {"id": "A&B"}})
        self.assertEqual(r.status, 201, r)
        doc = self.stored(r.json["data"]["_id"])
        self.assertEqual(doc["message"], f"Hi {evil}, order A&B is on its way.")
        self.assertEqual(doc["subject"], "Order A&B shipped")
        self.assertEqual(doc["html"], "<p>Hi &lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;, "
                                      "order <b>A&amp;B</b> is on its way.</p>")

    def test_missing_variables_are_named_and_nothing_is_stored(self):
        t = self.create()
        before = self.stack.db.notifications.count_documents({})
        r = self.send(type="EMAIL", recipient="ana@example.com", templateId=t["_id"],
                      data={"order": {}})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(field_rules(r), [("data", "missing")])
        message = r.json["errors"][0]["message"]
        self.assertIn("order.id", message)
        self.assertIn("name", message)
        # A section the data leaves out is a missing name too; false or [] make it empty.
        r = self.send(type="SMS", recipient="+14155550100", templateId=t["_id"],
                      data={"order": {"id": "1"}})
        self.assertEqual(field_rules(r), [("data", "missing")])
        self.assertIn("eta", r.json["errors"][0]["message"])
        r = self.send(type="SMS", recipient="+14155550100", templateId=t["_id"],
                      data={"order": {"id": "1"}, "eta": False})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.stored(r.json["data"]["_id"])["message"], "Order 1 shipped.")
        self.assertEqual(self.stack.db.notifications.count_documents({}), before + 1)

    def test_sms_segments_are_reported_and_capped(self):
        t = self.create(template_body(locales={"en": {"SMS": {"text": "{{text}}"}}}))

        def send(text):
            return self.send(type="SMS", recipient="+14155550100", templateId=t["_id"],
                             data={"text": text})
        for text, encoding, segments in (("a" * 160, "GSM-7", 1), ("a" * 161, "GSM-7", 2),
                                         ("{" * 80, "GSM-7", 1), ("ç" * 70, "UCS-2", 1),
                                         ("ç" * 71, "UCS-2", 2), ("a" * 1530, "GSM-7", 10)):
            r = send(text)
            self.assertEqual(r.status, 201, r)
            ref = r.json["data"]["template"]
            self.assertEqual((ref["smsEncoding"], ref["smsSegments"]), (encoding, segments), text[:3])
        for text in ("a" * 1531, "ç" * 671):
            r = send(text)
            self.assertEqual(field_rules(r), [("message", "segments")], r)
            self.assertIn("11 segments", r.json["errors"][0]["message"])

    def test_batch_renders_each_item(self):
        t = self.create()
        items = [
            {"type": "SMS", "recipient": "+14155550100", "templateId": t["_id"], "data": DATA},
            {"type": "SMS", "recipient": "+14155550101", "templateId": t["_id"], "data": {}},
            sms(),
            {"type": "EMAIL", "recipient": "b@example.com", "templateId": t["_id"],
             "locale": "pt", "data": DATA},
        ]
        r = call(self.stack, "POST", "/api/notifications/batch", body={"notifications": items},
                 key=self.key)
        self.assertEqual(r.status, 207, r)
        results = r.json["data"]["results"]
        self.assertEqual([x["code"] for x in results], [201, 400, 201, 201])
        self.assertEqual([(e["field"], e["rule"]) for e in results[1]["errors"]],
                         [("data", "missing")])
        self.assertEqual(results[0]["template"]["smsSegments"], 1)
        self.assertNotIn("template", results[2])
        self.assertEqual(self.stored(results[0]["id"])["message"],
                         "Order A-1001 shipped, arriving Friday.")
        self.assertEqual(self.stored(results[3]["id"])["subject"], "Pedido A-1001 enviado")

    def test_a_version_can_be_named(self):
        t = self.create()
        r = call(self.stack, "PATCH", f"{TEMPLATES}/{t['_id']}", key=self.key, body={
            "locales": {"en": {"SMS": {"text": "v2 {{order.id}}"}}}})
        self.assertEqual(r.status, 200, r)
        for version, text in ((None, "v2 A-1001"), (1, "Order A-1001 shipped, arriving Friday."),
                              (2, "v2 A-1001")):
            body = {"type": "SMS", "recipient": "+14155550100", "templateId": t["_id"],
                    "data": DATA}
            if version:
                body["version"] = version
            r = post(self.stack, self.key, body)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(self.stored(r.json["data"]["_id"])["message"], text)
            self.assertEqual(r.json["data"]["template"]["version"], version or 2)

    def test_bad_template_bodies_are_refused_naming_field_and_rule(self):
        cases = [
            ({}, ("name", "required")),
            (template_body(name="has space"), ("name", "format")),
            (template_body(colour="red"), ("colour", "unknown")),
            (template_body(defaultLocale="english"), ("defaultLocale", "locale")),
            (template_body(defaultLocale="fr"), ("defaultLocale", "exists")),
            (template_body(locales=[]), ("locales", "type")),
            (template_body(locales={"EN_us": {"SMS": {"text": "x"}}}, defaultLocale="en"),
             ("locales.EN_us", "locale")),
            (template_body(locales={"en": {"FAX": {"text": "x"}}}), ("locales.en.FAX", "enum")),
            (template_body(locales={"en": {"SMS": {}}}), ("locales.en.SMS.text", "required")),
            (template_body(locales={"en": {"SMS": {"text": 5}}}), ("locales.en.SMS.text", "type")),
            (template_body(locales={"en": {"SMS": {"text": "x", "html": "y"}}}),
             ("locales.en.SMS.html", "unknown")),
            (template_body(locales={"en": {"SMS": {"text": "{{#open}}x"}}}),
             ("locales.en.SMS.text", "mustache")),
            (template_body(locales={"en": {"SMS": {"text": "x" * 8193}}}),
             ("locales.en.SMS.text", "size")),
            (template_body(locales={"en": {"PUSH": {"body": "x", "data": {"k": 1}}}}),
             ("locales.en.PUSH.data", "type")),
            (template_body(locales={"en": {"WEBHOOK": {"payload": "x"}}}),
             ("locales.en.WEBHOOK.payload", "type")),
            (template_body(locales={"en": {"WEBHOOK": {"payload": {"a": "{{/x}}"}}}}),
             ("locales.en.WEBHOOK.payload", "mustache")),
        ]
        before = self.stack.db.templates.count_documents({})
        for body, expected in cases:
            with self.subTest(expected=expected):
                r = call(self.stack, "POST", TEMPLATES, body=body, key=self.key)
                self.assertEqual(r.status, 400, r)
                self.assertIn(expected, field_rules(r))
        self.assertEqual(self.stack.db.templates.count_documents({}), before)

        t = self.create()
        path = f"{TEMPLATES}/{t['_id']}"
        for method, url, body, expected in [
            ("PATCH", path, {"name": "other"}, ("name", "immutable")),
            ("PATCH", path, {}, ("body", "required")),
            ("PATCH", path, {"defaultLocale": "de"}, ("defaultLocale", "exists")),
            ("PATCH", path, {"locales": {"en": None}}, ("defaultLocale", "exists")),
            ("PATCH", f"{TEMPLATES}/nope", {"description": "x"}, ("id", "objectid")),
            ("GET", f"{path}?version=0", None, ("version", "range")),
            ("GET", f"{path}?version=x", None, ("version", "type")),
            ("GET", f"{path}?colour=red", None, ("colour", "unknown")),
            ("GET", f"{TEMPLATES}?limit=1000", None, ("limit", "range")),
            ("DELETE", f"{path}?x=1", None, ("x", "unknown")),
        ]:
            with self.subTest(method=method, url=url, body=body):
                r = call(self.stack, method, url, body=body, key=self.key)
                self.assertEqual(r.status, 400, r)
                self.assertIn(expected, field_rules(r))
        self.assertEqual(call(self.stack, "GET", path, key=self.key).json["data"]["version"], 1)

    def test_bad_template_fields_of_a_notification_are_refused(self):
        t = self.create()
        base = {"type": "SMS", "recipient": "+14155550100", "templateId": t["_id"], "data": DATA}
        other = str(ObjectId())
        cases = [
            ({"templateId": "x"}, ("templateId", "objectid")),
            ({"templateId": other}, ("templateId", "exists")),
            ({"version": "1"}, ("version", "range")),
            ({"version": 7}, ("version", "exists")),
            ({"locale": "Portuguese"}, ("locale", "locale")),
            ({"data": [1]}, ("data", "type")),
            ({"message": "hi"}, ("message", "unexpected")),
            ({"type": "FAX"}, ("type", "enum")),
        ]
        before = self.stack.db.notifications.count_documents({})
        for change, expected in cases:
            with self.subTest(change=change):
                r = post(self.stack, self.key, {**base, **change})
                self.assertEqual(r.status, 400, r)
                self.assertIn(expected, field_rules(r))
        # A template without a body for the channel in any locale of the chain.
        only_sms = self.create(template_body(locales={"en": {"SMS": {"text": "x"}}}))
        r = post(self.stack, self.key, {"type": "EMAIL", "recipient": "a@example.com",
                                        "templateId": only_sms["_id"], "locale": "pt-BR"})
        self.assertEqual(field_rules(r), [("type", "template_channel")])
        # The rendered content meets the notification's own rules.
        long_subject = self.create(template_body(locales={"en": {"EMAIL": {
            "subject": "{{s}}", "text": "x"}}}))
        r = post(self.stack, self.key, {"type": "EMAIL", "recipient": "a@example.com",
                                        "templateId": long_subject["_id"], "data": {"s": "x" * 300}})
        self.assertEqual(field_rules(r), [("subject", "length")])
        self.assertEqual(self.stack.db.notifications.count_documents({}), before)

    def test_a_viewer_reads_but_does_not_write(self):
        tenant, viewer = self.stack.new_tenant_key(role="viewer")
        r = call(self.stack, "POST", TEMPLATES, body=template_body(), key=viewer)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(call(self.stack, "GET", TEMPLATES, key=viewer).status, 200)


class TemplateSendTest(StackTestCase):
    """With a worker: what was sent is what was rendered, whatever the template became."""

    WORKER = True

    def test_an_edit_after_sending_changes_nothing_sent(self):
        r = call(self.stack, "POST", TEMPLATES, body=template_body(), key=self.key)
        self.assertEqual(r.status, 201, r)
        tid = r.json["data"]["_id"]
        marker = uuid.uuid4().hex[:8]
        recipient = f"tpl-{marker}@example.com"
        data = {"name": f"Ana <{marker}>", "order": {"id": marker}}
        r = post(self.stack, self.key, {"type": "EMAIL", "recipient": recipient,
                                        "templateId": tid, "data": data})
        self.assertEqual(r.status, 201, r)
        nid = r.json["data"]["_id"]
        text = f"Hi Ana <{marker}>, order {marker} is on its way."

        r = call(self.stack, "PATCH", f"{TEMPLATES}/{tid}", key=self.key, body={
            "locales": {"en": {"EMAIL": {"subject": "Changed {{order.id}}", "text": "Changed"}}}})
        self.assertEqual(r.status, 200, r)

        got = self.stack.wait_for_status(self.key, nid, "SENT", timeout=30).json["data"]
        n = got["notification"]
        self.assertEqual((n["subject"], n["message"]), (f"Order {marker} shipped", text))
        self.assertEqual(n["template"], {"id": tid, "version": 1, "locale": "en"})
        mails = wait_for(lambda: mails_for([nid]).get(nid), 10, what="the mail in the catcher")
        self.assertEqual(len(mails), 1)
        self.assertEqual(str(mails[0]["Subject"]), f"Order {marker} shipped")
        self.assertEqual(mails[0].get_content_type(), "multipart/alternative")
        plain = mails[0].get_body(preferencelist=("plain",))
        self.assertEqual(plain.get_content().replace("\r\n", "\n"), text)
        html = mails[0].get_body(preferencelist=("html",))
        self.assertEqual(html.get_content(), f"<p>Hi Ana &lt;{marker}&gt;, order <b>{marker}</b> "
                                             "is on its way.</p>")

        # The next notification gets the new version.
        r = post(self.stack, self.key, {"type": "EMAIL", "recipient": recipient,
                                        "templateId": tid, "data": data})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["data"]["subject"], r.json["data"]["template"]["version"]),
                         (f"Changed {marker}", 2))


if __name__ == "__main__":
    unittest.main()
