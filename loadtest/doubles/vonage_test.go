package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func (ti *testInstance) vonageRequest(t testing.TB, id string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", ti.url("vonage")+vonagePath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.Header.Set(notificationIDHeader, id)
	}
	return req
}

func (ti *testInstance) goodVonageForm() url.Values {
	return url.Values{"api_key": {ti.opts.vonageKey}, "api_secret": {ti.opts.vonageSecret},
		"from": {"WaveCom"}, "to": {"14155550100"}, "text": {"Your code is 123456"}}
}

// firstMessage is messages[0] of a Vonage answer.
func firstMessage(t *testing.T, r result) map[string]any {
	t.Helper()
	msgs, _ := r.json(t)["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("want one message in %s", r.body)
	}
	m, _ := msgs[0].(map[string]any)
	return m
}

func TestVonageDeliversAValidMessage(t *testing.T) {
	ti := startInstance(t, nil)
	r := mustDo(t, http.DefaultClient, ti.vonageRequest(t, "v-1", ti.goodVonageForm()))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := firstMessage(t, r)
	if m["status"] != "0" || m["to"] != "14155550100" || len(m["message-id"].(string)) != 32 {
		t.Errorf("message %v", m)
	}
	if s := ti.stats(t)["vonage"]; s.Accepted != 1 || s.PerID["v-1"] != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestVonageRefusesInHTTP200WithAStatus(t *testing.T) {
	ti := startInstance(t, nil)
	cases := map[string]struct {
		change func(url.Values)
		status string
	}{
		"bad secret": {func(f url.Values) { f.Set("api_secret", "wrong") }, "4"},
		"no key":     {func(f url.Values) { f.Del("api_key") }, "2"},
		"no to":      {func(f url.Values) { f.Del("to") }, "2"},
		"no text":    {func(f url.Values) { f.Del("text") }, "2"},
		"bad number": {func(f url.Values) { f.Set("to", "0123") }, "3"},
		"long text":  {func(f url.Values) { f.Set("text", strings.Repeat("a", 3201)) }, "12"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			form := ti.goodVonageForm()
			c.change(form)
			r := mustDo(t, http.DefaultClient, ti.vonageRequest(t, "", form))
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if m := firstMessage(t, r); m["status"] != c.status || m["error-text"] == "" {
				t.Errorf("message %v, want status %s", m, c.status)
			}
		})
	}
	if s := ti.stats(t)["vonage"]; s.Accepted != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestVonageFaultControls(t *testing.T) {
	ti := startInstance(t, nil)
	ti.configure(t, "vonage", map[string]any{"down": true, "failure_kind": "503"})
	if r := mustDo(t, http.DefaultClient, ti.vonageRequest(t, "v-2", ti.goodVonageForm())); r.status != 503 {
		t.Fatalf("down: status %d", r.status)
	}
	ti.configure(t, "vonage", map[string]any{"down": false, "fail_first_n": 1, "failure_kind": "429"})
	if r := mustDo(t, http.DefaultClient, ti.vonageRequest(t, "v-3", ti.goodVonageForm())); r.status != 429 {
		t.Fatalf("first attempt: status %d", r.status)
	}
	if r := mustDo(t, http.DefaultClient, ti.vonageRequest(t, "v-3", ti.goodVonageForm())); r.status != 200 || firstMessage(t, r)["status"] != "0" {
		t.Fatalf("second attempt: %d %s", r.status, r.body)
	}
	if s := ti.stats(t)["vonage"]; s.Accepted != 1 || s.FailedTransient != 2 {
		t.Errorf("stats %+v", s)
	}
}
