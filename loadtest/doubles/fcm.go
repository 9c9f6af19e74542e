package main

// The FCM fake: Google's OAuth2 token endpoint for service accounts (POST /token, an RS256 JWT
// assertion in, a bearer access token out) and FCM HTTP v1 (POST
// /v1/projects/{project}/messages:send), answering in Google's error format with FcmError codes.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	fcmScope           = "https://www.googleapis.com/auth/firebase.messaging"
	cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"
	jwtBearerGrant     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	accessTokenLife    = time.Hour
	// Google's limit on an assertion's lifetime, and the clock skew the fake tolerates.
	maxAssertionLife = time.Hour
	clockSkew        = time.Minute
	// At most this many live access tokens are kept; the oldest-expiring go first.
	maxAccessTokens = 100_000
	// FCM's limit on a message's data payload.
	maxFCMData = 4096
)

type fcmDouble struct {
	p        *provider
	log      *slog.Logger
	sa       *serviceAccount
	pub      *rsa.PublicKey
	tokenURI string

	mu     sync.RWMutex
	tokens map[string]time.Time // access token → expiry

	issued, tokenRejected atomic.Int64
}

// ServeHTTP sends /token to the token endpoint, which the behaviour knobs and counters leave
// alone (it stands for Google's OAuth2 service, not for FCM), and the rest to the FCM pipeline.
func (f *fcmDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	f.p.ServeHTTP(w, r)
}

