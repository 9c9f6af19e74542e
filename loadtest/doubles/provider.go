package main

// What the four fakes share: the behaviour knobs (latency, injected failures), the counters, the
// per-message-id state behind fail_first_n and the duplicate count, the ring of the last accepted
// requests, and the pipeline that turns a protocol's verdict into a (possibly delayed, possibly
// broken) HTTP answer.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Failure kinds a behaviour can inject.
const (
	kind503     = "503"
	kind500     = "500"
	kind429     = "429"
	kindTimeout = "timeout"
	kindReset   = "reset"
)

const (
	maxLatencyMS   = 120_000
	maxFailFirstN  = 1_000
	maxRetryAfterS = 3_600
	// A request held by the "timeout" failure kind is cut after this long if the client is still
	// waiting.
	holdLimit = 120 * time.Second
	// No provider accepts more than this in one request body.
	maxRequestBody = 1 << 20
	// Bodies kept for /_control/PROVIDER/last are cut to this many bytes.
	maxRecordedBody = 64 << 10
	// Header carrying WaveCom's notification id, the message id of SMS and FCM requests.
	notificationIDHeader = "X-WaveCom-Notification-Id"
)

// behaviour is how a provider misbehaves. It is replaced as a whole (never modified in place), so a
// request sees one consistent configuration.
type behaviour struct {
	LatencyMS       int     `json:"latency_ms"`
	LatencyJitterMS int     `json:"latency_jitter_ms"`
	FailureRate     float64 `json:"failure_rate"`
	FailureKind     string  `json:"failure_kind"`
	Down            bool    `json:"down"`
	FailFirstN      int     `json:"fail_first_n"`
	RetryAfterS     int     `json:"retry_after_s"`
	// APNs only: how many distinct provider tokens one key may introduce per 20 minutes (0: no
	// limit). Nil for the other providers.
	MaxTokenUpdates *int `json:"max_token_updates,omitempty"`
}

// behaviourPatch is a partial behaviour, as the control API and the -PROVIDER-config flags take it:
// absent fields keep their value.
type behaviourPatch struct {
	LatencyMS       *int     `json:"latency_ms"`
	LatencyJitterMS *int     `json:"latency_jitter_ms"`
	FailureRate     *float64 `json:"failure_rate"`
	FailureKind     *string  `json:"failure_kind"`
	Down            *bool    `json:"down"`
	FailFirstN      *int     `json:"fail_first_n"`
	RetryAfterS     *int     `json:"retry_after_s"`
	MaxTokenUpdates *int     `json:"max_token_updates"`
}

func defaultBehaviour() behaviour {
	return behaviour{FailureKind: kind503, RetryAfterS: 1}
}

// keepUnlessSet overwrites *field with *patched when the patch carries that field.
func keepUnlessSet[T any](field *T, patched *T) {
	if patched != nil {
		*field = *patched
	}
}

// apply returns b changed by patch, or an error naming the first bad field; b is left alone.
func (b behaviour) apply(patch behaviourPatch) (behaviour, error) {
	keepUnlessSet(&b.LatencyMS, patch.LatencyMS)
	keepUnlessSet(&b.LatencyJitterMS, patch.LatencyJitterMS)
	keepUnlessSet(&b.FailureRate, patch.FailureRate)
	keepUnlessSet(&b.FailureKind, patch.FailureKind)
	keepUnlessSet(&b.Down, patch.Down)
	keepUnlessSet(&b.FailFirstN, patch.FailFirstN)
	keepUnlessSet(&b.RetryAfterS, patch.RetryAfterS)
	if patch.MaxTokenUpdates != nil {
		if b.MaxTokenUpdates == nil {
			return b, errors.New("max_token_updates: applies to apns only")
		}
		n := *patch.MaxTokenUpdates
		b.MaxTokenUpdates = &n
	}
	return b, b.validate()
}

