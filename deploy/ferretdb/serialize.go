package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
)

// The launcher puts a small proxy in front of FerretDB that orders writes
// (ordering.go) and bounds how many requests FerretDB works on at once.

const (
	opQuery      = 2004
	opMsg        = 2013
	headerLen    = 16
	maxMessage   = 48 * 1024 * 1024 // MongoDB's own maximum message size
	flagMoreNext = 1 << 1           // OP_MSG moreToCome
)

// FerretDB's PostgreSQL backend takes a second pooled connection inside some
// operations (creating or dropping a collection while others query it); with
// every pooled connection held by a first-level operation, all of them wait
// for ever. Bounding the requests in FerretDB at once well below the pool size
// (see -max-active) keeps a connection free for the nested ones.
var active chan struct{}

// readMessage reads one wire-protocol message: a 16-byte header whose first
// field is the message's whole length, then the rest.
func readMessage(r io.Reader) ([]byte, error) {
	var header [headerLen]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(header[:4]))
	if n < headerLen || n > maxMessage {
		return nil, fmt.Errorf("message length %d out of range", n)
	}
	msg := make([]byte, n)
	copy(msg, header[:])
	if _, err := io.ReadFull(r, msg[headerLen:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func opCode(msg []byte) uint32 { return binary.LittleEndian.Uint32(msg[12:16]) }

func moreToCome(msg []byte) bool {
	return opCode(msg) == opMsg && len(msg) >= 20 &&
		binary.LittleEndian.Uint32(msg[16:20])&flagMoreNext != 0
}

// commandName returns the first key of an OP_MSG body section: the command.
func commandName(msg []byte) string {
	if opCode(msg) != opMsg || len(msg) < 26 || msg[20] != 0 { // section kind 0: the body
		return ""
	}
	// msg[21:25] is the body document's length, msg[25] the first element's type.
	name := msg[26:]
	for i, b := range name {
		if b == 0 {
			return string(name[:i])
		}
	}
	return ""
}

// relay carries one client connection's requests to FerretDB and the answers
// back, holding what ordering.go asks of each write for its round trip.
func relay(client net.Conn, logger *slog.Logger) {
	defer client.Close()
	backend, err := net.Dial("unix", *backendAddr.Load())
	if err != nil {
		logger.Error("cannot reach FerretDB", "error", err)
		return
	}
	defer backend.Close()

	for {
		req, err := readMessage(client)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				logger.Debug("client connection ended", "error", err)
			}
			return
		}
		// The write's locks come before a slot in FerretDB, so requests
		// waiting for a document do not hold slots others could use.
		release := planWrite(req).acquire()
		active <- struct{}{}
		err = exchange(client, backend, req)
		<-active
		release()
		if err != nil {
			logger.Debug("relay ended", "error", err)
			return
		}
	}
}

// exchange forwards one request and, unless the client asked for no reply,
// every message of the reply.
func exchange(client, backend net.Conn, req []byte) error {
	if _, err := backend.Write(req); err != nil {
		return err
	}
	if moreToCome(req) {
		return nil
	}
	for {
		resp, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(resp); err != nil {
			return err
		}
		if !moreToCome(resp) {
			return nil
		}
	}
}

// serve accepts clients on ln until it is closed.
func serve(ln net.Listener, logger *slog.Logger) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				logger.Error("accept failed", "error", err)
			}
			return
		}
		go relay(conn, logger)
	}
}
