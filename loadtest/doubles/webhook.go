package main

// The webhook fake: a receiver that checks the Standard Webhooks signature
// (https://www.standardwebhooks.com): webhook-signature carries space-separated "v1,<base64>"
// entries, each an HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" keyed with the bytes
// of the tenant's "whsec_<base64>" secret. The secret is chosen by the longest registered prefix
// of the request path ("*" matches every path).
//
// Under /hostile/ it plays the receivers a customer may register by mistake or in malice, so that
// a benchmark can show that one of them does not slow the worker's other deliveries: slow, huge,
// redirect and hang (see hostile below).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A webhook-timestamp further than this from now is refused (replay protection).
const webhookTolerance = 5 * time.Minute

// At most this many secrets are registered.
const maxWebhookSecrets = 100_000

type webhookDouble struct {
	log *slog.Logger

	mu      sync.RWMutex
	secrets map[string][]byte // path prefix or "*" → key bytes

	// Requests served by each hostile receiver, and the bytes the huge one wrote.
	hostileSlow, hostileHuge, hostileRedirect, hostileHang, hostileHugeBytes atomic.Int64
}

// The hostile receivers, each chosen by the first segment of the path after /hostile/.
const (
	hostilePrefix = "/hostile/"
	// Longer than the worker's default provider timeout (10 s), so that a default /hostile/slow
	// is a timeout; /hostile/slow/N/... waits N seconds instead, at most hostileSlowMax.
	hostileSlowDefault = 15 * time.Second
	hostileSlowMax     = maxLatencyMS * time.Millisecond
	// A body far past what the worker keeps of an answer (64 KiB), sent in pieces: the double
	// never holds it.
	hostileHugeBytes = 10 << 20
	hostileHugeChunk = 64 << 10
	// A client that has not taken the whole body within this long is cut off: a reader that
	// stalls cannot hold the double's goroutine for longer.
	hostileHugeWithin = 60 * time.Second
	// The cloud metadata address, which a receiver may hope a naive client follows it to. It is a
	// header value only: nothing here ever connects to it.
	hostileRedirectTo = "http://169.254.169.254/latest/meta-data/"
)

var hostileHugePiece = bytes.Repeat([]byte{'x'}, hostileHugeChunk)

func (wh *webhookDouble) stats() map[string]int64 {
	return map[string]int64{
		"hostile_slow":       wh.hostileSlow.Load(),
		"hostile_huge":       wh.hostileHuge.Load(),
		"hostile_redirect":   wh.hostileRedirect.Load(),
		"hostile_hang":       wh.hostileHang.Load(),
		"hostile_huge_bytes": wh.hostileHugeBytes.Load(),
	}
}

// hostile is the reply of the hostile receiver the path names (after /hostile/). Slow and hang
// count as transient failures, as the timeout failure kind does: the worker is meant to give up
// on them. The redirect counts as a permanent failure (it is no delivery); the huge body as a
// delivery, since it is a 200.
func (wh *webhookDouble) hostile(x *exchange, id, rest string) reply {
	kind, after, _ := strings.Cut(rest, "/")
	switch kind {
	case "slow":
		wh.hostileSlow.Add(1)
		wait := hostileSlowDefault
		if n, _, _ := strings.Cut(after, "/"); n != "" && strings.Trim(n, "0123456789") == "" {
			secs, err := strconv.Atoi(n)
			if err != nil || time.Duration(secs)*time.Second > hostileSlowMax {
				return webhookReply(outPermanent, 400, fmt.Sprintf("slow: %s is not 0..%d seconds", n, int(hostileSlowMax.Seconds())))
			}
			wait = time.Duration(secs) * time.Second
		}
		return reply{outcome: outTransient, stream: func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
			answerLate(w, r, stop, wait)
		}}
	case "huge":
		wh.hostileHuge.Add(1)
		x.accept(id, http.StatusOK)
		return reply{outcome: outAccepted, stream: wh.streamHuge}
	case "redirect":
		wh.hostileRedirect.Add(1)
		return webhookReply(outPermanent, http.StatusFound, "moved", [2]string{"Location", hostileRedirectTo})
	case "hang":
		wh.hostileHang.Add(1)
		return reply{outcome: outTransient, abort: abortHold}
	}
	return webhookReply(outPermanent, 404, "no hostile receiver "+strconv.Quote(kind)+"; try slow, huge, redirect or hang")
}

// answerLate answers 200 after wait, unless the client leaves first (then there is no one to
// answer) or the double stops (then the exchange is broken off).
func answerLate(w http.ResponseWriter, r *http.Request, stop <-chan struct{}, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		w.WriteHeader(http.StatusOK)
	case <-r.Context().Done():
	case <-stop:
		breakExchange(w, r)
	}
}

