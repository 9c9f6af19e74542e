package main

// The APNs fake: HTTP/2 over TLS, POST /3/device/<token> with an ES256 provider token, answering
// with APNs's headers, statuses and reasons, including its rule against refreshing provider tokens
// more often than every 20 minutes (429 TooManyProviderTokenUpdates), applied twice: per
// connection (a connection may not switch to a new token within 20 minutes of its last switch),
// and per key (at most max_token_updates distinct new tokens per 20 minutes).

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// APNs rejects provider tokens issued more than an hour ago.
	providerTokenLife = time.Hour
	// The period over which token updates are limited.
	tokenUpdateWindow = 20 * time.Minute
	maxAPNsPayload    = 4096
	maxCollapseID     = 64
	// Provider tokens remembered at most (they expire within the hour anyway).
	maxProviderTokens = 10_000
)

var apnsPushTypes = map[string]bool{
	"alert": true, "background": true, "location": true, "voip": true, "complication": true,
	"fileprovider": true, "mdm": true, "liveactivity": true, "pushtotalk": true, "widgets": true,
	"controls": true,
}

type apnsDouble struct {
	log    *slog.Logger
	keyID  string
	teamID string
	pub    *ecdsa.PublicKey

	mu      sync.Mutex
	tokens  map[string]int64 // provider tokens accepted, with their iat
	updates []time.Time      // when each token of the current window was first accepted

	providerTokens, tokenUpdatesRejected atomic.Int64
}

// apnsConn is what the fake remembers of one connection: the provider token it uses, and since
// when.
type apnsConn struct {
	mu    sync.Mutex
	token string
	since time.Time
}

type apnsConnKey struct{}

// apnsConnContext gives each APNs connection its apnsConn (http.Server.ConnContext).
func apnsConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, apnsConnKey{}, &apnsConn{})
}

// adopt reports whether the connection of ctx may use token now, and records it as the
// connection's token if so.
func adopt(ctx context.Context, token string, now time.Time) bool {
	c, _ := ctx.Value(apnsConnKey{}).(*apnsConn)
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		return true
	}
	if c.token != "" && now.Sub(c.since) < tokenUpdateWindow {
		return false
	}
	c.token, c.since = token, now
	return true
}

func (a *apnsDouble) stats() map[string]int64 {
	return map[string]int64{
		"provider_tokens":        a.providerTokens.Load(),
		"token_updates_rejected": a.tokenUpdatesRejected.Load(),
	}
}

// forgetTokens makes the next provider token count as the first one.
func (a *apnsDouble) forgetTokens() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens = make(map[string]int64)
	a.updates = nil
	a.providerTokens.Store(0)
	a.tokenUpdatesRejected.Store(0)
}

func apnsReply(o outcome, status int, reason string) reply {
	body, _ := json.Marshal(map[string]string{"reason": reason})
	return jsonReply(o, status, body)
}

func (a *apnsDouble) failure(kind string, _ *behaviour) reply {
	switch kind {
	case kind429:
		return apnsReply(outTransient, 429, "TooManyRequests")
	case kind500:
		return apnsReply(outTransient, 500, "InternalServerError")
	}
	return apnsReply(outTransient, 503, "ServiceUnavailable")
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a canonical 8-4-4-4-12 hexadecimal UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, part := range strings.Split(s, "-") {
		if len(part) != [...]int{8, 4, 4, 4, 12}[min(i, 4)] || !isHex(part) {
			return false
		}
	}
	return strings.Count(s, "-") == 4
}