func (f *fcmDouble) stats() map[string]int64 {
	f.mu.RLock()
	live := len(f.tokens)
	f.mu.RUnlock()
	return map[string]int64{
		"tokens_issued":           f.issued.Load(),
		"token_requests_rejected": f.tokenRejected.Load(),
		"access_tokens_live":      int64(live),
	}
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (f *fcmDouble) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.tokenRejected.Add(1)
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	var form url.Values
	if err == nil {
		if mt, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type")); perr == nil && mt == "application/x-www-form-urlencoded" {
			form, err = url.ParseQuery(string(body))
		}
	}
	if err != nil {
		f.tokenRejected.Add(1)
		oauthError(w, http.StatusBadRequest, "invalid_request", "Malformed request body: "+err.Error())
		return
	}
	if g := form.Get("grant_type"); g != jwtBearerGrant {
		f.tokenRejected.Add(1)
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+g)
		return
	}
	if err := f.checkAssertion(form.Get("assertion"), time.Now()); err != nil {
		f.tokenRejected.Add(1)
		f.log.Debug("token request rejected", "reason", err.Error())
		oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	token := "ya29." + b64url.EncodeToString(b)
	f.storeToken(token, time.Now().Add(accessTokenLife))
	f.issued.Add(1)
	resp, _ := json.Marshal(map[string]any{
		"access_token": token, "expires_in": int(accessTokenLife.Seconds()), "token_type": "Bearer",
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	_, _ = w.Write(resp)
}

// checkAssertion verifies a service-account JWT the way Google's token endpoint does.
func (f *fcmDouble) checkAssertion(assertion string, now time.Time) error {
	if assertion == "" {
		return fmt.Errorf("Missing required parameter: assertion")
	}
	j, err := parseJWT(assertion)
	if err != nil {
		return fmt.Errorf("Invalid JWT: %v", err)
	}
	if j.header.Kid != "" && j.header.Kid != f.sa.PrivateKeyID {
		return fmt.Errorf("Invalid JWT Signature: kid %q is not this service account's private_key_id", j.header.Kid)
	}
	if err := j.verifyRS256(f.pub); err != nil {
		return fmt.Errorf("Invalid JWT Signature: %v", err)
	}
	c := &j.claims
	if c.Iss != f.sa.ClientEmail {
		return fmt.Errorf("Invalid JWT: iss %q is not the service account's client_email", c.Iss)
	}
	audOK := false
	for _, a := range c.audiences() {
		audOK = audOK || a == f.tokenURI
	}
	if !audOK {
		return fmt.Errorf("Invalid JWT: aud must be the token_uri %s", f.tokenURI)
	}
	scopeOK := false
	for _, s := range strings.Fields(c.Scope) {
		scopeOK = scopeOK || s == fcmScope || s == cloudPlatformScope
	}
	if !scopeOK {
		return fmt.Errorf("Invalid JWT: scope %q does not include %s", c.Scope, fcmScope)
	}
	iat, ok1 := numericDate(c.Iat)
	exp, ok2 := numericDate(c.Exp)
	switch {
	case !ok1 || !ok2:
		return fmt.Errorf("Invalid JWT: iat and exp are required numbers")
	case exp <= iat || time.Duration(exp-iat)*time.Second > maxAssertionLife:
		return fmt.Errorf("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	case time.Unix(iat, 0).After(now.Add(clockSkew)):
		return fmt.Errorf("Invalid JWT: iat is in the future")
	case !time.Unix(exp, 0).After(now.Add(-clockSkew)):
		return fmt.Errorf("Invalid JWT: Token has expired")
	}
	return nil
}

func (f *fcmDouble) storeToken(token string, expiry time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.tokens) >= maxAccessTokens {
		now := time.Now()
		for t, e := range f.tokens {
			if e.Before(now) {
				delete(f.tokens, t)
			}
		}
		for t := range f.tokens { // still full: drop arbitrary ones
			if len(f.tokens) < maxAccessTokens {
				break
			}
			delete(f.tokens, t)
		}
	}
	f.tokens[token] = expiry
}

func (f *fcmDouble) tokenValid(token string, now time.Time) bool {
	f.mu.RLock()
	expiry, ok := f.tokens[token]
	f.mu.RUnlock()
	return ok && now.Before(expiry)
}

// fcmError is Google's error body, with an FcmError detail when errorCode is not empty.
func fcmError(o outcome, status int, grpcStatus, errorCode, message string, header ...[2]string) reply {
	e := map[string]any{"code": status, "message": message, "status": grpcStatus}
	if errorCode != "" {
		e["details"] = []map[string]string{{
			"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode,
		}}
	}
	body, _ := json.Marshal(map[string]any{"error": e})
	r := jsonReply(o, status, body, header...)
	r.contentType = "application/json; charset=UTF-8"
	return r
}

func (f *fcmDouble) failure(kind string, b *behaviour) reply {
	retry := [2]string{"Retry-After", strconv.Itoa(b.RetryAfterS)}
	switch kind {
	case kind429:
		return fcmError(outTransient, 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED",
			"Quota exceeded for quota metric 'Send requests'.", retry)
	case kind500:
		return fcmError(outTransient, 500, "INTERNAL", "INTERNAL", "Internal error encountered.")
	}
	return fcmError(outTransient, 503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.", retry)
}

// fcmRequest is the body of messages:send. Google's JSON mapping accepts both the proto field
// names and their lowerCamelCase forms; any other field is an error.
type fcmRequest struct {
	ValidateOnly  bool        `json:"validate_only"`
	ValidateOnly2 bool        `json:"validateOnly"`
	Message       *fcmMessage `json:"message"`
}

type fcmMessage struct {
	Name         string            `json:"name"`
	Token        string            `json:"token"`
	Topic        string            `json:"topic"`
	Condition    string            `json:"condition"`
	Data         map[string]string `json:"data"`
	Notification *struct {
		Title string `json:"title"`
		Body  string `json:"body"`
		Image string `json:"image"`
	} `json:"notification"`
	Android     json.RawMessage `json:"android"`
	Webpush     json.RawMessage `json:"webpush"`
	APNS        json.RawMessage `json:"apns"`
	FCMOptions  json.RawMessage `json:"fcm_options"`
	FCMOptions2 json.RawMessage `json:"fcmOptions"`
}

func invalidArgument(message string) reply {
	return fcmError(outPermanent, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", message)
}

func (f *fcmDouble) serve(x *exchange) reply {
	r := x.r
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	project, ok2 := strings.CutSuffix(rest, "/messages:send")
	if !ok || !ok2 || project == "" || strings.Contains(project, "/") {
		return fcmError(outPermanent, 404, "NOT_FOUND", "", "The requested URL "+r.URL.Path+" was not found on this server.")
	}
	if r.Method != http.MethodPost {
		return fcmError(outPermanent, 405, "INVALID_ARGUMENT", "", "Method not allowed", [2]string{"Allow", "POST"})
	}
	if rep, down := x.down(); down {
		return rep
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || !f.tokenValid(token, x.now) {
		return fcmError(outRejected, 401, "UNAUTHENTICATED", "",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
			[2]string{"WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`})
	}
	if project != f.sa.ProjectID {
		return fcmError(outRejected, 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH",
			"Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/"+project+"' (or it may not exist).")
	}
	var req fcmRequest
	dec := json.NewDecoder(bytes.NewReader(x.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		msg := "Invalid JSON payload received."
		if err != nil {
			msg += " " + err.Error()
		}
		return invalidArgument(msg)
	}
	m := req.Message
	if m == nil {
		return invalidArgument("Request contains an invalid argument: message is required.")
	}
	targets := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			targets++
		}
	}
	if targets != 1 {
		return invalidArgument("Request contains an invalid argument: exactly one of message.token, message.topic and message.condition must be set.")
	}
	dataSize := 0
	for k, v := range m.Data {
		dataSize += len(k) + len(v)
	}
	if dataSize > maxFCMData {
		return invalidArgument("Request contains an invalid argument: message.data is larger than 4096 bytes.")
	}
	id := r.Header.Get(notificationIDHeader)
	if id == "" {
		id = m.Data["notificationId"]
	}
	if id == "" {
		id = bodyID(x.body)
	}
	if rep, failed := x.inject(id); failed {
		return rep
	}
	if strings.HasPrefix(m.Token, "unregistered-") {
		return fcmError(outPermanent, 404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
	}
	x.accept(id, http.StatusOK)
	body, _ := json.Marshal(map[string]string{
		"name": fmt.Sprintf("projects/%s/messages/0:%d%%%s", project, x.now.UnixMicro(), randomHex(8)),
	})
	rep := jsonReply(outAccepted, http.StatusOK, body)
	rep.contentType = "application/json; charset=UTF-8"
	return rep
}
