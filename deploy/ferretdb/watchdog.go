package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// FerretDB 1.24's PostgreSQL backend has been seen to stop answering for good
// once its connection pool is exhausted by operations waiting on each other.
// Rather than let every client hang, the launcher watches FerretDB with a
// query that needs the pool, and when it stops answering starts a fresh
// instance (with a fresh pool) on a new socket; new client connections go
// there. The stuck instance's goroutines and connections are abandoned.

const (
	watchEvery    = 5 * time.Second
	watchTimeout  = 10 * time.Second
	watchFailures = 3
)

// backendAddr is the socket of the instance that new connections reach.
var backendAddr atomic.Pointer[string]

type instances struct {
	ctx     context.Context
	config  ferretdb.Config
	dataDir string
	logger  *slog.Logger
	started int
}

// start runs a new FerretDB instance on its own socket and makes it current.
func (in *instances) start() error {
	in.started++
	addr := filepath.Join(in.dataDir, fmt.Sprintf("ferretdb-%d.sock", in.started))
	if err := os.Remove(addr); err != nil && !os.IsNotExist(err) {
		return err
	}
	cfg := in.config
	cfg.Listener = ferretdb.ListenerConfig{Unix: addr}
	db, err := ferretdb.New(&cfg)
	if err != nil {
		return err
	}
	go func() {
		if err := db.Run(in.ctx); err != nil {
			in.logger.Error("FerretDB instance ended", "error", err)
		}
	}()
	for i := 0; i < 100; i++ { // the socket appears once Run has started listening
		if _, err := os.Stat(addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	backendAddr.Store(&addr)
	return nil
}

// probeMessage is an OP_MSG {listDatabases: 1, nameOnly: true, $db: "admin"}.
func probeMessage() []byte {
	var doc []byte
	doc = append(doc, 0, 0, 0, 0) // length, set below
	doc = append(doc, 0x10)
	doc = append(doc, "listDatabases\x00"...)
	doc = binary.LittleEndian.AppendUint32(doc, 1)
	doc = append(doc, 0x08)
	doc = append(doc, "nameOnly\x00"...)
	doc = append(doc, 1)
	doc = append(doc, 0x02)
	doc = append(doc, "$db\x00"...)
	doc = binary.LittleEndian.AppendUint32(doc, uint32(len("admin")+1))
	doc = append(doc, "admin\x00"...)
	doc = append(doc, 0)
	binary.LittleEndian.PutUint32(doc, uint32(len(doc)))

	msg := make([]byte, headerLen, headerLen+5+len(doc))
	msg = binary.LittleEndian.AppendUint32(msg, 0) // flag bits
	msg = append(msg, 0)                           // section kind 0: the body
	msg = append(msg, doc...)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.LittleEndian.PutUint32(msg[4:], 1)
	binary.LittleEndian.PutUint32(msg[12:], opMsg)
	return msg
}

func probe(addr string) error {
	conn, err := net.DialTimeout("unix", addr, watchTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(watchTimeout)); err != nil {
		return err
	}
	if _, err := conn.Write(probeMessage()); err != nil {
		return err
	}
	_, err = readMessage(conn)
	return err
}

// watch replaces the current instance after watchFailures failed probes in a row.
func (in *instances) watch() {
	failures := 0
	ticker := time.NewTicker(watchEvery)
	defer ticker.Stop()
	for {
		select {
		case <-in.ctx.Done():
			return
		case <-ticker.C:
		}
		if err := probe(*backendAddr.Load()); err != nil {
			failures++
			in.logger.Warn("FerretDB probe failed", "error", err, "failures", failures)
		} else {
			failures = 0
		}
		if failures >= watchFailures {
			in.logger.Error("FerretDB stopped answering; starting a new instance")
			if err := in.start(); err != nil {
				in.logger.Error("cannot start a new FerretDB instance", "error", err)
				continue
			}
			failures = 0
		}
	}
}
