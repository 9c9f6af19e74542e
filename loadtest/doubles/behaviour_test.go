package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// uuidFor makes message id i of a test a UUID, which every provider accepts as a message id.
func uuidFor(test, i int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", test, i)
}

var providersInOrder = []string{"twilio", "fcm", "apns", "webhook"}

func TestFailFirstNThenSucceedsAndDuplicatesAreCounted(t *testing.T) {
	ti := startInstance(t, nil)
	send := ti.senders(t)
	for _, name := range providersInOrder {
		t.Run(name, func(t *testing.T) {
			ti.configure(t, name, map[string]any{"fail_first_n": 2, "failure_kind": "503", "retry_after_s": 7})
			id, other := uuidFor(1, 1), uuidFor(1, 2)
			for attempt := 1; attempt <= 2; attempt++ {
				r, err := send[name](t, id)
				if err != nil || r.status != 503 {
					t.Fatalf("attempt %d: %v %d %s, want 503", attempt, err, r.status, r.body)
				}
				if name != "apns" && r.header.Get("Retry-After") != "7" {
					t.Errorf("attempt %d: Retry-After %q, want 7", attempt, r.header.Get("Retry-After"))
				}
			}
			// Attempts are counted per message id: another id starts from its first attempt.
			if r, _ := send[name](t, other); r.status != 503 {
				t.Fatalf("first attempt of another id: %d, want 503", r.status)
			}
			for i := 0; i < 2; i++ { // the third attempt succeeds; the fourth is a duplicate delivery
				if r, err := send[name](t, id); err != nil || r.status != successStatus[name] {
					t.Fatalf("later attempt: %v %d %s", err, r.status, r.body)
				}
			}
			s := ti.stats(t)[name]
			if s.FailedTransient != 3 || s.Accepted != 2 || s.Duplicates != 1 || s.PerID[id] != 2 || s.PerID[other] != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestDownAndFailureKinds(t *testing.T) {
	ti := startInstance(t, nil)
	send := ti.senders(t)
	want := map[string]map[string]string{ // provider → kind → what the body must contain
		"twilio":  {"503": `"code":20503`, "500": `"code":20500`, "429": `"code":20429`},
		"fcm":     {"503": `"status":"UNAVAILABLE"`, "500": `"status":"INTERNAL"`, "429": `"errorCode":"QUOTA_EXCEEDED"`},
		"apns":    {"503": `"reason":"ServiceUnavailable"`, "500": `"reason":"InternalServerError"`, "429": `"reason":"TooManyRequests"`},
		"webhook": {"503": `service unavailable`, "500": `internal server error`, "429": `too many requests`},
	}
	n := 0
	for _, name := range providersInOrder {
		for _, kind := range []string{"503", "500", "429"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				ti.configure(t, name, map[string]any{"down": true, "failure_kind": kind})
				for i := 0; i < 3; i++ {
					n++
					r, err := send[name](t, uuidFor(2, n))
					if err != nil || fmt.Sprint(r.status) != kind || !strings.Contains(string(r.body), want[name][kind]) {
						t.Fatalf("%v %d %s, want %s with %s", err, r.status, r.body, kind, want[name][kind])
					}
					if kind != "500" && name != "apns" && r.header.Get("Retry-After") == "" {
						t.Errorf("no Retry-After with %s", kind)
					}
				}
			})
		}
		ti.configure(t, name, map[string]any{"down": false})
		if r, err := send[name](t, uuidFor(2, 999)); err != nil || r.status != successStatus[name] {
			t.Fatalf("%s back up: %v %d %s", name, err, r.status, r.body)
		}
		if s := ti.stats(t)[name]; s.FailedTransient != 9 || s.Accepted != 1 {
			t.Errorf("%s stats %+v", name, s)
		}
	}
}

func TestDownAppliesBeforeAuthentication(t *testing.T) {
	ti := startInstance(t, nil)
	ti.configure(t, "twilio", map[string]any{"down": true})
	m := ti.goodSMS("x")
	m.pass = "wrong"
	if r := mustDo(t, http.DefaultClient, ti.smsRequest(t, m)); r.status != 503 {
		t.Fatalf("a provider that is down answers 503 whoever asks; got %d", r.status)
	}
}

func TestResetKindBreaksTheExchange(t *testing.T) {
	ti := startInstance(t, nil)
	send := ti.senders(t)
	for _, name := range providersInOrder {
		t.Run(name, func(t *testing.T) {
			ti.configure(t, name, map[string]any{"down": true, "failure_kind": "reset"})
			if r, err := send[name](t, uuidFor(3, 1)); err == nil {
				t.Fatalf("got an answer (%d %s), want a broken connection or stream", r.status, r.body)
			}
			ti.configure(t, name, map[string]any{"down": false})
			// The fake still serves afterwards (for HTTP/2, on the same connection).
			if r, err := send[name](t, uuidFor(3, 2)); err != nil || r.status != successStatus[name] {
				t.Fatalf("after the reset: %v %d", err, r.status)
			}
		})
	}
}

func TestTimeoutKindHoldsUntilTheClientGivesUp(t *testing.T) {
	ti := startInstance(t, nil)
	ti.configure(t, "twilio", map[string]any{"fail_first_n": 1, "failure_kind": "timeout"})
	c := &http.Client{Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := do(c, ti.smsRequest(t, ti.goodSMS("held")))
	if err == nil || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("got %v after %v, want the client's timeout", err, time.Since(start))
	}
	// The held request ends once its client left.
	deadline := time.Now().Add(2 * time.Second)
	for ti.stats(t)["twilio"].InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held request is still in flight after its client gave up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := mustDo(t, http.DefaultClient, ti.smsRequest(t, ti.goodSMS("held"))); r.status != 201 {
		t.Fatalf("the retry: %d %s", r.status, r.body)
	}
	if s := ti.stats(t)["twilio"]; s.FailedTransient != 1 || s.Accepted != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestShutdownCutsHeldRequests(t *testing.T) {
	ti := startInstance(t, nil)
	ti.configure(t, "twilio", map[string]any{"down": true, "failure_kind": "timeout"})
	errc := make(chan error, 1)
	go func() {
		_, err := do(&http.Client{Timeout: 30 * time.Second}, ti.smsRequest(t, ti.goodSMS("held")))
		errc <- err
	}()
	for ti.stats(t)["twilio"].InFlight == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ti.shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("shutdown took %v", time.Since(start))
	}
	if err := <-errc; err == nil {
		t.Error("the held request got an answer")
	}
}

func TestFailureRate(t *testing.T) {
	ti := startInstance(t, nil)
	ti.configure(t, "twilio", map[string]any{"failure_rate": 0.5, "failure_kind": "500"})
	const n = 400
	failed := 0
	for i := 0; i < n; i++ {
		r := mustDo(t, http.DefaultClient, ti.smsRequest(t, ti.goodSMS(fmt.Sprint(i))))
		switch r.status {
		case 500:
			failed++
		case 201:
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	// Six standard deviations either side: a correct fake fails this once in a few hundred million runs.
	if failed < n/2-60 || failed > n/2+60 {
		t.Errorf("%d of %d failed with failure_rate 0.5", failed, n)
	}
	s := ti.stats(t)["twilio"]
	if s.FailedTransient != int64(failed) || s.Accepted != int64(n-failed) || s.Received != n {
		t.Errorf("stats %+v", s)
	}
}

func TestLatencyAndJitter(t *testing.T) {
	ti := startInstance(t, nil)
	ti.configure(t, "twilio", map[string]any{"latency_ms": 200, "latency_jitter_ms": 50})
	for i := 0; i < 5; i++ {
		start := time.Now()
		mustDo(t, http.DefaultClient, ti.smsRequest(t, ti.goodSMS("x")))
		if d := time.Since(start); d < 150*time.Millisecond || d > 600*time.Millisecond {
			t.Errorf("request took %v with 200±50 ms", d)
		}
	}
}

// TestLatencyDoesNotSerialise sends 600 requests at once to a fake answering in 200 ms: they must
// all be answered in about 200 ms, not one after another.
func TestLatencyDoesNotSerialise(t *testing.T) {
	ti := startInstance(t, nil)
	send := ti.senders(t)
	for _, name := range []string{"twilio", "apns"} {
		t.Run(name, func(t *testing.T) {
			// One request first, so that connection set-up (TLS for APNs) is not part of the count.
			if _, err := send[name](t, uuidFor(4, 9999)); err != nil {
				t.Fatal(err)
			}
			ti.configure(t, name, map[string]any{"latency_ms": 200})
			const n = 600
			var wg sync.WaitGroup
			errs := make(chan error, n)
			start := time.Now()
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := send[name](t, uuidFor(4, i))
					if err == nil && r.status != successStatus[name] {
						err = fmt.Errorf("status %d", r.status)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if elapsed > 2*time.Second && !raceEnabled {
				t.Errorf("%d concurrent requests with 200 ms latency took %v", n, elapsed)
			}
			if s := ti.stats(t)[name]; s.MaxInFlight < n/2 {
				t.Errorf("at most %d requests were in flight at once", s.MaxInFlight)
			}
			t.Logf("%d concurrent requests with 200 ms latency: %v", n, elapsed)
		})
	}
}

func TestControlAPI(t *testing.T) {
	ti := startInstance(t, nil)
	bad := []map[string]any{
		{"failure_kind": "404"},
		{"failure_rate": 1.5},
		{"latency_ms": -1},
		{"latency_ms": 200000},
		{"fail_first_n": -2},
		{"colour": "blue"},
		{"max_token_updates": 3}, // APNs's alone
	}
	for _, patch := range bad {
		if code, body := ti.control(t, "POST", "/_control/twilio/config", patch); code != 400 {
			t.Errorf("%v: %d %s, want 400", patch, code, body)
		}
	}
	if code, _ := ti.control(t, "POST", "/_control/sendgrid/config", map[string]any{}); code != 404 {
		t.Errorf("unknown provider: %d, want 404", code)
	}
	// A partial update keeps the other fields; "all" changes every provider.
	ti.configure(t, "twilio", map[string]any{"latency_ms": 20})
	ti.configure(t, "all", map[string]any{"failure_rate": 0.25})
	code, body := ti.control(t, "GET", "/_control/twilio/config", nil)
	var b behaviour
	if err := json.Unmarshal(body, &b); code != 200 || err != nil || b.LatencyMS != 20 || b.FailureRate != 0.25 || b.FailureKind != "503" {
		t.Errorf("config: %d %s", code, body)
	}
	if p := ti.providers["webhook"].behaviour(); p.FailureRate != 0.25 {
		t.Errorf("all did not reach webhook: %+v", p)
	}
	// all is all or nothing.
	if code, _ := ti.control(t, "POST", "/_control/all/config", map[string]any{"max_token_updates": 2}); code != 400 {
		t.Errorf("all with an APNs-only field: %d, want 400", code)
	}
	if p := ti.providers["apns"].behaviour(); *p.MaxTokenUpdates != 1 {
		t.Errorf("a refused change to all was applied to apns: %+v", p)
	}

	ti.configure(t, "all", map[string]any{"failure_rate": 0})
	for i := 0; i < 3; i++ {
		mustDo(t, http.DefaultClient, ti.smsRequest(t, ti.goodSMS(fmt.Sprint("id-", i))))
	}
	code, body = ti.control(t, "GET", "/_control/twilio/last?n=2", nil)
	var recs []record
	if err := json.Unmarshal(body, &recs); code != 200 || err != nil || len(recs) != 2 || recs[0].ID != "id-2" || recs[1].ID != "id-1" {
		t.Errorf("last?n=2: %d %s", code, body)
	}
	_, body = ti.control(t, "GET", "/_control/twilio/last?id=id-0", nil)
	if err := json.Unmarshal(body, &recs); err != nil || len(recs) != 1 || recs[0].ID != "id-0" || recs[0].Headers["content-type"] != "application/x-www-form-urlencoded" {
		t.Errorf("last?id=id-0: %s", body)
	}
	_, body = ti.control(t, "GET", "/_control/stats", nil)
	if strings.Contains(string(body), "per_id") {
		t.Error("per_id is shown without ?ids=1")
	}

	if code, _ := ti.control(t, "POST", "/_control/reset", nil); code != 200 {
		t.Fatal("reset failed")
	}
	if s := ti.stats(t)["twilio"]; s.Received != 0 || s.Accepted != 0 || len(s.PerID) != 0 {
		t.Errorf("after reset: %+v", s)
	}
	if p := ti.providers["twilio"].behaviour(); p.LatencyMS != 20 {
		t.Error("a plain reset changed the behaviour")
	}
	ti.control(t, "POST", "/_control/reset?config=1", nil)
	if p := ti.providers["twilio"].behaviour(); p.LatencyMS != 0 {
		t.Errorf("reset?config=1 kept %+v", p)
	}
}

func TestStartBehaviourFlags(t *testing.T) {
	o, _, err := parseFlags([]string{"-latency-ms", "150", "-failure-kind", "429",
		"-fcm-config", `{"latency_ms":10,"fail_first_n":1}`, "-tls-cert-out", "/x/cert.pem"}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if o.tlsKeyOut != "/x/tls-key.pem" {
		t.Errorf("tls key path %q", o.tlsKeyOut)
	}
	tw, err1 := o.initialBehaviour("twilio")
	fcm, err2 := o.initialBehaviour("fcm")
	if err1 != nil || err2 != nil || tw.LatencyMS != 150 || tw.FailureKind != "429" || fcm.LatencyMS != 10 || fcm.FailFirstN != 1 || fcm.FailureKind != "429" {
		t.Errorf("twilio %+v %v, fcm %+v %v", tw, err1, fcm, err2)
	}
	o, _, _ = parseFlags([]string{"-webhook-config", `{"failure_kind":"teapot"}`}, &strings.Builder{})
	if _, err := o.initialBehaviour("webhook"); err == nil {
		t.Error("a bad -webhook-config was accepted")
	}
}
