package main

// The webhook fake: a receiver that checks the Standard Webhooks signature
// (https://www.standardwebhooks.com): webhook-signature carries space-separated "v1,<base64>"
// entries, each an HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" keyed with the bytes
// of the tenant's "whsec_<base64>" secret. The secret is chosen by the longest registered prefix
// of the request path ("*" matches every path).

import (
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
	if strings.HasPrefix(r.URL.Path, "/gone") {
		return webhookReply(outPermanent, 410, "endpoint gone")
	}
	x.accept(id, http.StatusOK)
	return reply{outcome: outAccepted, status: http.StatusOK}
}
