package main

import (
	"context"
	"io"
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

// hostileClient sends signed webhooks under /hostile/ of ti, as the worker would, and never
// follows a redirect.
func hostileClient(t *testing.T, ti *testInstance) (func(c *http.Client, path, id string) (result, error), []byte) {
	t.Helper()
	secret, key := newWebhookSecret()
	if code, body := ti.control(t, "POST", "/_control/webhook/secrets", map[string]string{"prefix": "/hostile/", "secret": secret}); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	return func(c *http.Client, path, id string) (result, error) {
		return do(c, ti.signedWebhook(t, key, path, id))
	}, key
}

func noRedirects(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// waitIdle fails the test unless the webhook fake has no request in flight within two seconds.
func waitIdle(t *testing.T, ti *testInstance, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for ti.stats(t)["webhook"].InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: a request is still in flight after its client left", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWebhookHostileReceivers(t *testing.T) {
	ti := startInstance(t, nil)
	send, key := hostileClient(t, ti)
	_, otherKey := newWebhookSecret()

	t.Run("the signature is checked first", func(t *testing.T) {
		r := mustDo(t, noRedirects(5*time.Second), ti.signedWebhook(t, otherKey, "/hostile/redirect/x", "h_0"))
		if r.status != 401 {
			t.Fatalf("got %d %s, want 401", r.status, r.body)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		r, err := send(noRedirects(5*time.Second), "/hostile/redirect/x", "h_1")
		if err != nil || r.status != 302 || r.header.Get("Location") != "http://169.254.169.254/latest/meta-data/" {
			t.Fatalf("got %v %d %v, want 302 to the metadata address", err, r.status, r.header)
		}
	})
	t.Run("huge", func(t *testing.T) {
		r, err := send(noRedirects(10*time.Second), "/hostile/huge/x", "h_2")
		if err != nil || r.status != 200 || len(r.body) != 10<<20 {
			t.Fatalf("got %v %d and %d bytes, want 200 and 10 MiB", err, r.status, len(r.body))
		}
	})
	t.Run("huge, the client leaves after 64 KiB", func(t *testing.T) {
		resp, err := noRedirects(10 * time.Second).Do(ti.signedWebhook(t, key, "/hostile/huge/x", "h_3"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // before the end: the connection is closed
		waitIdle(t, ti, "huge")
	})
	t.Run("slow answers after the seconds of its path", func(t *testing.T) {
		start := time.Now()
		r, err := send(noRedirects(5*time.Second), "/hostile/slow/1/x", "h_4")
		if err != nil || r.status != 200 || time.Since(start) < time.Second {
			t.Fatalf("got %v %d after %v, want 200 after 1 s", err, r.status, time.Since(start))
		}
	})
	t.Run("slow outlasts a client's timeout and ends when it leaves", func(t *testing.T) {
		start := time.Now()
		if r, err := send(noRedirects(300*time.Millisecond), "/hostile/slow/x", "h_5"); err == nil {
			t.Fatalf("got %d after %v, want the client's timeout", r.status, time.Since(start))
		}
		waitIdle(t, ti, "slow")
	})
	t.Run("slow refuses a wait past its bound", func(t *testing.T) {
		if r, err := send(noRedirects(5*time.Second), "/hostile/slow/121/x", "h_6"); err != nil || r.status != 400 {
			t.Fatalf("got %v %d %s, want 400", err, r.status, r.body)
		}
	})
	t.Run("hang never answers and ends when the client leaves", func(t *testing.T) {
		start := time.Now()
		if r, err := send(noRedirects(300*time.Millisecond), "/hostile/hang/x", "h_7"); err == nil {
			t.Fatalf("got %d after %v, want the client's timeout", r.status, time.Since(start))
		}
		waitIdle(t, ti, "hang")
	})
	t.Run("unknown", func(t *testing.T) {
		if r, err := send(noRedirects(5*time.Second), "/hostile/teapot/x", "h_8"); err != nil || r.status != 404 {
			t.Fatalf("got %v %d %s, want 404", err, r.status, r.body)
		}
	})

	s := ti.stats(t)["webhook"]
	if s.HostileSlow != 3 || s.HostileHuge != 2 || s.HostileRedirect != 1 || s.HostileHang != 1 ||
		s.HostileHugeBytes < 10<<20 || s.Accepted != 2 || s.PerID["h_2"] != 1 ||
		s.FailedTransient != 3 || s.FailedPermanent != 3 || s.Rejected != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestShutdownEndsHostileReceivers: a slow, a hanging and a huge answer in progress end when the
// double stops, at once.
func TestShutdownEndsHostileReceivers(t *testing.T) {
	ti := startInstance(t, nil)
	send, key := hostileClient(t, ti)
	held := make(chan error, 2)
	client := noRedirects(30 * time.Second)
	for _, path := range []string{"/hostile/slow/100/x", "/hostile/hang/x"} {
		go func() {
			_, err := send(client, path, "held")
			held <- err
		}()
	}
	// A client that takes the headers of the huge answer and reads no further.
	huge := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		resp, err := client.Do(ti.signedWebhook(t, key, "/hostile/huge/x", "big"))
		if err == nil {
			<-stopped
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		huge <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s := ti.stats(t)["webhook"]; s.HostileSlow+s.HostileHang+s.HostileHuge < 3 || s.InFlight < 2; s = ti.stats(t)["webhook"] {
		if time.Now().After(deadline) {
			t.Fatalf("the three requests did not arrive: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := ti.shutdown(ctx)
	close(stopped)
	if err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	for i := 0; i < 2; i++ {
		if err := <-held; err == nil {
			t.Error("a slow or hanging request got an answer")
		}
	}
	<-huge // ended, whether or not the whole body was already on its way
}
