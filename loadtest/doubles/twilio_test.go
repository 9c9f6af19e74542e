package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestTwilioDeliversAValidMessage(t *testing.T) {
	ti := startInstance(t, nil)
	r := mustDo(t, http.DefaultClient, ti.smsRequest(t, ti.goodSMS("n-1")))
	if r.status != 201 {
		t.Fatalf("status %d, want 201: %s", r.status, r.body)
	}
	m := r.json(t)
	if sid, _ := m["sid"].(string); !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(sid) {
		t.Errorf("sid %q is not SM + 32 hex", sid)
	}
	for k, want := range map[string]string{"status": "queued", "to": "+14155550100", "from": "+14155550199",
		"body": "Your code is 123456", "account_sid": ti.opts.twilioSID, "num_segments": "1"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %q", k, m[k], want)
		}
	}
	if dc, _ := m["date_created"].(string); !strings.HasSuffix(dc, "+0000") {
		t.Errorf("date_created %q is not in Twilio's RFC 2822 form", dc)
	}
	s := ti.stats(t)["twilio"]
	if s.Received != 1 || s.Accepted != 1 || s.Failed != 0 || s.Rejected != 0 || s.PerID["n-1"] != 1 {
		t.Errorf("stats %+v", s)
	}
	code, body := ti.control(t, "GET", "/_control/twilio/last?n=5", nil)
	if code != 200 || !strings.Contains(string(body), "Body=Your+code+is+123456") || !strings.Contains(string(body), `"x-wavecom-notification-id":"n-1"`) {
		t.Errorf("last: %d %s", code, body)
	}
}

func TestTwilioMessagingServiceIsAccepted(t *testing.T) {
	ti := startInstance(t, nil)
	m := ti.goodSMS("")
	m.from, m.service = "", "MG0123456789abcdef0123456789abcdef"
	r := mustDo(t, http.DefaultClient, ti.smsRequest(t, m))
	if r.status != 201 || r.json(t)["status"] != "accepted" || r.json(t)["messaging_service_sid"] != m.service {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if id := ti.lastRecords(t, "twilio"); !strings.HasPrefix(id, "sha256:") {
		t.Errorf("without the id header the message id should be the body's digest, got %q", id)
	}
}

// lastRecords returns the message id of the provider's last accepted request.
func (ti *testInstance) lastRecords(t *testing.T, provider string) string {
	recs := ti.providers[provider].lastRecords(1, "")
	if len(recs) != 1 {
		t.Fatalf("%s: no accepted request recorded", provider)
	}
	return recs[0].ID
}

func TestTwilioRejectsWrongCredentials(t *testing.T) {
	ti := startInstance(t, nil)
	cases := map[string]smsRequest{
		"wrong token": {user: ti.opts.twilioSID, pass: "not-the-token"},
		"wrong sid":   {user: "AC99999999999999999999999999999999", pass: ti.opts.twilioToken},
		"no auth":     {},
	}
	for name, auth := range cases {
		t.Run(name, func(t *testing.T) {
			m := ti.goodSMS("x")
			m.user, m.pass = auth.user, auth.pass
			r := mustDo(t, http.DefaultClient, ti.smsRequest(t, m))
			if r.status != 401 {
				t.Fatalf("status %d, want 401: %s", r.status, r.body)
			}
			e := r.json(t)
			if e["code"] != float64(20003) || e["message"] != "Authenticate" || e["status"] != float64(401) || e["more_info"] == nil {
				t.Errorf("error body %s", r.body)
			}
		})
	}
	s := ti.stats(t)["twilio"]
	if s.Rejected != 3 || s.Accepted != 0 || s.Received != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestTwilioPermanentErrors(t *testing.T) {
	ti := startInstance(t, nil)
	cases := []struct {
		name   string
		edit   func(*smsRequest)
		status int
		code   float64
	}{
		{"invalid To", func(m *smsRequest) { m.to = "0712345" }, 400, 21211},
		{"To not E.164", func(m *smsRequest) { m.to = "+1 415 555 0100" }, 400, 21211},
		{"unsubscribed", func(m *smsRequest) { m.to = "+15550001234" }, 400, 21610},
		{"no such number", func(m *smsRequest) { m.to = "+15550011234" }, 400, 21211},
		{"no To", func(m *smsRequest) { m.to = "" }, 400, 21604},
		{"no From", func(m *smsRequest) { m.from = "" }, 400, 21603},
		{"no Body", func(m *smsRequest) { m.body = "" }, 400, 21602},
		{"body too long", func(m *smsRequest) { m.body = strings.Repeat("a", 1601) }, 400, 21617},
		{"another account", func(m *smsRequest) { m.sid = "AC99999999999999999999999999999999" }, 404, 20404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ti.goodSMS(c.name)
			c.edit(&m)
			r := mustDo(t, http.DefaultClient, ti.smsRequest(t, m))
			if r.status != c.status || r.json(t)["code"] != c.code {
				t.Fatalf("got %d %s, want %d code %v", r.status, r.body, c.status, c.code)
			}
		})
	}
	s := ti.stats(t)["twilio"]
	if s.FailedPermanent != int64(len(cases)) || s.Accepted != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestTwilioNeedsAFormBody(t *testing.T) {
	ti := startInstance(t, nil)
	req := ti.smsRequest(t, ti.goodSMS("json"))
	req.Header.Set("Content-Type", "application/json")
	r := mustDo(t, http.DefaultClient, req)
	if r.status != 400 || r.json(t)["code"] != float64(21604) {
		t.Fatalf("a JSON body should leave To missing: %d %s", r.status, r.body)
	}
}
