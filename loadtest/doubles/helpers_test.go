package main

// Test helpers: an in-process instance on ephemeral ports, and correct clients of each fake (the
// way the worker is meant to talk to the real providers), built from the credential files the
// instance wrote.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testInstance is one running instance and the files it wrote.
type testInstance struct {
	*doubles
	dir string
}

func testOptions(dir string) options {
	o := defaultOptions()
	o.controlAddr, o.twilioAddr, o.fcmAddr, o.apnsAddr, o.webhookAddr, o.vonageAddr =
		"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	o.fcmServiceAccountOut = filepath.Join(dir, "fcm-service-account.json")
	o.apnsKeyOut = filepath.Join(dir, "apns-key.p8")
	o.tlsCertOut = filepath.Join(dir, "tls-cert.pem")
	o.tlsKeyOut = filepath.Join(dir, "tls-key.pem")
	o.twilioSID = "AC0123456789abcdef0123456789abcdef"
	o.twilioToken = "test-auth-token"
	return o
}

// startInstance starts an instance with its files in a fresh directory (or dir, when given) and
// stops it when the test ends.
func startInstance(t testing.TB, mutate func(*options)) *testInstance {
	t.Helper()
	dir := t.TempDir()
	o := testOptions(dir)
	if mutate != nil {
		mutate(&o)
	}
	return startWith(t, o, dir)
}

func startWith(t testing.TB, o options, dir string) *testInstance {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if os.Getenv("DOUBLES_TEST_LOG") != "" {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := start(o, log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testInstance{doubles: d, dir: dir}
}

func (ti *testInstance) url(name string) string {
	if name == "apns" {
		return "https://" + ti.addrs[name]
	}
	return "http://" + ti.addrs[name]
}

// --- control API

func (ti *testInstance) control(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ti.url("control")+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (ti *testInstance) configure(t testing.TB, provider string, patch map[string]any) {
	t.Helper()
	if code, body := ti.control(t, "POST", "/_control/"+provider+"/config", patch); code != 200 {
		t.Fatalf("config %s %v: %d %s", provider, patch, code, body)
	}
}

type providerStats struct {
	Received        int64            `json:"received"`
	Accepted        int64            `json:"accepted"`
	Failed          int64            `json:"failed"`
	FailedTransient int64            `json:"failed_transient"`
	FailedPermanent int64            `json:"failed_permanent"`
	Rejected        int64            `json:"rejected"`
	Duplicates      int64            `json:"duplicates"`
	InFlight        int64            `json:"in_flight"`
	MaxInFlight     int64            `json:"max_in_flight"`
	PerID           map[string]int64 `json:"per_id"`
	TokensIssued    int64            `json:"tokens_issued"`
	TokenRejected   int64            `json:"token_requests_rejected"`
	ProviderTokens  int64            `json:"provider_tokens"`
	UpdatesRejected int64            `json:"token_updates_rejected"`
	// The webhook's hostile receivers.
	HostileSlow      int64 `json:"hostile_slow"`
	HostileHuge      int64 `json:"hostile_huge"`
	HostileRedirect  int64 `json:"hostile_redirect"`
	HostileHang      int64 `json:"hostile_hang"`
	HostileHugeBytes int64 `json:"hostile_huge_bytes"`
}

func (ti *testInstance) stats(t testing.TB) map[string]providerStats {
	t.Helper()
	code, body := ti.control(t, "GET", "/_control/stats?ids=1", nil)
	if code != 200 {
		t.Fatalf("stats: %d %s", code, body)
	}
	var s map[string]providerStats
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("stats: %v in %s", err, body)
	}
	return s
}

// --- generic exchange

type result struct {
	status int
	header http.Header
	body   []byte
	proto  int
}

func (r result) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %q", err, r.body)
	}
	return m
}

func do(c *http.Client, req *http.Request) (result, error) {
	resp, err := c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: body, proto: resp.ProtoMajor}, err
}

