package main

import (
	"bytes"
	"encoding/binary"
	"sort"
	"sync"

	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// How writes are ordered against each other. FerretDB 1.24 applies
// findAndModify and update as a read followed by an overwrite of the whole
// document, outside any transaction (FerretDB issues #2168 and #3040), so two
// changes to one document must never overlap. Changes to different documents
// may: on PostgreSQL they then share the server's cores and group commits
// (measured: one at a time 580 findAndModify/s, eight at once 1,100/s).
//
// A write that names one document per statement by _id takes that document's
// lock and a shared hold on the order lock; any other write (updateMany, a
// filter without _id, dropping or creating collections) takes the order lock
// for itself, so it never overlaps a per-document change.

// writePlan is what one request must hold while FerretDB works on it.
type writePlan struct {
	write     bool     // the request changes data
	exclusive bool     // it must run alone
	keys      []string // documents it changes, sorted; with !exclusive
}

// writeCommands are the commands that change data; reads pass through
// without any lock.
var writeCommands = map[string]bool{
	"findAndModify": true, "findandmodify": true, "update": true, "insert": true,
	"delete": true, "createIndexes": true, "dropIndexes": true, "create": true,
	"drop": true, "dropDatabase": true, "renameCollection": true,
}

// orderByDocument is false on SQLite, which takes one writer at a time anyway:
// there concurrent writers only sleep in its busy handler (measured: deliveries
// fell to a few per second with the CPU idle), so every write runs alone.
var orderByDocument bool

// opMsgSections returns the body document of an OP_MSG and its document
// sequences by identifier (insert, update and delete may carry their
// statements in one).
func opMsgSections(msg []byte) (bsoncore.Document, map[string][]bsoncore.Document, bool) {
	if opCode(msg) != opMsg || len(msg) < headerLen+5 {
		return nil, nil, false
	}
	flags := binary.LittleEndian.Uint32(msg[headerLen : headerLen+4])
	rest := msg[headerLen+4:]
	if flags&1 != 0 { // checksumPresent
		if len(rest) < 4 {
			return nil, nil, false
		}
		rest = rest[:len(rest)-4]
	}
	var body bsoncore.Document
	sequences := map[string][]bsoncore.Document{}
	for len(rest) > 0 {
		kind := rest[0]
		rest = rest[1:]
		switch kind {
		case 0:
			doc, remaining, ok := bsoncore.ReadDocument(rest)
			if !ok {
				return nil, nil, false
			}
			body, rest = doc, remaining
		case 1:
			if len(rest) < 4 {
				return nil, nil, false
			}
			size := int(binary.LittleEndian.Uint32(rest[:4]))
			if size < 5 || size > len(rest) {
				return nil, nil, false
			}
			section := rest[4:size]
			rest = rest[size:]
			end := bytes.IndexByte(section, 0)
			if end < 0 {
				return nil, nil, false
			}
			id := string(section[:end])
			for docs := section[end+1:]; len(docs) > 0; {
				doc, remaining, ok := bsoncore.ReadDocument(docs)
				if !ok {
					return nil, nil, false
				}
				sequences[id] = append(sequences[id], doc)
				docs = remaining
			}
		default:
			return nil, nil, false
		}
	}
	return body, sequences, body != nil
}

// statements returns the command's statements under `field`, from the body's
// array or from a document sequence.
func statements(body bsoncore.Document, sequences map[string][]bsoncore.Document, field string) []bsoncore.Document {
	if docs, ok := sequences[field]; ok {
		return docs
	}
	arr, ok := body.Lookup(field).ArrayOK()
	if !ok {
		return nil
	}
	values, err := bsoncore.Document(arr).Values()
	if err != nil {
		return nil
	}
	var docs []bsoncore.Document
	for _, v := range values {
		doc, ok := v.DocumentOK()
		if !ok {
			return nil
		}
		docs = append(docs, doc)
	}
	return docs
}

// documentKey names the one document `filter` selects by a plain _id value,
// or "" when it may select others (no _id, or an operator such as $in).
func documentKey(namespace string, filter bsoncore.Document) string {
	id, err := filter.LookupErr("_id")
	if err != nil {
		return ""
	}
	switch id.Type {
	case bsontype.EmbeddedDocument, bsontype.Array, bsontype.Regex:
		return ""
	}
	return namespace + "\x00" + string(byte(id.Type)) + string(id.Data)
}

// planWrite reads a request and decides what it must hold.
func planWrite(msg []byte) writePlan {
	if len(msg) < headerLen {
		return writePlan{}
	}
	name := commandName(msg)
	if !writeCommands[name] {
		return writePlan{}
	}
	whole := writePlan{write: true, exclusive: true}
	if !orderByDocument {
		return whole
	}
	body, sequences, ok := opMsgSections(msg)
	if !ok {
		return whole
	}
	coll, _ := body.Lookup(name).StringValueOK()
	db, _ := body.Lookup("$db").StringValueOK()
	namespace := db + "." + coll

	var keys []string
	switch name {
	case "insert":
		// New documents: the unique _id index decides between racing inserts.
		return writePlan{write: true}
	case "findAndModify", "findandmodify":
		query, _ := body.Lookup("query").DocumentOK()
		keys = append(keys, documentKey(namespace, query))
	case "update":
		for _, s := range statements(body, sequences, "updates") {
			q, _ := s.Lookup("q").DocumentOK()
			if multi, _ := s.Lookup("multi").BooleanOK(); multi {
				return whole
			}
			keys = append(keys, documentKey(namespace, q))
		}
	case "delete":
		for _, s := range statements(body, sequences, "deletes") {
			q, _ := s.Lookup("q").DocumentOK()
			if limit, ok := s.Lookup("limit").AsInt64OK(); !ok || limit != 1 {
				return whole
			}
			keys = append(keys, documentKey(namespace, q))
		}
	default:
		return whole
	}
	if len(keys) == 0 {
		return whole
	}
	for _, k := range keys {
		if k == "" {
			return whole
		}
	}
	sort.Strings(keys)
	return writePlan{write: true, keys: keys}
}

// order is held shared by per-document writes and alone by the others.
var order sync.RWMutex

// documentLocks holds one mutex per document being changed, counted so the
// map only keeps the documents in use.
var documentLocks = struct {
	sync.Mutex
	held map[string]*documentLock
}{held: map[string]*documentLock{}}

type documentLock struct {
	sync.Mutex
	users int
}

func lockDocument(key string) *documentLock {
	documentLocks.Lock()
	l := documentLocks.held[key]
	if l == nil {
		l = &documentLock{}
		documentLocks.held[key] = l
	}
	l.users++
	documentLocks.Unlock()
	l.Lock()
	return l
}

func unlockDocument(key string, l *documentLock) {
	l.Unlock()
	documentLocks.Lock()
	l.users--
	if l.users == 0 {
		delete(documentLocks.held, key)
	}
	documentLocks.Unlock()
}

// acquire takes what the plan needs and returns the function that releases
// it. Keys are sorted and distinct keys are taken once, so two requests never
// wait for each other in a cycle.
func (p writePlan) acquire() (release func()) {
	switch {
	case !p.write:
		return func() {}
	case p.exclusive:
		order.Lock()
		return order.Unlock
	}
	order.RLock()
	var held []*documentLock
	var names []string
	for i, k := range p.keys {
		if i > 0 && k == p.keys[i-1] {
			continue
		}
		held = append(held, lockDocument(k))
		names = append(names, k)
	}
	return func() {
		for i := len(held) - 1; i >= 0; i-- {
			unlockDocument(names[i], held[i])
		}
		order.RUnlock()
	}
}
