package main

// The control API, on its own port: tests and benchmarks change the fakes' behaviour, register
// webhook secrets, and read counters and the last accepted requests. Bodies and answers are JSON.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// readJSON decodes the request body strictly into v, answering 400 itself when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = decodeStrict(body, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: %v", err)
		return false
	}
	return true
}

func (d *doubles) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_control/stats", d.handleStats)
	mux.HandleFunc("POST /_control/reset", d.handleReset)
	mux.HandleFunc("GET /_control/info", d.handleInfo)
	mux.HandleFunc("GET /_control/{provider}/config", d.handleGetConfig)
	mux.HandleFunc("POST /_control/{provider}/config", d.handleSetConfig)
	mux.HandleFunc("GET /_control/{provider}/last", d.handleLast)
	mux.HandleFunc("POST /_control/apns/forget-tokens", d.handleForgetTokens)
	mux.HandleFunc("GET /_control/webhook/secrets", d.handleListSecrets)
	mux.HandleFunc("POST /_control/webhook/secrets", d.handleAddSecret)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such control endpoint: %s %s", r.Method, r.URL.Path)
	})
	return mux
}

// provider returns the provider the path names, answering 404 itself when there is none.
func (d *doubles) provider(w http.ResponseWriter, r *http.Request) *provider {
	p := d.providers[r.PathValue("provider")]
	if p == nil {
		writeError(w, http.StatusNotFound, "no provider %q (want twilio, fcm, apns, webhook or vonage)", r.PathValue("provider"))
	}
	return p
}

func (d *doubles) handleStats(w http.ResponseWriter, r *http.Request) {
	withIDs := r.URL.Query().Get("ids") == "1"
	out := make(map[string]any, len(d.providers))
	for name, p := range d.providers {
		out[name] = p.snapshot(withIDs)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleReset zeroes the counters and per-id state of every provider and forgets APNs provider
// tokens; with ?config=1 it also restores every provider's behaviour at start. Access tokens and
// webhook secrets stay.
func (d *doubles) handleReset(w http.ResponseWriter, r *http.Request) {
	withConfig := r.URL.Query().Get("config") == "1"
	for _, name := range providerNames {
		p := d.providers[name]
		p.reset()
		if withConfig {
			p.setBehaviour(p.initial)
		}
	}
	d.fcm.issued.Store(0)
	d.fcm.tokenRejected.Store(0)
	d.apns.forgetTokens()
	d.log.Info("counters reset", "config_restored", withConfig)
	writeJSON(w, http.StatusOK, map[string]bool{"reset": true, "config_restored": withConfig})
}

func (d *doubles) handleGetConfig(w http.ResponseWriter, r *http.Request) {
	if p := d.provider(w, r); p != nil {
		writeJSON(w, http.StatusOK, p.behaviour())
	}
}

// handleSetConfig changes the fields given and answers with the whole new behaviour. Provider
// "all" changes all four (max_token_updates is then refused, being APNs's alone).
func (d *doubles) handleSetConfig(w http.ResponseWriter, r *http.Request) {
	var targets []*provider
	if r.PathValue("provider") == "all" {
		for _, name := range providerNames {
			targets = append(targets, d.providers[name])
		}
	} else if p := d.provider(w, r); p != nil {
		targets = []*provider{p}
	} else {
		return
	}
	var patch behaviourPatch
	if !readJSON(w, r, &patch) {
		return
	}
	// All or nothing: every new behaviour is checked before any is applied.
	next := make([]behaviour, len(targets))
	for i, p := range targets {
		b, err := p.behaviour().apply(patch)
		if err != nil {
			writeError(w, http.StatusBadRequest, "%s: %v", p.name, err)
			return
		}
		next[i] = b
	}
	out := map[string]behaviour{}
	for i, p := range targets {
		p.setBehaviour(next[i])
		out[p.name] = next[i]
	}
	if len(targets) == 1 {
		writeJSON(w, http.StatusOK, next[0])
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (d *doubles) handleLast(w http.ResponseWriter, r *http.Request) {
	p := d.provider(w, r)
	if p == nil {
		return
	}
	n := 10
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			writeError(w, http.StatusBadRequest, "n must be a positive integer")
			return
		}
		n = v
	}
	writeJSON(w, http.StatusOK, p.lastRecords(n, r.URL.Query().Get("id")))
}

// handleForgetTokens makes APNs forget the provider tokens it has seen, so that the next one
// counts as the key's first (connections keep theirs).
func (d *doubles) handleForgetTokens(w http.ResponseWriter, _ *http.Request) {
	d.apns.forgetTokens()
	d.log.Info("APNs provider tokens forgotten")
	writeJSON(w, http.StatusOK, map[string]bool{"forgotten": true})
}

func (d *doubles) handleListSecrets(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"prefixes": d.webhook.prefixes()})
}

func (d *doubles) handleAddSecret(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prefix string `json:"prefix"`
		Secret string `json:"secret"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if err := d.webhook.register(req.Prefix, req.Secret); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	d.log.Info("webhook secret registered", "prefix", req.Prefix)
	writeJSON(w, http.StatusOK, map[string]any{"prefix": req.Prefix, "registered": true})
}

// handleInfo tells a client where each fake is and which credentials it accepts.
func (d *doubles) handleInfo(w http.ResponseWriter, _ *http.Request) {
	o := &d.opts
	writeJSON(w, http.StatusOK, map[string]any{
		"control": "http://" + d.addrs["control"],
		"twilio": map[string]string{
			"url": "http://" + d.addrs["twilio"], "account_sid": o.twilioSID, "auth_token": o.twilioToken,
			"unsubscribed_prefix": o.twilioUnsubscribedPrefix, "invalid_prefix": o.twilioInvalidPrefix,
		},
		"fcm": map[string]string{
			"url": "http://" + d.addrs["fcm"], "project_id": d.sa.ProjectID, "client_email": d.sa.ClientEmail,
			"token_uri": d.sa.TokenURI, "service_account_file": o.fcmServiceAccountOut,
		},
		"apns": map[string]any{
			"url": "https://" + d.addrs["apns"], "key_id": o.apnsKeyID, "team_id": o.apnsTeamID,
			"key_file": o.apnsKeyOut, "ca_file": o.tlsCertOut,
		},
		"webhook": map[string]any{"url": "http://" + d.addrs["webhook"], "secret_prefixes": d.webhook.prefixes()},
		"vonage":  map[string]string{"url": "http://" + d.addrs["vonage"], "api_key": o.vonageKey, "api_secret": o.vonageSecret},
	})
}