func mustDo(t testing.TB, c *http.Client, req *http.Request) result {
	t.Helper()
	r, err := do(c, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return r
}

// --- Twilio

type smsRequest struct {
	to, from, service, body string
	id                      string // X-WaveCom-Notification-Id, when not empty
	user, pass              string
	sid                     string // of the path; the configured one when empty
}

func (ti *testInstance) smsRequest(t testing.TB, m smsRequest) *http.Request {
	t.Helper()
	form := url.Values{}
	for k, v := range map[string]string{"To": m.to, "From": m.from, "MessagingServiceSid": m.service, "Body": m.body} {
		if v != "" {
			form.Set(k, v)
		}
	}
	sid := m.sid
	if sid == "" {
		sid = ti.opts.twilioSID
	}
	req, err := http.NewRequest("POST", ti.url("twilio")+"/2010-04-01/Accounts/"+sid+"/Messages.json",
		strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if m.user != "" || m.pass != "" {
		req.SetBasicAuth(m.user, m.pass)
	}
	if m.id != "" {
		req.Header.Set(notificationIDHeader, m.id)
	}
	return req
}

func (ti *testInstance) goodSMS(id string) smsRequest {
	return smsRequest{to: "+14155550100", from: "+14155550199", body: "Your code is 123456", id: id,
		user: ti.opts.twilioSID, pass: ti.opts.twilioToken}
}

// --- FCM

// loadServiceAccount reads the service-account file the instance wrote, as the worker does.
func (ti *testInstance) loadServiceAccount(t testing.TB) (*serviceAccount, *rsa.PrivateKey) {
	t.Helper()
	data, err := os.ReadFile(ti.opts.fcmServiceAccountOut)
	if err != nil {
		t.Fatal(err)
	}
	var sa serviceAccount
	if err := json.Unmarshal(data, &sa); err != nil {
		t.Fatal(err)
	}
	k, err := parsePrivateKeyPEM([]byte(sa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return &sa, k.(*rsa.PrivateKey)
}

func encodeSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func signRS256(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := encodeSegment(t, header) + "." + encodeSegment(t, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// assertionClaims are the claims Google's client libraries send.
func assertionClaims(sa *serviceAccount, now time.Time) map[string]any {
	return map[string]any{
		"iss": sa.ClientEmail, "scope": fcmScope, "aud": sa.TokenURI,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func postToken(t testing.TB, tokenURI, assertion string) result {
	t.Helper()
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	req, _ := http.NewRequest("POST", tokenURI, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return mustDo(t, http.DefaultClient, req)
}

// fcmAccessToken obtains an access token the way a Google client library does.
func (ti *testInstance) fcmAccessToken(t testing.TB) string {
	t.Helper()
	sa, key := ti.loadServiceAccount(t)
	jwt := signRS256(t, key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": sa.PrivateKeyID}, assertionClaims(sa, time.Now()))
	r := postToken(t, sa.TokenURI, jwt)
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	if !strings.HasPrefix(tok, "ya29.") {
		t.Fatalf("token: no ya29. access_token in %s", r.body)
	}
	return tok
}

func (ti *testInstance) fcmRequest(t testing.TB, accessToken, project string, message any) *http.Request {
	t.Helper()
	body, err := json.Marshal(map[string]any{"message": message})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", ti.url("fcm")+"/v1/projects/"+project+"/messages:send", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return req
}

func fcmMessageFor(device, id string) map[string]any {
	return map[string]any{
		"token":        device,
		"notification": map[string]string{"title": "Hello", "body": "World"},
		"data":         map[string]string{"notificationId": id},
	}
}

// --- APNs

// apnsKey reads the .p8 the instance wrote, as the worker does.
func (ti *testInstance) apnsKeyFromFile(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(ti.opts.apnsKeyOut)
	if err != nil {
		t.Fatal(err)
	}
	k, err := parsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

// signES256 makes an APNs provider token; der chooses the (wrong) ASN.1 signature encoding.
func signES256(t testing.TB, key *ecdsa.PrivateKey, kid, iss string, iat time.Time, der bool) string {
	t.Helper()
	input := encodeSegment(t, map[string]any{"alg": "ES256", "kid": kid}) + "." +
		encodeSegment(t, map[string]any{"iss": iss, "iat": iat.Unix()})
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	if der {
		var err error
		if sig, err = ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			t.Fatal(err)
		}
	} else {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// apnsClient is an HTTP/2-only client trusting the certificate file the instance wrote.
func (ti *testInstance) apnsClient(t testing.TB) *http.Client {
	t.Helper()
	pemData, err := os.ReadFile(ti.opts.tlsCertOut)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatal("no certificate in " + ti.opts.tlsCertOut)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 100}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type pushRequest struct {
	device, token, apnsID, topic string
	payload                      string
	header                       map[string]string
}

func (ti *testInstance) pushRequest(t testing.TB, p pushRequest) *http.Request {
	t.Helper()
	payload := p.payload
	if payload == "" {
		payload = `{"aps":{"alert":{"title":"Hello","body":"World"}}}`
	}
	req, _ := http.NewRequest("POST", ti.url("apns")+"/3/device/"+p.device, strings.NewReader(payload))
	if p.token != "" {
		req.Header.Set("authorization", "bearer "+p.token)
	}
	topic := p.topic
	if topic == "" {
		topic = "com.example.wavecom"
	}
	if topic != "-" {
		req.Header.Set("apns-topic", topic)
	}
	req.Header.Set("apns-push-type", "alert")
	req.Header.Set("apns-priority", "10")
	req.Header.Set("apns-expiration", "0")
	if p.apnsID != "" {
		req.Header.Set("apns-id", p.apnsID)
	}
	for k, v := range p.header {
		req.Header.Set(k, v)
	}
	return req
}

// goodProviderToken is the token the instance's key signs now; all requests of a test share it.
func (ti *testInstance) goodProviderToken(t testing.TB) string {
	return signES256(t, ti.apnsKeyFromFile(t), ti.opts.apnsKeyID, ti.opts.apnsTeamID, time.Now(), false)
}

const goodDevice = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

// --- webhooks

func newWebhookSecret() (string, []byte) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key), key
}

func webhookSignature(key []byte, id string, ts int64, body string) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (ti *testInstance) webhookRequest(t testing.TB, path, id string, ts int64, body, signature string) *http.Request {
	t.Helper()
	req, _ := http.NewRequest("POST", ti.url("webhook")+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set("webhook-id", id)
	}
	if ts != 0 {
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	}
	if signature != "" {
		req.Header.Set("webhook-signature", signature)
	}
	return req
}

func (ti *testInstance) signedWebhook(t testing.TB, key []byte, path, id string) *http.Request {
	body := `{"type":"notification.sent","data":{"id":"` + id + `"}}`
	ts := time.Now().Unix()
	return ti.webhookRequest(t, path, id, ts, body, webhookSignature(key, id, ts, body))
}

// --- one correct sender per provider, for the behaviour tests

// sender sends one correct request for message id (a UUID, which every provider accepts as one).
type sender func(t testing.TB, id string) (result, error)

func (ti *testInstance) senders(t testing.TB) map[string]sender {
	t.Helper()
	accessToken := ti.fcmAccessToken(t)
	providerToken := ti.goodProviderToken(t)
	apns := ti.apnsClient(t)
	// A prefix of its own, so that a shared instance's other secrets stay as they are.
	secret, key := newWebhookSecret()
	prefix := "/hooks/test-" + randomHex(8)
	if code, body := ti.control(t, "POST", "/_control/webhook/secrets", map[string]string{"prefix": prefix, "secret": secret}); code != 200 {
		t.Fatalf("register secret: %d %s", code, body)
	}
	plain := &http.Client{Timeout: 10 * time.Second}
	return map[string]sender{
		"twilio": func(t testing.TB, id string) (result, error) {
			return do(plain, ti.smsRequest(t, ti.goodSMS(id)))
		},
		"fcm": func(t testing.TB, id string) (result, error) {
			return do(plain, ti.fcmRequest(t, accessToken, ti.sa.ProjectID, fcmMessageFor("device-token-1", id)))
		},
		"apns": func(t testing.TB, id string) (result, error) {
			return do(apns, ti.pushRequest(t, pushRequest{device: goodDevice, token: providerToken, apnsID: id}))
		},
		"webhook": func(t testing.TB, id string) (result, error) {
			return do(plain, ti.signedWebhook(t, key, prefix+"/events", id))
		},
	}
}

// successStatus is each provider's answer to a delivery.
var successStatus = map[string]int{"twilio": 201, "fcm": 200, "apns": 200, "webhook": 200}