// streamHuge answers 200 with hostileHugeBytes of body, a piece at a time, ending early when the
// client leaves, stalls or the double stops.
func (wh *webhookDouble) streamHuge(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(hostileHugeBytes))
	w.WriteHeader(http.StatusOK)
	// One deadline for the whole body, moved to now at shutdown: a write blocked on a client
	// that reads nothing returns then, not at the deadline.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(hostileHugeWithin))
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
			_ = rc.SetWriteDeadline(time.Now())
		case <-done:
		}
	}()
	for sent := 0; sent < hostileHugeBytes; sent += hostileHugeChunk {
		select {
		case <-stop:
			breakExchange(w, r)
			return
		case <-r.Context().Done():
			return
		default:
		}
		n, err := w.Write(hostileHugePiece)
		wh.hostileHugeBytes.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// decodeWebhookSecret returns the key bytes of a "whsec_<base64>" secret.
func decodeWebhookSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`secret must look like "whsec_<base64>"`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("secret is not base64 after whsec_: %v", err)
	}
	if len(key) == 0 {
		return nil, errors.New("secret is empty")
	}
	return key, nil
}

// register sets the secret used for paths starting with prefix ("*": any path).
func (wh *webhookDouble) register(prefix, secret string) error {
	if prefix != "*" && !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf(`prefix %q must start with "/" or be "*"`, prefix)
	}
	key, err := decodeWebhookSecret(secret)
	if err != nil {
		return err
	}
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if _, ok := wh.secrets[prefix]; !ok && len(wh.secrets) >= maxWebhookSecrets {
		return fmt.Errorf("already %d secrets registered", maxWebhookSecrets)
	}
	wh.secrets[prefix] = key
	return nil
}

// loadSecretsFile registers each prefix → secret of a JSON object in path.
func (wh *webhookDouble) loadSecretsFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: want a JSON object of path prefix to whsec_ secret: %v", path, err)
	}
	for prefix, secret := range m {
		if err := wh.register(prefix, secret); err != nil {
			return fmt.Errorf("%s: %q: %v", path, prefix, err)
		}
	}
	return nil
}

func (wh *webhookDouble) prefixes() []string {
	wh.mu.RLock()
	defer wh.mu.RUnlock()
	out := make([]string, 0, len(wh.secrets))
	for p := range wh.secrets {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// keyFor returns the key of the longest registered prefix of path, else that of "*".
func (wh *webhookDouble) keyFor(path string) []byte {
	wh.mu.RLock()
	defer wh.mu.RUnlock()
	var best []byte
	bestLen := -1
	for p, k := range wh.secrets {
		if p != "*" && len(p) > bestLen && strings.HasPrefix(path, p) {
			best, bestLen = k, len(p)
		}
	}
	if best == nil {
		best = wh.secrets["*"]
	}
	return best
}

func webhookReply(o outcome, status int, message string, header ...[2]string) reply {
	body, _ := json.Marshal(map[string]string{"error": message})
	return jsonReply(o, status, body, header...)
}

func (wh *webhookDouble) failure(kind string, b *behaviour) reply {
	retry := [2]string{"Retry-After", strconv.Itoa(b.RetryAfterS)}
	switch kind {
	case kind429:
		return webhookReply(outTransient, 429, "too many requests", retry)
	case kind500:
		return webhookReply(outTransient, 500, "internal server error")
	}
	return webhookReply(outTransient, 503, "service unavailable", retry)
}

// checkSignature returns why the request's signature is not acceptable, or nil.
func (wh *webhookDouble) checkSignature(r *http.Request, body []byte, now time.Time) error {
	key := wh.keyFor(r.URL.Path)
	if key == nil {
		return fmt.Errorf("no secret registered for %s", r.URL.Path)
	}
	id, ts, sigs := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("webhook-id, webhook-timestamp and webhook-signature are required")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > webhookTolerance || d < -webhookTolerance {
		return fmt.Errorf("webhook-timestamp is %v away from now", d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, value, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature matches")
}

func (wh *webhookDouble) serve(x *exchange) reply {
	r := x.r
	if r.Method != http.MethodPost {
		return webhookReply(outPermanent, 405, "POST required", [2]string{"Allow", "POST"})
	}
	if rep, down := x.down(); down {
		return rep
	}
	if err := wh.checkSignature(r, x.body, x.now); err != nil {
		wh.log.Debug("webhook rejected", "path", r.URL.Path, "reason", err.Error())
		return webhookReply(outRejected, 401, "invalid signature: "+err.Error())
	}
	id := r.Header.Get("webhook-id")
	if rep, failed := x.inject(id); failed {
		return rep
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, hostilePrefix); ok {
		return wh.hostile(x, id, rest)
	}
	if strings.HasPrefix(r.URL.Path, "/gone") {
		return webhookReply(outPermanent, 410, "endpoint gone")
	}
	x.accept(id, http.StatusOK)
	return reply{outcome: outAccepted, status: http.StatusOK}
}