func (b behaviour) validate() error {
	switch {
	case b.LatencyMS < 0 || b.LatencyMS > maxLatencyMS:
		return fmt.Errorf("latency_ms: %d is outside 0..%d", b.LatencyMS, maxLatencyMS)
	case b.LatencyJitterMS < 0 || b.LatencyJitterMS > maxLatencyMS:
		return fmt.Errorf("latency_jitter_ms: %d is outside 0..%d", b.LatencyJitterMS, maxLatencyMS)
	case !(b.FailureRate >= 0 && b.FailureRate <= 1): // also rejects NaN
		return fmt.Errorf("failure_rate: %v is outside 0..1", b.FailureRate)
	case b.FailFirstN < 0 || b.FailFirstN > maxFailFirstN:
		return fmt.Errorf("fail_first_n: %d is outside 0..%d", b.FailFirstN, maxFailFirstN)
	case b.RetryAfterS < 0 || b.RetryAfterS > maxRetryAfterS:
		return fmt.Errorf("retry_after_s: %d is outside 0..%d", b.RetryAfterS, maxRetryAfterS)
	case b.MaxTokenUpdates != nil && *b.MaxTokenUpdates < 0:
		return fmt.Errorf("max_token_updates: %d is negative", *b.MaxTokenUpdates)
	}
	switch b.FailureKind {
	case kind503, kind500, kind429, kindTimeout, kindReset:
		return nil
	}
	return fmt.Errorf("failure_kind: %q is not one of 503, 500, 429, timeout, reset", b.FailureKind)
}

