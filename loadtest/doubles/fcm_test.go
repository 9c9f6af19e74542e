package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFCMServiceAccountFile(t *testing.T) {
	ti := startInstance(t, nil)
	info, err := os.Stat(ti.opts.fcmServiceAccountOut)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	sa, key := ti.loadServiceAccount(t)
	if sa.Type != "service_account" || sa.ProjectID != "wavecom-test" || sa.TokenURI != ti.url("fcm")+"/token" ||
		!strings.HasSuffix(sa.ClientEmail, ".iam.gserviceaccount.com") || len(sa.PrivateKeyID) != 40 {
		t.Errorf("service account %+v", sa)
	}
	if block, _ := pem.Decode([]byte(sa.PrivateKey)); block == nil || block.Type != "PRIVATE KEY" {
		t.Error("private_key is not a PKCS#8 PEM")
	} else if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Errorf("private_key: %v", err)
	}
	if key.N.BitLen() != 2048 {
		t.Errorf("key is %d bits, want 2048", key.N.BitLen())
	}
}

func TestFCMKeepsItsServiceAccountAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	first := startWith(t, testOptions(dir), dir)
	sa1, key1 := first.loadServiceAccount(t)
	// The second instance listens elsewhere (the first still runs): it keeps the key and points
	// token_uri at its own address.
	second := startWith(t, testOptions(dir), dir)
	sa2, _ := second.loadServiceAccount(t)
	if sa2.PrivateKeyID != sa1.PrivateKeyID || sa2.PrivateKey != sa1.PrivateKey {
		t.Fatal("the restarted double made a new key instead of loading the file")
	}
	if sa2.TokenURI != second.url("fcm")+"/token" {
		t.Errorf("token_uri %s was not updated to the new address", sa2.TokenURI)
	}
	jwt := signRS256(t, key1, map[string]any{"alg": "RS256", "typ": "JWT"}, assertionClaims(sa2, time.Now()))
	if r := postToken(t, sa2.TokenURI, jwt); r.status != 200 {
		t.Fatalf("a JWT signed with the kept key was refused: %d %s", r.status, r.body)
	}
}

