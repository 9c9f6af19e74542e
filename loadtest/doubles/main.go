// Command wavecom-doubles serves fake notification providers on loopback for WaveCom's tests and
// benchmarks: a Twilio-compatible SMS API, FCM HTTP v1 with Google's OAuth2 token endpoint, APNs
// over HTTP/2 and TLS, and a Standard Webhooks receiver. Each fake checks what the real service
// checks (credentials, signatures, request shape) and answers as it does; each can be slowed down
// or made to fail at run time through a control API. README.md describes the flags and the API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// shutdownGrace bounds how long answers in progress may take once a stop signal arrived.
const shutdownGrace = 5 * time.Second

func parseFlags(args []string, stderr io.Writer) (options, bool, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("wavecom-doubles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: wavecom-doubles [flags]\n\nFake Twilio, FCM, APNs and webhook providers on loopback; see README.md.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.controlAddr, "control-addr", o.controlAddr, "`address` of the control API")
	fs.StringVar(&o.twilioAddr, "twilio-addr", o.twilioAddr, "`address` of the Twilio fake (HTTP)")
	fs.StringVar(&o.fcmAddr, "fcm-addr", o.fcmAddr, "`address` of the FCM fake and its OAuth2 token endpoint (HTTP)")
	fs.StringVar(&o.apnsAddr, "apns-addr", o.apnsAddr, "`address` of the APNs fake (HTTP/2 over TLS)")
	fs.StringVar(&o.webhookAddr, "webhook-addr", o.webhookAddr, "`address` of the webhook receiver (HTTP)")
	fs.StringVar(&o.vonageAddr, "vonage-addr", o.vonageAddr, "`address` of the Vonage SMS fake (HTTP)")

	fs.StringVar(&o.twilioSID, "twilio-sid", o.twilioSID, "Twilio account SID accepted (basic-auth user and the {AccountSid} of the path)")
	fs.StringVar(&o.twilioToken, "twilio-token", o.twilioToken, "Twilio auth token accepted (basic-auth password)")
	fs.StringVar(&o.twilioUnsubscribedPrefix, "twilio-unsubscribed-prefix", o.twilioUnsubscribedPrefix, "a To starting with this `prefix` is an unsubscribed recipient (400, code 21610); empty: none")
	fs.StringVar(&o.twilioInvalidPrefix, "twilio-invalid-prefix", o.twilioInvalidPrefix, "a To starting with this `prefix` is not a valid phone number (400, code 21211), as Twilio answers for a well-formed number no carrier knows; empty: none")

	fs.StringVar(&o.vonageKey, "vonage-key", o.vonageKey, "Vonage api_key accepted")
	fs.StringVar(&o.vonageSecret, "vonage-secret", o.vonageSecret, "Vonage api_secret accepted")

	fs.StringVar(&o.fcmServiceAccountOut, "fcm-service-account-out", "", "`path` of the service-account JSON: loaded if it exists, else generated and written (0600)")
	fs.StringVar(&o.fcmProject, "fcm-project", o.fcmProject, "project_id of a generated service account")

	fs.StringVar(&o.apnsKeyOut, "apns-key-out", "", "`path` of the APNs signing key (.p8, PKCS#8 PEM, EC P-256): loaded if it exists, else generated and written (0600)")
	fs.StringVar(&o.apnsKeyID, "apns-key-id", o.apnsKeyID, "key id (JWT kid) of the APNs signing key")
	fs.StringVar(&o.apnsTeamID, "apns-team-id", o.apnsTeamID, "team id (JWT iss) accepted by APNs")
	fs.IntVar(&o.apnsMaxTokenUpdates, "apns-max-token-updates", o.apnsMaxTokenUpdates, "distinct provider tokens the key may introduce per 20 minutes before 429 TooManyProviderTokenUpdates; 0: no limit")

	fs.StringVar(&o.tlsCertOut, "tls-cert-out", "", "`path` where the APNs TLS certificate (self-signed, the CA to trust) is written; reused with its key if valid")
	fs.StringVar(&o.tlsKeyOut, "tls-key-out", "", "`path` of the APNs TLS private key (default: next to -tls-cert-out, named tls-key.pem)")

	fs.StringVar(&o.publicHost, "public-host", "", "`host` clients reach the doubles by, when not the listen address (e.g. a container's service name): FCM's token_uri names it and the APNs certificate covers it")

	fs.StringVar(&o.webhookSecretsFile, "webhook-secrets", "", "`file` with a JSON object of webhook path prefix (or \"*\") to whsec_ secret")

	fs.IntVar(&o.base.LatencyMS, "latency-ms", o.base.LatencyMS, "every provider's answer delay at start, in milliseconds")
	fs.IntVar(&o.base.LatencyJitterMS, "latency-jitter-ms", o.base.LatencyJitterMS, "every provider's uniform jitter on the delay (±), in milliseconds")
	fs.Float64Var(&o.base.FailureRate, "failure-rate", o.base.FailureRate, "every provider's probability of a transient failure at start")
	fs.StringVar(&o.base.FailureKind, "failure-kind", o.base.FailureKind, "every provider's failure kind at start: 503, 500, 429, timeout or reset")
	fs.IntVar(&o.base.RetryAfterS, "retry-after-s", o.base.RetryAfterS, "Retry-After (seconds) sent with 503 and 429")
	for _, name := range providerNames {
		fs.Func(name+"-config", "`JSON` behaviour of "+name+" at start, over the flags above (the control API's config body)",
			func(s string) error { o.providerCfg[name] = s; return nil })
	}
	fs.IntVar(&o.maxIDs, "max-ids", o.maxIDs, "message ids remembered per provider (for fail_first_n and duplicates); more are counted as untracked_ids")
	fs.IntVar(&o.lastSize, "last-size", o.lastSize, "accepted requests kept per provider for /_control/PROVIDER/last")
	verbose := fs.Bool("v", false, "log every request (debug level)")

	if err := fs.Parse(args); err != nil {
		return o, false, err
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.tlsKeyOut == "" && o.tlsCertOut != "" {
		o.tlsKeyOut = filepath.Join(filepath.Dir(o.tlsCertOut), "tls-key.pem")
	}
	switch {
	case o.twilioSID == "" || o.twilioToken == "":
		return o, false, errors.New("-twilio-sid and -twilio-token must not be empty")
	case o.apnsKeyID == "" || o.apnsTeamID == "":
		return o, false, errors.New("-apns-key-id and -apns-team-id must not be empty")
	case o.apnsMaxTokenUpdates < 0:
		return o, false, errors.New("-apns-max-token-updates must not be negative")
	case o.maxIDs < 1 || o.lastSize < 0:
		return o, false, errors.New("-max-ids must be positive and -last-size not negative")
	}
	return o, *verbose, nil
}

func main() {
	opts, verbose, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wavecom-doubles:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	os.Exit(run(opts, log))
}

func run(opts options, log *slog.Logger) int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	d, err := start(opts, log)
	if err != nil {
		log.Error("start failed", "error", err.Error())
		return 1
	}
	attrs := []any{"pid", os.Getpid()}
	for _, name := range append([]string{"control"}, providerNames...) {
		attrs = append(attrs, name, d.addrs[name])
	}
	attrs = append(attrs, "fcm_service_account", opts.fcmServiceAccountOut, "apns_key", opts.apnsKeyOut,
		"tls_cert", opts.tlsCertOut)
	log.Info("started", attrs...)

	code := 0
	select {
	case <-ctx.Done():
	case err := <-d.failed:
		log.Error("a server stopped", "error", err.Error())
		code = 1
	}
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	if err := d.shutdown(sctx); err != nil {
		log.Warn("stopped with requests cut short", "error", err.Error())
	}
	log.Info("stopped", "exit_code", code)
	return code
}
