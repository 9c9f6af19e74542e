package main

// Putting the fakes together: credentials, listeners, servers, and an orderly stop.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Provider names, as the control API spells them, in the order they are listed.
var providerNames = []string{"twilio", "fcm", "apns", "webhook", "vonage"}

// options is the program's configuration, from its flags.
type options struct {
	controlAddr, twilioAddr, fcmAddr, apnsAddr, webhookAddr, vonageAddr string

	twilioSID, twilioToken, twilioUnsubscribedPrefix, twilioInvalidPrefix string

	vonageKey, vonageSecret string

	fcmProject, fcmServiceAccountOut string

	apnsKeyOut, apnsKeyID, apnsTeamID string
	apnsMaxTokenUpdates               int

	tlsCertOut, tlsKeyOut string

	// The host name clients reach the doubles by when it is not the listen address (a container
	// network): FCM's token_uri names it and the APNs certificate covers it.
	publicHost string

	webhookSecretsFile string

	base        behaviour         // every provider's behaviour at start
	providerCfg map[string]string // provider → JSON behaviour patch applied over base

	maxIDs, lastSize int
}

func defaultOptions() options {
	return options{
		controlAddr: "127.0.0.1:4000", twilioAddr: "127.0.0.1:4010", fcmAddr: "127.0.0.1:4020",
		apnsAddr: "127.0.0.1:4030", webhookAddr: "127.0.0.1:4040", vonageAddr: "127.0.0.1:4050",
		twilioSID: "AC00000000000000000000000000000000", twilioToken: "00000000000000000000000000000000",
		twilioUnsubscribedPrefix: "+1555000",
		twilioInvalidPrefix:      "+1555001",
		vonageKey:                "abcd1234", vonageSecret: "0123456789abcdef",
		fcmProject: "wavecom-test",
		apnsKeyID:  "ABC123DEFG", apnsTeamID: "DEF123GHIJ", apnsMaxTokenUpdates: 1,
		base:        defaultBehaviour(),
		providerCfg: map[string]string{},
		maxIDs:      2_000_000, lastSize: 100,
	}
}

