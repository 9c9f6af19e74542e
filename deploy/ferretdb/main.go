// Command wavecom-ferretdb runs FerretDB 1.24 on PostgreSQL (or SQLite) as the
// MongoDB-protocol database of the local stack and of the tests. It exists
// because a plain `go install` of FerretDB's own command builds a binary that
// panics at start: its version file is produced only by FerretDB's release
// build, while the embeddable package sets its own version. It also makes
// findAndModify and update atomic per document, which FerretDB is not
// (see ordering.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data", "", "directory for the socket and, with SQLite, the database files (required)")
	postgresURL := flag.String("postgresql-url", "", "store in this PostgreSQL database instead of SQLite")
	maxActive := flag.Int("max-active", 8, "requests FerretDB works on at once; keep it under half the PostgreSQL pool")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "wavecom-ferretdb: -data is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "wavecom-ferretdb: cannot create %s: %v\n", *dataDir, err)
		os.Exit(1)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "wavecom-ferretdb: bad -log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// FerretDB converts every document between BSON, its own types and
	// PostgreSQL's JSON; with Go's default GC target a quarter of its CPU went
	// to collecting (measured: 0.58 ms per findAndModify, 0.45 ms at 400).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	if *maxActive < 1 {
		fmt.Fprintln(os.Stderr, "wavecom-ferretdb: -max-active must be at least 1")
		os.Exit(2)
	}
	active = make(chan struct{}, *maxActive)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wavecom-ferretdb: %v\n", err)
		os.Exit(1)
	}

	// FerretDB itself listens on a Unix socket inside the data directory
	// (watchdog.go); clients reach it through the serializing proxy
	// (serialize.go). SQLite takes a directory URI that must end with a slash.
	config := ferretdb.Config{
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
	}
	if *postgresURL != "" {
		orderByDocument = true
		config.Handler = "postgresql"
		config.PostgreSQLURL = *postgresURL
		config.SQLiteURL = ""
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	in := &instances{ctx: ctx, config: config, dataDir: *dataDir, logger: logger}
	if err := in.start(); err != nil {
		fmt.Fprintf(os.Stderr, "wavecom-ferretdb: %v\n", err)
		os.Exit(1)
	}
	go in.watch()
	go serve(ln, logger)

	logger.Info("listening", "address", *listen, "data", *dataDir)
	<-ctx.Done()
	ln.Close()
}