// latency draws this request's delay: latency_ms ± latency_jitter_ms, never negative.
func (b *behaviour) latency() time.Duration {
	ms := b.LatencyMS
	if b.LatencyJitterMS > 0 {
		ms += rand.IntN(2*b.LatencyJitterMS+1) - b.LatencyJitterMS
	}
	if ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// outcome is how a request counts.
type outcome uint8

const (
	outAccepted  outcome = iota + 1 // delivered
	outTransient                    // failed, worth retrying (5xx, 429, timeout, reset)
	outPermanent                    // failed for good (bad recipient, malformed request)
	outRejected                     // authentication or signature failure
)

func (o outcome) String() string {
	switch o {
	case outAccepted:
		return "accepted"
	case outTransient:
		return "failed_transient"
	case outPermanent:
		return "failed_permanent"
	case outRejected:
		return "rejected"
	}
	return "unknown"
}

// abortKind says whether a reply is an answer or a broken exchange.
type abortKind uint8

const (
	abortNone  abortKind = iota
	abortHold            // never answer; cut the request when the client gives up
	abortReset           // close the connection (HTTP/1) or reset the stream (HTTP/2)
)

func (a abortKind) String() string {
	switch a {
	case abortHold:
		return "hold"
	case abortReset:
		return "reset"
	}
	return ""
}

// reply is a protocol's verdict on one request.
type reply struct {
	outcome     outcome
	status      int
	contentType string
	header      [][2]string
	body        []byte
	abort       abortKind
	// stream, when set, writes the answer itself instead of status and body (the webhook's
	// hostile receivers: a body too big to hold, an answer that comes late); it must return
	// once stop is closed or the client has gone.
	stream func(w http.ResponseWriter, r *http.Request, stop <-chan struct{})
}

func jsonReply(o outcome, status int, body []byte, header ...[2]string) reply {
	return reply{outcome: o, status: status, contentType: "application/json", body: body, header: header}
}

// protocol is what each fake implements.
type protocol interface {
	// serve decides the reply to one request whose body has been read. It calls x.inject and
	// x.accept at the points where the real provider would fail transiently or deliver.
	serve(x *exchange) reply
	// failure is the provider's own words for a transient failure of kind 503, 500 or 429.
	failure(kind string, b *behaviour) reply
}

// extraStats is implemented by protocols that count more than the common counters.
type extraStats interface {
	stats() map[string]int64
}

// idState is what is remembered per message id.
type idState struct {
	attempts int32 // requests that reached the point where failures are injected
	accepted int32 // deliveries
}

// record is one accepted request, as GET /_control/PROVIDER/last shows it.
type record struct {
	Time    time.Time         `json:"time"`
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// provider is one fake: its protocol plus the shared machinery.
type provider struct {
	name    string
	log     *slog.Logger
	proto   protocol
	stop    <-chan struct{} // closed at shutdown: sleeps end, held requests are cut
	initial behaviour
	cfg     atomic.Pointer[behaviour]
	maxIDs  int

	received, accepted, failedTransient, failedPermanent, rejected, duplicates, untracked atomic.Int64
	inFlight, maxInFlight                                                                 atomic.Int64

	mu       sync.Mutex
	ids      map[string]idState // at most maxIDs entries
	last     []record           // ring of the last accepted requests
	lastNext int
}

func newProvider(name string, log *slog.Logger, initial behaviour, stop <-chan struct{}, maxIDs, lastSize int) *provider {
	p := &provider{
		name: name, log: log.With("provider", name), initial: initial, stop: stop, maxIDs: maxIDs,
		ids: make(map[string]idState), last: make([]record, 0, lastSize),
	}
	b := initial
	p.cfg.Store(&b)
	return p
}

func (p *provider) behaviour() behaviour { return *p.cfg.Load() }

func (p *provider) setBehaviour(b behaviour) {
	p.cfg.Store(&b)
	p.log.Info("config changed", "config", b)
}

// reset forgets counters, per-id state and the last requests.
func (p *provider) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range []*atomic.Int64{&p.received, &p.accepted, &p.failedTransient, &p.failedPermanent,
		&p.rejected, &p.duplicates, &p.untracked} {
		c.Store(0)
	}
	p.maxInFlight.Store(p.inFlight.Load())
	p.ids = make(map[string]idState)
	clear(p.last)
	p.last = p.last[:0]
	p.lastNext = 0
}

// attempt counts one more attempt for id and returns how many there have been.
func (p *provider) attempt(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.ids[id]
	if !ok && len(p.ids) >= p.maxIDs {
		p.untracked.Add(1)
		return maxFailFirstN + 1 // beyond any fail_first_n: an untracked id is never held back
	}
	st.attempts++
	p.ids[id] = st
	return int(st.attempts)
}

// accept counts a delivery of id and remembers the request.
func (p *provider) accept(id string, r *http.Request, body []byte, status int, now time.Time) {
	p.accepted.Add(1)
	rec := record{Time: now, ID: id, Method: r.Method, Path: r.URL.RequestURI(), Status: status,
		Headers: make(map[string]string, len(r.Header)), Body: string(body[:min(len(body), maxRecordedBody)])}
	for k, v := range r.Header {
		rec.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.ids[id]
	if ok || len(p.ids) < p.maxIDs {
		st.accepted++
		p.ids[id] = st
		if st.accepted > 1 {
			p.duplicates.Add(1)
		}
	} else {
		p.untracked.Add(1)
	}
	if cap(p.last) == 0 {
		return
	}
	if len(p.last) < cap(p.last) {
		p.last = append(p.last, rec)
	} else {
		p.last[p.lastNext] = rec
	}
	p.lastNext = (p.lastNext + 1) % cap(p.last)
}

// lastRecords returns up to n of the last accepted requests, newest first, only those of id when
// id is not empty.
func (p *provider) lastRecords(n int, id string) []record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]record, 0, min(n, len(p.last)))
	for i := 1; i <= len(p.last) && len(out) < n; i++ {
		rec := p.last[(p.lastNext-i+len(p.last))%len(p.last)]
		if id == "" || rec.ID == id {
			out = append(out, rec)
		}
	}
	return out
}

// snapshot is the provider's counters as GET /_control/stats shows them.
func (p *provider) snapshot(withIDs bool) map[string]any {
	ft, fp := p.failedTransient.Load(), p.failedPermanent.Load()
	s := map[string]any{
		"received":         p.received.Load(),
		"accepted":         p.accepted.Load(),
		"failed":           ft + fp,
		"failed_transient": ft,
		"failed_permanent": fp,
		"rejected":         p.rejected.Load(),
		"duplicates":       p.duplicates.Load(),
		"untracked_ids":    p.untracked.Load(),
		"in_flight":        p.inFlight.Load(),
		"max_in_flight":    p.maxInFlight.Load(),
	}
	if e, ok := p.proto.(extraStats); ok {
		for k, v := range e.stats() {
			s[k] = v
		}
	}
	if withIDs {
		p.mu.Lock()
		perID := make(map[string]int32, len(p.ids))
		for id, st := range p.ids {
			if st.accepted > 0 {
				perID[id] = st.accepted
			}
		}
		p.mu.Unlock()
		s["per_id"] = perID
	}
	return s
}