func newUUID() string {
	h := []byte(randomHex(16))
	h[12] = '4'             // version 4
	h[16] = "89ab"[h[16]%4] // RFC 4122 variant
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

func (a *apnsDouble) serve(x *exchange) reply {
	apnsID := x.r.Header.Get("apns-id")
	rep := a.decide(x, apnsID)
	if rep.abort == abortNone {
		// Every APNs answer names the notification, under a fresh UUID when the request gave none
		// (or a bad one).
		if !isUUID(apnsID) {
			apnsID = newUUID()
		}
		rep.header = append(rep.header, [2]string{"apns-id", apnsID})
	}
	return rep
}

func (a *apnsDouble) decide(x *exchange, apnsID string) reply {
	r := x.r
	if apnsID != "" && !isUUID(apnsID) {
		return apnsReply(outPermanent, 400, "BadMessageId")
	}
	device, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok || strings.Contains(device, "/") {
		return apnsReply(outPermanent, 404, "BadPath")
	}
	if r.Method != http.MethodPost {
		return apnsReply(outPermanent, 405, "MethodNotAllowed")
	}
	if rep, down := x.down(); down {
		return rep
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if token == "" || !strings.EqualFold(scheme, "bearer") {
		return apnsReply(outRejected, 403, "MissingProviderToken")
	}
	if status, reason := a.checkToken(r.Context(), token, x.now, x.cfg); status != 0 {
		return apnsReply(outRejected, status, reason)
	}
	for _, h := range []string{"apns-topic", "apns-push-type", "apns-priority", "apns-expiration", "apns-id", "apns-collapse-id"} {
		if len(r.Header.Values(h)) > 1 {
			return apnsReply(outPermanent, 400, "DuplicateHeaders")
		}
	}
	switch {
	case device == "":
		return apnsReply(outPermanent, 400, "MissingDeviceToken")
	case len(device)%2 != 0 || !isHex(device):
		return apnsReply(outPermanent, 400, "BadDeviceToken")
	case r.Header.Get("apns-topic") == "":
		return apnsReply(outPermanent, 400, "MissingTopic")
	}
	if pt := r.Header.Get("apns-push-type"); pt != "" && !apnsPushTypes[pt] {
		return apnsReply(outPermanent, 400, "InvalidPushType")
	}
	if p := r.Header.Get("apns-priority"); p != "" && p != "10" && p != "5" && p != "1" {
		return apnsReply(outPermanent, 400, "BadPriority")
	}
	if e := r.Header.Get("apns-expiration"); e != "" {
		if v, err := strconv.ParseInt(e, 10, 64); err != nil || v < 0 {
			return apnsReply(outPermanent, 400, "BadExpirationDate")
		}
	}
	if len(r.Header.Get("apns-collapse-id")) > maxCollapseID {
		return apnsReply(outPermanent, 400, "BadCollapseId")
	}
	switch {
	case len(x.body) == 0:
		return apnsReply(outPermanent, 400, "PayloadEmpty")
	case len(x.body) > maxAPNsPayload:
		return apnsReply(outPermanent, 413, "PayloadTooLarge")
	case !json.Valid(x.body) || !strings.HasPrefix(strings.TrimSpace(string(x.body)), "{"):
		// Not one of Apple's documented reasons: APNs's answer to a payload that is not a JSON
		// object is undocumented, and the fake refuses it so the worker's bug shows.
		return apnsReply(outPermanent, 400, "BadPayload")
	}
	id := apnsID
	if id == "" {
		id = bodyID(append([]byte(device+"\n"), x.body...))
	}
	if rep, failed := x.inject(id); failed {
		return rep
	}
	if strings.HasPrefix(strings.ToLower(device), "dead") {
		body, _ := json.Marshal(map[string]any{"reason": "Unregistered", "timestamp": x.now.UnixMilli()})
		return jsonReply(outPermanent, 410, body)
	}
	x.accept(id, http.StatusOK)
	return reply{outcome: outAccepted, status: http.StatusOK}
}

// checkToken verifies a provider token, returning 0 when it is good, else the status and reason
// APNs answers with.
func (a *apnsDouble) checkToken(ctx context.Context, token string, now time.Time, cfg *behaviour) (int, string) {
	a.mu.Lock()
	iat, known := a.tokens[token]
	a.mu.Unlock()
	if known {
		if now.Sub(time.Unix(iat, 0)) > providerTokenLife {
			return 403, "ExpiredProviderToken"
		}
		if !adopt(ctx, token, now) {
			a.tokenUpdatesRejected.Add(1)
			return 429, "TooManyProviderTokenUpdates"
		}
		return 0, ""
	}
	j, err := parseJWT(token)
	if err != nil {
		a.log.Debug("provider token rejected", "reason", err.Error())
		return 403, "InvalidProviderToken"
	}
	if j.header.Kid != a.keyID {
		a.log.Debug("provider token rejected", "reason", fmt.Sprintf("kid %q is not the key id %q", j.header.Kid, a.keyID))
		return 403, "InvalidProviderToken"
	}
	if err := j.verifyES256(a.pub); err != nil {
		a.log.Debug("provider token rejected", "reason", err.Error())
		return 403, "InvalidProviderToken"
	}
	iat, ok := numericDate(j.claims.Iat)
	switch {
	case j.claims.Iss != a.teamID || !ok:
		a.log.Debug("provider token rejected", "reason", "iss is not the team id, or iat is missing")
		return 403, "InvalidProviderToken"
	case time.Unix(iat, 0).After(now.Add(clockSkew)):
		a.log.Debug("provider token rejected", "reason", "iat is in the future")
		return 403, "InvalidProviderToken"
	case now.Sub(time.Unix(iat, 0)) > providerTokenLife:
		return 403, "ExpiredProviderToken"
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.tokens[token]; ok { // accepted meanwhile by a concurrent request
		if !adopt(ctx, token, now) {
			a.tokenUpdatesRejected.Add(1)
			return 429, "TooManyProviderTokenUpdates"
		}
		return 0, ""
	}
	keep := a.updates[:0]
	for _, t := range a.updates {
		if now.Sub(t) < tokenUpdateWindow {
			keep = append(keep, t)
		}
	}
	a.updates = keep
	if limit := *cfg.MaxTokenUpdates; (limit > 0 && len(a.updates) >= limit) || !adopt(ctx, token, now) {
		a.tokenUpdatesRejected.Add(1)
		return 429, "TooManyProviderTokenUpdates"
	}
	if len(a.tokens) >= maxProviderTokens {
		for t, i := range a.tokens {
			if now.Sub(time.Unix(i, 0)) > providerTokenLife || len(a.tokens) >= maxProviderTokens {
				delete(a.tokens, t)
			}
		}
	}
	a.tokens[token] = iat
	a.updates = append(a.updates, now)
	if len(a.updates) > maxProviderTokens { // only without a per-key limit
		a.updates = append(a.updates[:0], a.updates[len(a.updates)-maxProviderTokens:]...)
	}
	a.providerTokens.Add(1)
	return 0, ""
}