// initialBehaviour is provider's behaviour at start: the base, then its -PROVIDER-config patch.
func (o *options) initialBehaviour(name string) (behaviour, error) {
	b := o.base
	if name == "apns" {
		n := o.apnsMaxTokenUpdates
		b.MaxTokenUpdates = &n
	}
	if err := b.validate(); err != nil {
		return b, err
	}
	raw := o.providerCfg[name]
	if raw == "" {
		return b, nil
	}
	var patch behaviourPatch
	if err := decodeStrict([]byte(raw), &patch); err != nil {
		return b, fmt.Errorf("-%s-config: %v", name, err)
	}
	nb, err := b.apply(patch)
	if err != nil {
		return b, fmt.Errorf("-%s-config: %v", name, err)
	}
	return nb, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// doubles is the running program.
type doubles struct {
	log  *slog.Logger
	opts options

	stop     chan struct{} // closed when the program stops
	stopOnce sync.Once

	providers map[string]*provider
	twilio    *twilioDouble
	fcm       *fcmDouble
	apns      *apnsDouble
	webhook   *webhookDouble
	vonage    *vonageDouble

	// The credentials, which tests use to play the worker.
	fcmKey  *rsa.PrivateKey
	sa      *serviceAccount
	apnsKey *ecdsa.PrivateKey
	certPEM []byte

	addrs   map[string]string // "control" and each provider → the address it listens on
	servers []*http.Server
	serveWG sync.WaitGroup
	failed  chan error // a server that stopped serving on its own
}

// start listens on every address, prepares the credentials and serves.
func start(opts options, log *slog.Logger) (d *doubles, err error) {
	d = &doubles{
		log: log, opts: opts, stop: make(chan struct{}), providers: map[string]*provider{},
		addrs: map[string]string{}, failed: make(chan error, 8),
	}
	addrs := map[string]string{
		"control": opts.controlAddr, "twilio": opts.twilioAddr, "fcm": opts.fcmAddr,
		"apns": opts.apnsAddr, "webhook": opts.webhookAddr, "vonage": opts.vonageAddr,
	}
	listeners := map[string]net.Listener{}
	defer func() {
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
		}
	}()
	for _, name := range append([]string{"control"}, providerNames...) {
		l, err := net.Listen("tcp", addrs[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		listeners[name] = l
		d.addrs[name] = l.Addr().String()
	}

	for _, name := range providerNames {
		b, err := opts.initialBehaviour(name)
		if err != nil {
			return nil, err
		}
		d.providers[name] = newProvider(name, log, b, d.stop, opts.maxIDs, opts.lastSize)
	}

	d.twilio = &twilioDouble{sid: opts.twilioSID, token: opts.twilioToken, unsubscribedPrefix: opts.twilioUnsubscribedPrefix,
		invalidPrefix: opts.twilioInvalidPrefix}
	d.providers["twilio"].proto = d.twilio
	d.vonage = &vonageDouble{key: opts.vonageKey, secret: opts.vonageSecret}
	d.providers["vonage"].proto = d.vonage

	tokenURI := "http://" + publicAddr(d.addrs["fcm"], opts.publicHost) + "/token"
	sa, fcmKey, wrote, err := loadOrCreateServiceAccount(opts.fcmServiceAccountOut, opts.fcmProject, tokenURI)
	if err != nil {
		return nil, fmt.Errorf("FCM service account: %v", err)
	}
	if wrote {
		log.Info("wrote the FCM service account", "path", opts.fcmServiceAccountOut, "client_email", sa.ClientEmail, "project_id", sa.ProjectID)
	}
	d.sa, d.fcmKey = sa, fcmKey
	d.fcm = &fcmDouble{
		p: d.providers["fcm"], log: log.With("provider", "fcm"), sa: sa, pub: &fcmKey.PublicKey,
		tokenURI: tokenURI, tokens: map[string]time.Time{},
	}
	d.providers["fcm"].proto = d.fcm

	apnsKey, created, err := loadOrCreateAPNsKey(opts.apnsKeyOut)
	if err != nil {
		return nil, fmt.Errorf("APNs key: %v", err)
	}
	if created && opts.apnsKeyOut != "" {
		log.Info("wrote the APNs signing key", "path", opts.apnsKeyOut, "key_id", opts.apnsKeyID)
	}
	d.apnsKey = apnsKey
	d.apns = &apnsDouble{
		log: log.With("provider", "apns"), keyID: opts.apnsKeyID, teamID: opts.apnsTeamID,
		pub: &apnsKey.PublicKey, tokens: map[string]int64{},
	}
	d.providers["apns"].proto = d.apns

	cert, certPEM, created, err := loadOrCreateTLS(opts.tlsCertOut, opts.tlsKeyOut, opts.publicHost)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %v", err)
	}
	if created && opts.tlsCertOut != "" {
		log.Info("wrote the APNs TLS certificate", "path", opts.tlsCertOut, "key_path", opts.tlsKeyOut)
	}
	d.certPEM = certPEM

	d.webhook = &webhookDouble{log: log.With("provider", "webhook"), secrets: map[string][]byte{}}
	if opts.webhookSecretsFile != "" {
		if err := d.webhook.loadSecretsFile(opts.webhookSecretsFile); err != nil {
			return nil, fmt.Errorf("webhook secrets: %v", err)
		}
	}
	d.providers["webhook"].proto = d.webhook

	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          errorLog,
		}
	}
	// The plain-HTTP fakes also speak HTTP/2 with prior knowledge (h2c), which lets a client
	// multiplex many requests on one connection as it would with the real, TLS-only, services.
	plain := new(http.Protocols)
	plain.SetHTTP1(true)
	plain.SetUnencryptedHTTP2(true)
	for _, name := range []string{"control", "twilio", "fcm", "webhook", "vonage"} {
		var h http.Handler
		switch name {
		case "control":
			h = d.controlHandler()
		case "fcm":
			h = d.fcm
		default:
			h = d.providers[name]
		}
		srv := newServer(h)
		if name != "control" {
			srv.Protocols = plain
			srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000}
		}
		d.serve(name, srv, listeners[name])
	}
	// APNs is HTTP/2 only, as Apple's servers are, and lets 1,000 streams run on one connection.
	apnsSrv := newServer(d.providers["apns"])
	h2 := new(http.Protocols)
	h2.SetHTTP2(true)
	apnsSrv.Protocols = h2
	apnsSrv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000}
	apnsSrv.ConnContext = apnsConnContext
	apnsSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	d.serve("apns", apnsSrv, listeners["apns"])
	return d, nil
}

func (d *doubles) serve(name string, srv *http.Server, l net.Listener) {
	d.servers = append(d.servers, srv)
	d.serveWG.Add(1)
	go func() {
		defer d.serveWG.Done()
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(l, "", "") // which also offers ALPN h2
		} else {
			err = srv.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.failed <- fmt.Errorf("%s: %v", name, err)
		}
	}()
}

// shutdown stops accepting, cuts held requests and sleeps short, and waits (until ctx ends) for
// the answers in progress.
func (d *doubles) shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stop) })
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, srv := range d.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d.serveWG.Wait()
	return errors.Join(errs...)
}

// publicAddr is addr (a listen address) as clients reach it: its port on publicHost, or addr
// itself when publicHost is empty.
func publicAddr(addr, publicHost string) string {
	if publicHost == "" {
		return addr
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(publicHost, port)
}