func TestFCMTokenEndpointVerifiesTheAssertion(t *testing.T) {
	ti := startInstance(t, nil)
	sa, key := ti.loadServiceAccount(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": sa.PrivateKeyID}
	// with returns the correct claims changed by key, value pairs (a nil value deletes the key).
	with := func(kv ...any) map[string]any {
		c := assertionClaims(sa, now)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	good := signRS256(t, key, header, assertionClaims(sa, now))
	cases := map[string]string{
		"signed with another key": signRS256(t, otherKey, header, assertionClaims(sa, now)),
		"wrong iss":               signRS256(t, key, header, with("iss", "someone@else.iam.gserviceaccount.com")),
		"wrong aud":               signRS256(t, key, header, with("aud", "https://oauth2.googleapis.com/token")),
		"no scope":                signRS256(t, key, header, with("scope", nil)),
		"other scope":             signRS256(t, key, header, with("scope", "https://www.googleapis.com/auth/userinfo.email")),
		"lives over an hour":      signRS256(t, key, header, with("exp", now.Add(61*time.Minute).Unix())),
		"expired":                 signRS256(t, key, header, with("iat", now.Add(-2*time.Hour).Unix(), "exp", now.Add(-70*time.Minute).Unix())),
		"no iat":                  signRS256(t, key, header, with("iat", nil)),
		"iat in the future":       signRS256(t, key, header, with("iat", now.Add(10*time.Minute).Unix())),
		"another kid":             signRS256(t, key, map[string]any{"alg": "RS256", "kid": "0000"}, assertionClaims(sa, now)),
		"alg none":                strings.Join(strings.Split(good, ".")[:2], ".") + ".",
		"alg HS256":               encodeSegment(t, map[string]any{"alg": "HS256"}) + "." + strings.Split(good, ".")[1] + "." + strings.Split(good, ".")[2],
		"tampered claims":         strings.Split(good, ".")[0] + "." + encodeSegment(t, with("iss", sa.ClientEmail+"x")) + "." + strings.Split(good, ".")[2],
		"not a JWT":               "hello",
	}
	for name, jwt := range cases {
		t.Run(name, func(t *testing.T) {
			r := postToken(t, sa.TokenURI, jwt)
			if r.status != 400 || r.json(t)["error"] != "invalid_grant" || r.json(t)["error_description"] == "" {
				t.Fatalf("got %d %s, want 400 invalid_grant", r.status, r.body)
			}
		})
	}
	r := postToken(t, sa.TokenURI, good)
	if r.status != 200 {
		t.Fatalf("the correct assertion was refused: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["expires_in"] != float64(3600) || m["token_type"] != "Bearer" {
		t.Errorf("token answer %s", r.body)
	}
	// The other grant types are not supported.
	req, _ := http.NewRequest("POST", sa.TokenURI, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := mustDo(t, http.DefaultClient, req); r.status != 400 || r.json(t)["error"] != "unsupported_grant_type" {
		t.Errorf("client_credentials: %d %s", r.status, r.body)
	}
	s := ti.stats(t)["fcm"]
	if s.TokensIssued != 1 || s.TokenRejected != int64(len(cases))+1 || s.Received != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestFCMSend(t *testing.T) {
	ti := startInstance(t, nil)
	tok := ti.fcmAccessToken(t)
	project := ti.sa.ProjectID

	r := mustDo(t, http.DefaultClient, ti.fcmRequest(t, tok, project, fcmMessageFor("device-1", "n-1")))
	if r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	if name, _ := r.json(t)["name"].(string); !regexp.MustCompile(`^projects/wavecom-test/messages/\S+$`).MatchString(name) {
		t.Errorf("name %q", name)
	}
	// The id header wins over data.notificationId.
	req := ti.fcmRequest(t, tok, project, fcmMessageFor("device-1", "n-2"))
	req.Header.Set(notificationIDHeader, "n-3")
	if r := mustDo(t, http.DefaultClient, req); r.status != 200 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	s := ti.stats(t)["fcm"]
	if s.Accepted != 2 || s.PerID["n-1"] != 1 || s.PerID["n-3"] != 1 || s.PerID["n-2"] != 0 {
		t.Errorf("stats %+v", s)
	}

	errorCase := func(name string, req *http.Request, status int, grpc, errorCode string) {
		t.Run(name, func(t *testing.T) {
			r := mustDo(t, http.DefaultClient, req)
			if r.status != status {
				t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
			}
			e, _ := r.json(t)["error"].(map[string]any)
			if e["status"] != grpc || e["code"] != float64(status) {
				t.Fatalf("error %s, want status %s", r.body, grpc)
			}
			if errorCode != "" {
				d, _ := e["details"].([]any)
				if len(d) != 1 || d[0].(map[string]any)["errorCode"] != errorCode ||
					d[0].(map[string]any)["@type"] != "type.googleapis.com/google.firebase.fcm.v1.FcmError" {
					t.Fatalf("details of %s, want errorCode %s", r.body, errorCode)
				}
			}
		})
	}
	errorCase("unknown access token", ti.fcmRequest(t, "ya29.forged", project, fcmMessageFor("d", "x")), 401, "UNAUTHENTICATED", "")
	noAuth := ti.fcmRequest(t, tok, project, fcmMessageFor("d", "x"))
	noAuth.Header.Del("Authorization")
	errorCase("no access token", noAuth, 401, "UNAUTHENTICATED", "")
	errorCase("another project", ti.fcmRequest(t, tok, "other-project", fcmMessageFor("d", "x")), 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH")
	errorCase("unregistered device", ti.fcmRequest(t, tok, project, fcmMessageFor("unregistered-abc", "u-1")), 404, "NOT_FOUND", "UNREGISTERED")
	errorCase("no device token", ti.fcmRequest(t, tok, project, map[string]any{"notification": map[string]string{"title": "t"}}), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
	errorCase("data value not a string", ti.fcmRequest(t, tok, project, map[string]any{"token": "d", "data": map[string]any{"n": 1}}), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
	errorCase("unknown field", ti.fcmRequest(t, tok, project, map[string]any{"token": "d", "priority": "high"}), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
	errorCase("token and topic", ti.fcmRequest(t, tok, project, map[string]any{"token": "d", "topic": "news"}), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")

	s = ti.stats(t)["fcm"]
	if s.Rejected != 3 || s.FailedPermanent != 5 || s.Accepted != 2 {
		t.Errorf("stats %+v", s)
	}
}
