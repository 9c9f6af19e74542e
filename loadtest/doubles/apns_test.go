package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestAPNsKeyAndCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	first := startWith(t, testOptions(dir), dir)
	for _, path := range []string{first.opts.apnsKeyOut, first.opts.tlsCertOut, first.opts.tlsKeyOut} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", path, err, info.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(first.opts.apnsKeyOut)
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("the .p8 is not a PKCS#8 PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if ek, ok := k.(*ecdsa.PrivateKey); err != nil || !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("the .p8 is not an EC P-256 key: %v", err)
	}
	certBefore, _ := os.ReadFile(first.opts.tlsCertOut)

	// A restart keeps the key and the certificate: a token signed before still works, and a
	// client that loaded the certificate before still trusts the server.
	client := first.apnsClient(t)
	token := first.goodProviderToken(t)
	second := startWith(t, testOptions(dir), dir)
	certAfter, _ := os.ReadFile(second.opts.tlsCertOut)
	if string(certAfter) != string(certBefore) {
		t.Error("the restarted double made a new certificate")
	}
	r := mustDo(t, client, second.pushRequest(t, pushRequest{device: goodDevice, token: token}))
	if r.status != 200 {
		t.Fatalf("after restart: %d %s", r.status, r.body)
	}
}

func TestAPNsDeliversOverHTTP2(t *testing.T) {
	ti := startInstance(t, nil)
	c := ti.apnsClient(t)
	token := ti.goodProviderToken(t)
	id := "6f1c8f3e-2b7a-4c1d-9e0f-1a2b3c4d5e6f"
	r := mustDo(t, c, ti.pushRequest(t, pushRequest{device: goodDevice, token: token, apnsID: id}))
	if r.status != 200 || r.proto != 2 || r.header.Get("apns-id") != id || len(r.body) != 0 {
		t.Fatalf("got %d over HTTP/%d, apns-id %q, body %q", r.status, r.proto, r.header.Get("apns-id"), r.body)
	}
	// Without apns-id the answer carries a fresh UUID.
	r = mustDo(t, c, ti.pushRequest(t, pushRequest{device: goodDevice, token: token}))
	if r.status != 200 || !isUUID(r.header.Get("apns-id")) {
		t.Fatalf("got %d, apns-id %q", r.status, r.header.Get("apns-id"))
	}
	s := ti.stats(t)["apns"]
	if s.Accepted != 2 || s.PerID[id] != 1 || s.ProviderTokens != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestAPNsRefusesHTTP1(t *testing.T) {
	ti := startInstance(t, nil)
	pemData, _ := os.ReadFile(ti.opts.tlsCertOut)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}
	defer tr.CloseIdleConnections()
	_, err := do(&http.Client{Transport: tr, Timeout: 5 * time.Second},
		ti.pushRequest(t, pushRequest{device: goodDevice, token: ti.goodProviderToken(t)}))
	if err == nil {
		t.Fatal("an HTTP/1.1 request was answered")
	}
}

