package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWebhookVerifiesStandardWebhooksSignatures(t *testing.T) {
	dir := t.TempDir()
	defaultSecret, defaultKey := newWebhookSecret()
	secretsFile := filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(secretsFile, []byte(`{"*":"`+defaultSecret+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o := testOptions(dir)
	o.webhookSecretsFile = secretsFile
	ti := startWith(t, o, dir)

	// A tenant registered at run time gets its own secret for its paths.
	tenantSecret, tenantKey := newWebhookSecret()
	if code, body := ti.control(t, "POST", "/_control/webhook/secrets", map[string]string{"prefix": "/tenant-abc", "secret": tenantSecret}); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	// The longest matching prefix wins, whatever the order of registration.
	shortSecret, shortKey := newWebhookSecret()
	if code, body := ti.control(t, "POST", "/_control/webhook/secrets", map[string]string{"prefix": "/tenant", "secret": shortSecret}); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	_, otherKey := newWebhookSecret()
	now := time.Now().Unix()
	body := `{"event":"notification.sent"}`
	cases := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"default secret", ti.signedWebhook(t, defaultKey, "/hooks/x", "msg_1"), 200},
		{"tenant secret", ti.signedWebhook(t, tenantKey, "/tenant-abc/events", "msg_2"), 200},
		{"default secret on a tenant path", ti.signedWebhook(t, defaultKey, "/tenant-abc/events", "msg_3"), 401},
		{"shorter prefix's secret", ti.signedWebhook(t, shortKey, "/tenant-abc/events", "msg_3b"), 401},
		{"shorter prefix's own path", ti.signedWebhook(t, shortKey, "/tenant-xyz/events", "msg_3c"), 200},
		{"unknown secret", ti.signedWebhook(t, otherKey, "/hooks/x", "msg_4"), 401},
		{"one of several signatures matches", ti.webhookRequest(t, "/hooks/x", "msg_5", now, body,
			webhookSignature(otherKey, "msg_5", now, body)+" "+webhookSignature(defaultKey, "msg_5", now, body)), 200},
		{"tampered body", ti.webhookRequest(t, "/hooks/x", "msg_6", now, body+" ", webhookSignature(defaultKey, "msg_6", now, body)), 401},
		{"signature of another id", ti.webhookRequest(t, "/hooks/x", "msg_7", now, body, webhookSignature(defaultKey, "msg_8", now, body)), 401},
		{"timestamp too old", ti.webhookRequest(t, "/hooks/x", "msg_9", now-400, body, webhookSignature(defaultKey, "msg_9", now-400, body)), 401},
		{"timestamp in the future", ti.webhookRequest(t, "/hooks/x", "msg_10", now+400, body, webhookSignature(defaultKey, "msg_10", now+400, body)), 401},
		{"no signature", ti.webhookRequest(t, "/hooks/x", "msg_11", now, body, ""), 401},
		{"no id", ti.webhookRequest(t, "/hooks/x", "", now, body, webhookSignature(defaultKey, "", now, body)), 401},
		{"v2 signature only", ti.webhookRequest(t, "/hooks/x", "msg_12", now, body, "v2,"+webhookSignature(defaultKey, "msg_12", now, body)[3:]), 401},
		{"gone", ti.signedWebhook(t, defaultKey, "/gone/tenant", "msg_13"), 410},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := mustDo(t, http.DefaultClient, tc.req); r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tc.status)
			}
		})
	}
	s := ti.stats(t)["webhook"]
	if s.Accepted != 4 || s.Rejected != 10 || s.FailedPermanent != 1 || s.PerID["msg_2"] != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestWebhookWithoutSecretsRejectsEverything(t *testing.T) {
	ti := startInstance(t, nil)
	_, key := newWebhookSecret()
	if r := mustDo(t, http.DefaultClient, ti.signedWebhook(t, key, "/hooks/x", "msg_1")); r.status != 401 {
		t.Fatalf("got %d %s, want 401", r.status, r.body)
	}
	for _, bad := range []map[string]string{
		{"prefix": "/t", "secret": "not-whsec"},
		{"prefix": "/t", "secret": "whsec_%%%"},
		{"prefix": "t", "secret": "whsec_c2VjcmV0"},
	} {
		if code, body := ti.control(t, "POST", "/_control/webhook/secrets", bad); code != 400 {
			t.Errorf("registering %v: %d %s, want 400", bad, code, body)
		}
	}
}
