package main

// The capacity measurement. TestLoad is skipped unless DOUBLES_LOAD=1; then it drives the fakes
// with DOUBLES_LOAD_CONCURRENCY requests in flight per provider (default 800) for
// DOUBLES_LOAD_SECONDS (default 10), each answered after DOUBLES_LOAD_LATENCY_MS (default 200),
// on the providers in DOUBLES_LOAD_PROVIDERS (default all four, at the same time), and prints
// requests per second and latency percentiles. The fakes run in this process unless
// DOUBLES_LOAD_CONTROL names the control API of a running wavecom-doubles, whose credential files
// are then read from the paths /_control/info gives (its behaviour is restored afterwards).
//
//	DOUBLES_LOAD=1 go test -run TestLoad -v .

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// attachInstance builds a testInstance for a running wavecom-doubles from its /_control/info.
func attachInstance(t *testing.T, control string) *testInstance {
	resp, err := http.Get(control + "/_control/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("info: %v", err)
	}
	s := func(p, k string) string {
		section, _ := m[p].(map[string]any)
		v, _ := section[k].(string)
		return v
	}
	host := func(p string) string {
		u := s(p, "url")
		return u[strings.Index(u, "://")+3:]
	}
	d := &doubles{opts: defaultOptions(), addrs: map[string]string{}, providers: map[string]*provider{}}
	d.addrs["control"] = strings.TrimPrefix(control, "http://")
	for _, p := range providerNames {
		d.addrs[p] = host(p)
	}
	d.opts.twilioSID, d.opts.twilioToken = s("twilio", "account_sid"), s("twilio", "auth_token")
	d.opts.fcmServiceAccountOut = s("fcm", "service_account_file")
	d.opts.apnsKeyOut, d.opts.apnsKeyID, d.opts.apnsTeamID, d.opts.tlsCertOut =
		s("apns", "key_file"), s("apns", "key_id"), s("apns", "team_id"), s("apns", "ca_file")
	ti := &testInstance{doubles: d}
	ti.sa, _ = ti.loadServiceAccount(t)
	return ti
}

func TestLoad(t *testing.T) {
	if os.Getenv("DOUBLES_LOAD") != "1" {
		t.Skip("set DOUBLES_LOAD=1 to measure capacity")
	}
	concurrency := envInt("DOUBLES_LOAD_CONCURRENCY", 800)
	duration := time.Duration(envInt("DOUBLES_LOAD_SECONDS", 10)) * time.Second
	latency := envInt("DOUBLES_LOAD_LATENCY_MS", 200)
	names := providersInOrder
	if v := os.Getenv("DOUBLES_LOAD_PROVIDERS"); v != "" {
		names = strings.Split(v, ",")
	}

	var ti *testInstance
	if control := os.Getenv("DOUBLES_LOAD_CONTROL"); control != "" {
		ti = attachInstance(t, control)
		saved := map[string]json.RawMessage{}
		for _, name := range names {
			_, body := ti.control(t, "GET", "/_control/"+name+"/config", nil)
			saved[name] = body
		}
		t.Cleanup(func() {
			for name, body := range saved {
				var patch map[string]any
				_ = json.Unmarshal(body, &patch)
				ti.configure(t, name, patch)
			}
		})
	} else {
		ti = startInstance(t, nil)
	}
	send := ti.senders(t)
	// Plenty of idle connections, so HTTP/1.1 requests reuse them rather than opening new ones.
	http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost = concurrency
	http.DefaultTransport.(*http.Transport).MaxIdleConns = 0 // no limit
	for _, name := range names {
		// A first request sets up the connection (TLS and HTTP/2 for APNs) outside the count.
		if _, err := send[name](t, uuidFor(9, 0)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ti.configure(t, name, map[string]any{"latency_ms": latency, "latency_jitter_ms": 0, "failure_rate": 0, "down": false, "fail_first_n": 0})
	}
	before := ti.stats(t)

	type result struct {
		ok, failed int64
		lat        []time.Duration
		firstErr   string
	}
	results := map[string]*result{}
	var mu sync.Mutex
	var seq atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(duration)
	start := time.Now()
	for _, name := range names {
		results[name] = &result{}
		for w := 0; w < concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local result
				for time.Now().Before(deadline) {
					id := uuidFor(9, int(seq.Add(1)))
					t0 := time.Now()
					r, err := send[name](t, id)
					if err != nil || r.status != successStatus[name] {
						local.failed++
						if local.firstErr == "" {
							local.firstErr = fmt.Sprintf("%v %d %s", err, r.status, r.body)
						}
						continue
					}
					local.ok++
					local.lat = append(local.lat, time.Since(t0))
				}
				mu.Lock()
				results[name].ok += local.ok
				results[name].failed += local.failed
				results[name].lat = append(results[name].lat, local.lat...)
				if results[name].firstErr == "" {
					results[name].firstErr = local.firstErr
				}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := ti.stats(t)
	var total float64
	for _, name := range names {
		r := results[name]
		slices.Sort(r.lat)
		pct := func(p float64) time.Duration {
			if len(r.lat) == 0 {
				return 0
			}
			return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))].Round(time.Millisecond)
		}
		rate := float64(r.ok) / elapsed.Seconds()
		total += rate
		t.Logf("%-8s %5d in flight, %d ms latency: %7.0f req/s, %d errors, p50 %v p99 %v max %v; server: accepted %d, max in flight %d",
			name, concurrency, latency, rate, r.failed, pct(0.5), pct(0.99), pct(1),
			after[name].Accepted-before[name].Accepted, after[name].MaxInFlight)
		if r.failed > 0 {
			t.Errorf("%s: %d requests failed, the first with: %s", name, r.failed, r.firstErr)
		}
	}
	t.Logf("all      %s: %.0f req/s over %v", fmt.Sprint(names), total, elapsed.Round(time.Millisecond))
}
