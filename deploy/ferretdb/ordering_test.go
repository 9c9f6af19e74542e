package main

import (
	"encoding/binary"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// opMsgOf builds an OP_MSG with `body` and, when seqID is set, a document
// sequence as drivers send the statements of insert, update and delete.
func opMsgOf(body bsoncore.Document, seqID string, seq ...bsoncore.Document) []byte {
	payload := binary.LittleEndian.AppendUint32(nil, 0) // flags
	payload = append(payload, 0)
	payload = append(payload, body...)
	if seqID != "" {
		var docs []byte
		for _, d := range seq {
			docs = append(docs, d...)
		}
		payload = append(payload, 1)
		payload = binary.LittleEndian.AppendUint32(payload, uint32(4+len(seqID)+1+len(docs)))
		payload = append(payload, seqID...)
		payload = append(payload, 0)
		payload = append(payload, docs...)
	}
	msg := binary.LittleEndian.AppendUint32(nil, uint32(headerLen+len(payload)))
	msg = binary.LittleEndian.AppendUint32(msg, 1) // requestID
	msg = binary.LittleEndian.AppendUint32(msg, 0) // responseTo
	msg = binary.LittleEndian.AppendUint32(msg, opMsg)
	return append(msg, payload...)
}

func doc(build func(*bsoncore.DocumentBuilder)) bsoncore.Document {
	b := bsoncore.NewDocumentBuilder()
	build(b)
	return b.Build()
}

func byID(id primitive.ObjectID) bsoncore.Document {
	return doc(func(b *bsoncore.DocumentBuilder) { b.AppendObjectID("_id", id) })
}

func TestPlanWrite(t *testing.T) {
	orderByDocument = true
	a, b := primitive.NewObjectID(), primitive.NewObjectID()
	findAndModify := func(query bsoncore.Document) []byte {
		return opMsgOf(doc(func(d *bsoncore.DocumentBuilder) {
			d.AppendString("findAndModify", "notifications").AppendDocument("query", query).
				AppendString("$db", "wavecom")
		}), "")
	}
	update := func(stmts ...bsoncore.Document) []byte {
		return opMsgOf(doc(func(d *bsoncore.DocumentBuilder) {
			d.AppendString("update", "notifications").AppendString("$db", "wavecom")
		}), "updates", stmts...)
	}
	stmt := func(q bsoncore.Document, multi bool) bsoncore.Document {
		return doc(func(d *bsoncore.DocumentBuilder) {
			d.AppendDocument("q", q).AppendDocument("u", byID(a)).AppendBoolean("multi", multi)
		})
	}
	inFilter := doc(func(d *bsoncore.DocumentBuilder) {
		d.AppendDocument("_id", doc(func(in *bsoncore.DocumentBuilder) {
			in.AppendArray("$in", bsoncore.NewArrayBuilder().AppendObjectID(a).AppendObjectID(b).Build())
		}))
	})

	read := planWrite(opMsgOf(doc(func(d *bsoncore.DocumentBuilder) {
		d.AppendString("find", "notifications").AppendDocument("filter", byID(a)).AppendString("$db", "wavecom")
	}), ""))
	if read.write {
		t.Errorf("find planned as a write: %+v", read)
	}

	one := planWrite(findAndModify(byID(a)))
	if !one.write || one.exclusive || len(one.keys) != 1 {
		t.Errorf("findAndModify by _id: %+v", one)
	}
	if other := planWrite(findAndModify(byID(b))); other.keys[0] == one.keys[0] {
		t.Errorf("two documents share a key")
	}
	if p := planWrite(findAndModify(inFilter)); !p.exclusive {
		t.Errorf("findAndModify by $in must run alone: %+v", p)
	}
	if p := planWrite(findAndModify(doc(func(d *bsoncore.DocumentBuilder) { d.AppendString("status", "SCHEDULED") }))); !p.exclusive {
		t.Errorf("findAndModify without _id must run alone: %+v", p)
	}
	if p := planWrite(update(stmt(byID(b), false), stmt(byID(a), false))); p.exclusive || len(p.keys) != 2 || p.keys[0] > p.keys[1] {
		t.Errorf("update of two documents by _id: %+v", p)
	}
	if p := planWrite(update(stmt(byID(a), true))); !p.exclusive {
		t.Errorf("multi update must run alone: %+v", p)
	}
	if p := planWrite(update(stmt(byID(a), false), stmt(inFilter, false))); !p.exclusive {
		t.Errorf("an update with one statement not by _id must run alone: %+v", p)
	}
	if p := planWrite(opMsgOf(doc(func(d *bsoncore.DocumentBuilder) {
		d.AppendString("insert", "notifications").AppendString("$db", "wavecom")
	}), "documents", byID(a))); !p.write || p.exclusive || len(p.keys) != 0 {
		t.Errorf("insert: %+v", p)
	}
	if p := planWrite(opMsgOf(doc(func(d *bsoncore.DocumentBuilder) {
		d.AppendString("drop", "notifications").AppendString("$db", "wavecom")
	}), "")); !p.exclusive {
		t.Errorf("drop must run alone: %+v", p)
	}
	if p := planWrite([]byte{1, 2, 3}); p.write {
		t.Errorf("garbage planned as a write: %+v", p)
	}

	orderByDocument = false
	if p := planWrite(findAndModify(byID(a))); !p.exclusive {
		t.Errorf("on SQLite every write runs alone: %+v", p)
	}
}
