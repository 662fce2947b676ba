package dynamostore

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// FuzzDecodeHead feeds arbitrary stored head items to the decoder.
// Whatever is stored, Load must either return a record or an error
// wrapping state.ErrCorrupt; it must never panic or silently return
// version 0 for an item that carries commit data.
//
// kinds selects, bit by bit, which attributes are present and whether the
// numeric ones are stored with the wrong type; blob feeds the binary
// attributes of format 2.
func FuzzDecodeHead(f *testing.F) {
	legacy := "1772409599.000000005 a b\n0 c"
	man := manifest{chunks: []chunkRef{{slot: 1, gen: 3, written: 492336, n: 4}}}.encode()
	tail := state.EncodeSeen([]state.Seen{{Digest: state.KeyDigest("k"), At: time.Unix(1772409599, 0)}})
	f.Add(uint16(0x1f), "3", "1", `{"c":1}`, legacy, "2026-03-02T08:00:00.000000001Z", "tok", "1772409599000", []byte(nil))
	f.Add(uint16(0x1f), "3", "1", `{"c":1}`, "-62135596800 zero\n1.123456789 x", "2026-03-02T08:00:00Z", "", "", []byte(nil))
	f.Add(uint16(0x00), "", "", "", "", "", "tok", "5", []byte(nil))
	f.Add(uint16(0x1f), "0", "1", `null`, "", "2026-03-02T08:00:00Z", "", "", []byte(nil))
	f.Add(uint16(0x3f), "9223372036854775807", "2", `[`, "x", "now", "", "x", []byte{1})
	f.Add(uint16(0x2017), "4", "2", `{"c":1}`, "", "2026-03-02T08:00:00Z", "", "", man)
	f.Add(uint16(0x4017), "4", "2", `{"c":1}`, "", "2026-03-02T08:00:00Z", "", "", tail)
	f.Fuzz(func(t *testing.T, kinds uint16, version, format, cursor, seen, updated, token, expires string, blob []byte) {
		item := map[string]types.AttributeValue{}
		numOrStr := func(bit uint16, v string) types.AttributeValue {
			if kinds&bit != 0 {
				return &types.AttributeValueMemberS{Value: v}
			}
			return &types.AttributeValueMemberN{Value: v}
		}
		if kinds&0x01 != 0 {
			item[attrVersion] = numOrStr(0x100, version)
		}
		if kinds&0x02 != 0 {
			item[attrFormat] = numOrStr(0x200, format)
		}
		if kinds&0x04 != 0 {
			item[attrCursor] = &types.AttributeValueMemberS{Value: cursor}
			if kinds&0x8000 != 0 {
				item[attrCursor] = &types.AttributeValueMemberB{Value: []byte(cursor)}
			}
		}
		if kinds&0x08 != 0 {
			var l []types.AttributeValue
			for _, e := range strings.Split(seen, "\n") {
				if kinds&0x400 != 0 {
					l = append(l, &types.AttributeValueMemberN{Value: e})
				} else {
					l = append(l, &types.AttributeValueMemberS{Value: e})
				}
			}
			if kinds&0x800 != 0 {
				item[attrSeen] = &types.AttributeValueMemberS{Value: seen}
			} else {
				item[attrSeen] = &types.AttributeValueMemberL{Value: l}
			}
		}
		if kinds&0x10 != 0 {
			item[attrUpdatedAt] = &types.AttributeValueMemberS{Value: updated}
		}
		if kinds&0x20 != 0 {
			item[attrToken] = &types.AttributeValueMemberS{Value: token}
			item[attrExpires] = numOrStr(0x1000, expires)
		}
		if kinds&0x2000 != 0 {
			item[attrChunks] = &types.AttributeValueMemberB{Value: blob}
		}
		if kinds&0x4000 != 0 {
			item[attrTail] = &types.AttributeValueMemberB{Value: blob}
		}
		h, err := decodeHead(item)
		if err != nil {
			if !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		hasData := kinds&0x1f != 0 || kinds&0x6000 != 0
		if hasData && h.rec.Version < 1 {
			t.Fatalf("an item with commit data decoded as version %d", h.rec.Version)
		}
		// What was decoded must survive another round through the encoders.
		again, err := decodeManifest(h.man.encode())
		if len(h.man.chunks) > 0 && (err != nil || len(again.chunks) != len(h.man.chunks)) {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
		for i := range again.chunks {
			if again.chunks[i] != h.man.chunks[i] {
				t.Fatalf("chunk %d changed: %+v -> %+v", i, h.man.chunks[i], again.chunks[i])
			}
		}
		tail, err := state.DecodeSeen(nil, state.EncodeSeen(h.tail))
		if err != nil || len(tail) != len(h.tail) {
			t.Fatalf("re-encoded tail does not decode: %v", err)
		}
		if h.rec.Cursor != nil {
			c, err := decodeCursor(encodeCursor(h.rec.Cursor))
			if err != nil || string(c) != string(h.rec.Cursor) {
				t.Fatalf("cursor %q does not survive encoding: %q, %v", h.rec.Cursor, c, err)
			}
		}
	})
}

// FuzzPlanCommit checks the planner's invariants on arbitrary sequences
// of dedup sets: the stored layout after a commit holds exactly the set
// committed, in order; kept chunks are a trimmed, unchanged part of what
// was stored; new chunks and the inline tail respect their bounds; and
// nothing stored is referenced twice.
//
// ops is read two bytes at a time: how many entries to drop from the front
// and how many to add at the back (scaled), plus flags for a late entry in
// the middle or a full replacement.
func FuzzPlanCommit(f *testing.F) {
	f.Add([]byte{0, 20, 3, 5, 0, 200, 10, 3, 0, 0}, uint16(400))
	f.Add([]byte{0, 255, 0, 255, 0, 255, 128, 1, 255, 0}, uint16(0))
	f.Add([]byte{0, 100, 0x80 | 5, 2, 0x40, 50, 3, 90}, uint16(600))
	f.Fuzz(func(t *testing.T, ops []byte, headRoom uint16) {
		if len(ops) > 40 {
			return
		}
		base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		next := 0
		entry := func(i int) state.Seen {
			var d state.Digest
			binary.BigEndian.PutUint64(d[:], uint64(i)+1)
			return state.Seen{Digest: d, At: base.Add(time.Duration(i) * 300 * time.Millisecond)}
		}
		var cur []state.Seen
		lay := layout{}
		slot := uint64(0)
		stored := map[uint64][]state.Seen{} // slot -> entries written
		for v := int64(0); len(ops) >= 2; v++ {
			drop, add := int(ops[0]&0x3f), int(ops[1])*12
			flags := ops[0] >> 6
			ops = ops[2:]
			switch {
			case flags == 1 && len(cur) > 2: // a late entry in the middle
				mid := len(cur) / 2
				late := entry(1<<30 + next)
				next++
				late.At = cur[mid].At
				cur = append(append(append([]state.Seen{}, cur[:mid]...), late), cur[mid:]...)
			case flags == 2:
				cur = nil
			}
			cur = cur[min(drop*len(cur)/64, len(cur)):]
			for range add {
				cur = append(cur, entry(next))
				next++
			}
			if len(cur) > state.MaxSeen {
				cur = cur[len(cur)-state.MaxSeen:]
			}
			p := planCommit(&lay, cur, v+1, 100+v, 1<<40, int(headRoom), func() uint64 { slot++; return slot })
			for _, w := range p.writes {
				if len(w.data) > maxChunkBytes {
					t.Fatalf("chunk of %d bytes", len(w.data))
				}
				ref := p.man.chunks[w.idx]
				if _, ok := stored[ref.slot]; ok {
					t.Fatalf("slot %d written twice", ref.slot)
				}
				if ref.gen != v+1 || ref.skip != 0 {
					t.Fatalf("new chunk %+v", ref)
				}
				entries, err := state.DecodeSeen(nil, w.data)
				if err != nil {
					t.Fatal(err)
				}
				stored[ref.slot] = entries
			}
			if len(p.man.chunks) > maxChunks {
				t.Fatalf("%d chunks, %d written", len(p.man.chunks), len(p.writes))
			}
			if len(p.tailB) > max(int(headRoom), 0) {
				t.Fatalf("inline tail of %d bytes with %d bytes of room", len(p.tailB), headRoom)
			}
			// What a Load would now read back.
			var parts [][]state.Seen
			slots := map[uint64]bool{}
			for _, c := range p.man.chunks {
				if slots[c.slot] {
					t.Fatalf("slot %d referenced twice", c.slot)
				}
				slots[c.slot] = true
				e := stored[c.slot]
				if c.skip+c.n > len(e) {
					t.Fatalf("chunk %d: skip %d + n %d beyond its %d entries", c.slot, c.skip, c.n, len(e))
				}
				parts = append(parts, e[c.skip:c.skip+c.n])
			}
			tail, _ := state.DecodeSeen(nil, p.tailB)
			got := flatten(parts, tail)
			if len(got) != len(cur) {
				t.Fatalf("commit %d: layout holds %d entries, want %d", v, len(got), len(cur))
			}
			for i := range cur {
				if !sameEntry(got[i], cur[i]) {
					t.Fatalf("commit %d: entry %d differs", v, i)
				}
			}
			if _, err := decodeManifest(p.man.encode()); err != nil && len(p.man.chunks) > 0 {
				t.Fatalf("manifest does not decode: %v", err)
			}
			lay = layout{known: true, version: v + 1, man: p.man, parts: parts, tail: tail}
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add(manifest{chunks: []chunkRef{{slot: 4, gen: 9, written: 492336, skip: 3, n: 7}, {slot: 1<<32 + 7, gen: 12, written: 492300, n: 1}}}.encode())
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			return
		}
		again, err := decodeManifest(m.encode())
		if err != nil || len(again.chunks) != len(m.chunks) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, again, err)
		}
		for i := range m.chunks {
			if again.chunks[i] != m.chunks[i] {
				t.Fatalf("chunk %d: %+v -> %+v", i, m.chunks[i], again.chunks[i])
			}
		}
	})
}