func TestAPNsVerifiesTheProviderToken(t *testing.T) {
	ti := startInstance(t, nil)
	c := ti.apnsClient(t)
	key := ti.apnsKeyFromFile(t)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid, team, now := ti.opts.apnsKeyID, ti.opts.apnsTeamID, time.Now()
	good := signES256(t, key, kid, team, now, false)
	parts := strings.Split(good, ".")
	cases := []struct {
		name, token string
		status      int
		reason      string
	}{
		{"signed with another key", signES256(t, otherKey, kid, team, now, false), 403, "InvalidProviderToken"},
		{"DER signature", signES256(t, key, kid, team, now, true), 403, "InvalidProviderToken"},
		{"another kid", signES256(t, key, "ZZZ999ZZZZ", team, now, false), 403, "InvalidProviderToken"},
		{"another team", signES256(t, key, kid, "ZZZ999ZZZZ", now, false), 403, "InvalidProviderToken"},
		{"iat in the future", signES256(t, key, kid, team, now.Add(10*time.Minute), false), 403, "InvalidProviderToken"},
		{"issued over an hour ago", signES256(t, key, kid, team, now.Add(-61*time.Minute), false), 403, "ExpiredProviderToken"},
		{"alg none", encodeSegment(t, map[string]string{"alg": "none", "kid": kid}) + "." + parts[1] + ".", 403, "InvalidProviderToken"},
		{"tampered claims", parts[0] + "." + encodeSegment(t, map[string]any{"iss": team, "iat": now.Unix() + 1}) + "." + parts[2], 403, "InvalidProviderToken"},
		{"garbage", "not-a-jwt", 403, "InvalidProviderToken"},
		{"missing", "", 403, "MissingProviderToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustDo(t, c, ti.pushRequest(t, pushRequest{device: goodDevice, token: tc.token}))
			if r.status != tc.status || r.json(t)["reason"] != tc.reason {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.reason)
			}
		})
	}
	if r := mustDo(t, c, ti.pushRequest(t, pushRequest{device: goodDevice, token: good})); r.status != 200 {
		t.Fatalf("the correct token was refused: %d %s", r.status, r.body)
	}
	s := ti.stats(t)["apns"]
	if s.Rejected != int64(len(cases)) || s.Accepted != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestAPNsLimitsProviderTokenUpdates(t *testing.T) {
	ti := startInstance(t, nil)
	c := ti.apnsClient(t)
	key := ti.apnsKeyFromFile(t)
	kid, team := ti.opts.apnsKeyID, ti.opts.apnsTeamID
	first := signES256(t, key, kid, team, time.Now(), false)
	second := signES256(t, key, kid, team, time.Now().Add(-time.Second), false)
	send := func(token string) result {
		return mustDo(t, c, ti.pushRequest(t, pushRequest{device: goodDevice, token: token}))
	}
	if r := send(first); r.status != 200 {
		t.Fatalf("first token: %d %s", r.status, r.body)
	}
	if r := send(second); r.status != 429 || r.json(t)["reason"] != "TooManyProviderTokenUpdates" {
		t.Fatalf("a second token within 20 minutes: got %d %s, want 429 TooManyProviderTokenUpdates", r.status, r.body)
	}
	if r := send(first); r.status != 200 {
		t.Fatalf("reusing the first token: %d %s", r.status, r.body)
	}
	if s := ti.stats(t)["apns"]; s.UpdatesRejected != 1 || s.ProviderTokens != 1 || s.Rejected != 1 {
		t.Errorf("stats %+v", s)
	}
	// A reset forgets the tokens seen, so a new test run may start with a new token.
	if code, body := ti.control(t, "POST", "/_control/reset", nil); code != 200 {
		t.Fatalf("reset: %d %s", code, body)
	}
	// (on a new connection: the old one used the first token less than 20 minutes ago).
	c = ti.apnsClient(t)
	if r := send(second); r.status != 200 {
		t.Fatalf("after reset: %d %s", r.status, r.body)
	}
	// The per-key limit is a knob; 0 lifts it. A connection still may not switch tokens within
	// 20 minutes, but each new connection may bring its own.
	ti.configure(t, "apns", map[string]any{"max_token_updates": 0})
	for i := 2; i < 5; i++ {
		token := signES256(t, key, kid, team, time.Now().Add(-time.Duration(i)*time.Second), false)
		if r := mustDo(t, ti.apnsClient(t), ti.pushRequest(t, pushRequest{device: goodDevice, token: token})); r.status != 200 {
			t.Fatalf("a new token on a new connection without a per-key limit: %d %s", r.status, r.body)
		}
		if r := send(token); r.status != 429 || r.json(t)["reason"] != "TooManyProviderTokenUpdates" {
			t.Fatalf("switching tokens on one connection: got %d %s, want 429 TooManyProviderTokenUpdates", r.status, r.body)
		}
	}
	// forget-tokens resets the per-key count alone.
	ti.configure(t, "apns", map[string]any{"max_token_updates": 1})
	third := signES256(t, key, kid, team, time.Now().Add(-9*time.Second), false)
	if r := mustDo(t, ti.apnsClient(t), ti.pushRequest(t, pushRequest{device: goodDevice, token: third})); r.status != 429 {
		t.Fatalf("a new token beyond the key's limit: %d %s", r.status, r.body)
	}
	if code, body := ti.control(t, "POST", "/_control/apns/forget-tokens", nil); code != 200 {
		t.Fatalf("forget-tokens: %d %s", code, body)
	}
	if r := mustDo(t, ti.apnsClient(t), ti.pushRequest(t, pushRequest{device: goodDevice, token: third})); r.status != 200 {
		t.Fatalf("after forget-tokens: %d %s", r.status, r.body)
	}
}

func TestAPNsRequestChecks(t *testing.T) {
	ti := startInstance(t, nil)
	c := ti.apnsClient(t)
	token := ti.goodProviderToken(t)
	cases := []struct {
		name   string
		req    pushRequest
		status int
		reason string
	}{
		{"unregistered device", pushRequest{device: "dead" + goodDevice[4:]}, 410, "Unregistered"},
		{"device token not hex", pushRequest{device: "not-a-hex-token"}, 400, "BadDeviceToken"},
		{"odd-length device token", pushRequest{device: "abc"}, 400, "BadDeviceToken"},
		{"no topic", pushRequest{device: goodDevice, topic: "-"}, 400, "MissingTopic"},
		{"apns-id not a UUID", pushRequest{device: goodDevice, apnsID: "65f1c0ffee0000000000abcd"}, 400, "BadMessageId"},
		{"bad priority", pushRequest{device: goodDevice, header: map[string]string{"apns-priority": "7"}}, 400, "BadPriority"},
		{"bad push type", pushRequest{device: goodDevice, header: map[string]string{"apns-push-type": "sms"}}, 400, "InvalidPushType"},
		{"bad expiration", pushRequest{device: goodDevice, header: map[string]string{"apns-expiration": "tomorrow"}}, 400, "BadExpirationDate"},
		{"payload too large", pushRequest{device: goodDevice, payload: `{"aps":{"alert":"` + strings.Repeat("x", 4100) + `"}}`}, 413, "PayloadTooLarge"},
		{"payload not JSON", pushRequest{device: goodDevice, payload: `aps=1`}, 400, "BadPayload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.token = token
			r := mustDo(t, c, ti.pushRequest(t, tc.req))
			if r.status != tc.status || r.json(t)["reason"] != tc.reason {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.reason)
			}
			if !isUUID(r.header.Get("apns-id")) {
				t.Errorf("apns-id %q in the error answer", r.header.Get("apns-id"))
			}
			if tc.status == 410 {
				if ts, _ := r.json(t)["timestamp"].(float64); time.Since(time.UnixMilli(int64(ts))) > time.Minute {
					t.Errorf("timestamp %v is not milliseconds of now", ts)
				}
			}
		})
	}
	if s := ti.stats(t)["apns"]; s.FailedPermanent != int64(len(cases)) || s.Accepted != 0 {
		t.Errorf("stats %+v", s)
	}
}