// exchange is one request on its way through a protocol's serve.
type exchange struct {
	p    *provider
	r    *http.Request
	body []byte
	cfg  *behaviour
	now  time.Time
	id   string // set by accept, for the debug log
}

// failure is the reply for the configured failure kind.
func (x *exchange) failure() reply {
	switch x.cfg.FailureKind {
	case kindTimeout:
		return reply{outcome: outTransient, abort: abortHold}
	case kindReset:
		return reply{outcome: outTransient, abort: abortReset}
	}
	return x.p.proto.failure(x.cfg.FailureKind, x.cfg)
}

// down reports whether the provider is down, and then the reply.
func (x *exchange) down() (reply, bool) {
	if x.cfg.Down {
		return x.failure(), true
	}
	return reply{}, false
}

// inject counts an attempt for message id and decides whether it fails transiently: the first
// fail_first_n attempts of each id do, and then each attempt with probability failure_rate.
func (x *exchange) inject(id string) (reply, bool) {
	x.id = id
	n := x.p.attempt(id)
	if n <= x.cfg.FailFirstN {
		return x.failure(), true
	}
	if x.cfg.FailureRate > 0 && rand.Float64() < x.cfg.FailureRate {
		return x.failure(), true
	}
	return reply{}, false
}

// accept records the delivery of message id, answered with status.
func (x *exchange) accept(id string, status int) {
	x.id = id
	x.p.accept(id, x.r, x.body, status, x.now)
}

// bodyID is the message id of a request that names none: a digest of its body.
func bodyID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.received.Add(1)
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for {
		m := p.maxInFlight.Load()
		if n <= m || p.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	x := &exchange{p: p, r: r, cfg: p.cfg.Load(), now: time.Now()}
	var rep reply
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			rep = jsonReply(outPermanent, http.StatusRequestEntityTooLarge, []byte(`{"error":"request body too large"}`))
		} else {
			rep = reply{outcome: outTransient, abort: abortReset} // the client went away mid-body
		}
	} else {
		x.body = body
		rep = p.proto.serve(x)
	}
	switch rep.outcome {
	case outTransient:
		p.failedTransient.Add(1)
	case outPermanent:
		p.failedPermanent.Add(1)
	case outRejected:
		p.rejected.Add(1)
	}
	if p.log.Enabled(r.Context(), slog.LevelDebug) {
		p.log.Debug("request", "method", r.Method, "path", r.URL.Path, "proto", r.Proto, "id", x.id,
			"outcome", rep.outcome.String(), "status", rep.status, "abort", rep.abort.String())
	}
	p.answer(w, r, x.cfg, rep)
}

// answer delivers rep after the configured latency. The delay runs even if the client gives up,
// as a real provider's processing does; only shutdown cuts it short.
func (p *provider) answer(w http.ResponseWriter, r *http.Request, cfg *behaviour, rep reply) {
	if rep.abort == abortHold {
		t := time.NewTimer(holdLimit)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
		case <-p.stop:
		}
		breakExchange(w, r)
		return
	}
	if d := cfg.latency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
		}
	}
	if rep.abort == abortReset {
		breakExchange(w, r)
		return
	}
	if rep.stream != nil {
		rep.stream(w, r, p.stop)
		return
	}
	h := w.Header()
	if rep.contentType != "" {
		h.Set("Content-Type", rep.contentType)
	}
	for _, kv := range rep.header {
		h.Set(kv[0], kv[1])
	}
	w.WriteHeader(rep.status)
	if len(rep.body) > 0 {
		_, _ = w.Write(rep.body) // a client that left is no error of ours
	}
}

// breakExchange ends a request without an answer: an HTTP/1 connection is closed with a TCP reset,
// an HTTP/2 stream is reset (the connection and its other streams live on, as with a real server).
func breakExchange(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			raw := conn
			if u, ok := conn.(interface{ NetConn() net.Conn }); ok {
				raw = u.NetConn()
			}
			if tcp, ok := raw.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // close sends RST instead of FIN
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
