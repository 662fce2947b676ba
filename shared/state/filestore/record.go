package filestore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// A record is stored as
//
//	{"version":3,"cursor":{…},"seen":"<base64>","updated_at":"…"}
//
// where "seen" is the dedup set in state.SeenEncoder's encoding (16-byte
// digest and a varint time per key, about 23 characters of base64 per
// key), so any key, whatever bytes it holds, is stored the same way and a
// full set is rewritten cheaply on every page commit.
//
// Earlier versions wrote "seen" as an array holding the keys themselves,
// either as objects {"k":"<key>","t":"<RFC 3339>"} or as strings
// "<unix ns> <key>"; both are still read, each key turned into its digest.
//
// A pending position (state.Pending) is stored beside the cursor as
//
//	"pending":{"cursor":{…},"seen":"<base64>","reader":"…","run_id":"…"}
//
// with its dedup set in the same encoding; a record without one has no
// "pending" member, so files written before it existed read unchanged.

type storedRecord struct {
	Version   int64           `json:"version"`
	Cursor    json.RawMessage `json:"cursor"`
	Seen      json.RawMessage `json:"seen"`
	Pending   *storedPending  `json:"pending"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type storedPending struct {
	Cursor json.RawMessage `json:"cursor"`
	Seen   json.RawMessage `json:"seen"`
	Reader string          `json:"reader"`
	RunID  string          `json:"run_id"`
}

func encodeRecord(rec state.Record) (json.RawMessage, error) {
	if len(rec.Cursor) > 0 && !json.Valid(rec.Cursor) {
		return nil, errors.New("cursor is not valid JSON")
	}
	p := rec.Pending
	if p != nil && len(p.Cursor) > 0 && !json.Valid(p.Cursor) {
		return nil, errors.New("pending cursor is not valid JSON")
	}
	seen := state.EncodeSeen(rec.Seen)
	var pendingSeen []byte
	// 128 covers the member names, the version and updated_at: a record
	// is built without growing (a copy of a full dedup set otherwise).
	size := 128 + len(rec.Cursor) + base64.StdEncoding.EncodedLen(len(seen))
	if p != nil {
		pendingSeen = state.EncodeSeen(p.Seen)
		size += 64 + len(p.Cursor) + base64.StdEncoding.EncodedLen(len(pendingSeen)) + 2*len(p.Reader) + 2*len(p.RunID)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, rec.Version, 10)
	b = appendPosition(b, rec.Cursor, seen)
	if p != nil {
		b = append(b, `,"pending":{"reader":`...)
		b = appendJSONString(b, p.Reader)
		b = append(b, `,"run_id":`...)
		b = appendJSONString(b, p.RunID)
		b = appendPosition(b, p.Cursor, pendingSeen)
		b = append(b, '}')
	}
	b = append(b, `,"updated_at":"`...)
	b = rec.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return b, nil
}

// appendPosition appends the ,"cursor" and ,"seen" members (each only
// when not empty).
func appendPosition(b []byte, cursor json.RawMessage, seen []byte) []byte {
	if len(cursor) > 0 {
		b = append(b, `,"cursor":`...)
		b = append(b, cursor...)
	}
	if len(seen) > 0 {
		b = append(b, `,"seen":"`...)
		b = base64.StdEncoding.AppendEncode(b, seen)
		b = append(b, '"')
	}
	return b
}

// recordVersion reads the version of a record in our own layout without
// decoding its dedup set; it reports false for anything else (an absent
// record has version 0).
func recordVersion(raw json.RawMessage) (int64, bool) {
	if raw == nil {
		return 0, true
	}
	rest, ok := strings.CutPrefix(string(raw[:min(len(raw), 32)]), `{"version":`)
	if !ok {
		return 0, false
	}
	end := strings.IndexAny(rest, ",}")
	if end <= 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(rest[:end], 10, 64)
	return v, err == nil
}

func decodeRecord(raw json.RawMessage) (state.Record, error) {
	if rec, ok := scanRecord(raw); ok {
		return rec, nil
	}
	return decodeRecordJSON(raw)
}

// decodeRecordJSON reads with encoding/json what scanRecord leaves:
// records of earlier versions, and anything written by hand.
func decodeRecordJSON(raw json.RawMessage) (state.Record, error) {
	var sr storedRecord
	if err := json.Unmarshal(raw, &sr); err != nil {
		return state.Record{}, err
	}
	rec := state.Record{Version: sr.Version, Cursor: nullIsNone(sr.Cursor), UpdatedAt: sr.UpdatedAt}
	var err error
	if rec.Seen, err = decodeSeen(sr.Seen); err != nil {
		return state.Record{}, err
	}
	if sp := sr.Pending; sp != nil {
		p := &state.Pending{Cursor: nullIsNone(sp.Cursor), Reader: sp.Reader, RunID: sp.RunID}
		if p.Seen, err = decodeSeen(sp.Seen); err != nil {
			return state.Record{}, fmt.Errorf("pending position: %w", err)
		}
		rec.Pending = p
	}
	return rec, nil
}

// scanRecord decodes a record in the layout encodeRecord writes with one
// jsonscan pass, where encoding/json scans the dedup set's base64 three
// times; every run loads each of its streams' records. It reports false
// for anything else (another member, a name in another case, a value of
// another type, escapes in the base64), which decodeRecord then reads
// with encoding/json, as before.
func scanRecord(raw []byte) (state.Record, bool) {
	var rec state.Record
	ok, sawPending := true, false
	n, err := jsonscan.MembersFunc(raw, func(quoted, rest []byte) (int, error) {
		n, err := jsonscan.Skip(rest)
		if err != nil {
			return n, err
		}
		value := rest[:n]
		name, plain := jsonscan.Plain(quoted)
		switch {
		case !plain:
			ok = false
		case string(name) == "version":
			rec.Version, err = strconv.ParseInt(string(value), 10, 64)
			ok = ok && err == nil
		case string(name) == "cursor":
			rec.Cursor = cloneCursor(value)
		case string(name) == "seen":
			rec.Seen, ok = scanSeen(value, ok)
		case string(name) == "updated_at":
			ok = ok && value[0] == '"' && rec.UpdatedAt.UnmarshalJSON(value) == nil
		case string(name) == "pending":
			// encoding/json merges a second pending object into the
			// first; that is left to it.
			ok = ok && !sawPending
			sawPending = true
			if string(value) == "null" {
				rec.Pending = nil
				break
			}
			var p *state.Pending
			p, ok = scanPending(value, ok)
			rec.Pending = p
		default:
			ok = false
		}
		return n, nil
	})
	if err != nil || !ok || n != len(raw) || controlInString(raw) {
		return state.Record{}, false
	}
	return rec, true
}

func scanPending(raw []byte, ok bool) (*state.Pending, bool) {
	p := &state.Pending{}
	_, err := jsonscan.Members(raw, func(quoted, value []byte) error {
		name, plain := jsonscan.Plain(quoted)
		switch {
		case !plain:
			ok = false
		case string(name) == "cursor":
			p.Cursor = cloneCursor(value)
		case string(name) == "seen":
			p.Seen, ok = scanSeen(value, ok)
		case string(name) == "reader":
			var s []byte
			s, plain = jsonscan.Plain(value)
			ok, p.Reader = ok && plain, string(s)
		case string(name) == "run_id":
			var s []byte
			s, plain = jsonscan.Plain(value)
			ok, p.RunID = ok && plain, string(s)
		default:
			ok = false
		}
		return nil
	})
	return p, ok && err == nil
}

// cloneCursor copies a cursor out of the file's bytes, as encoding/json's
// RawMessage does; null is no cursor.
func cloneCursor(value []byte) json.RawMessage {
	if string(value) == "null" {
		return nil
	}
	return bytes.Clone(value)
}

// scanSeen decodes a dedup set written as base64 without escapes; null is
// none. Anything else is not ok.
func scanSeen(value []byte, ok bool) ([]state.Seen, bool) {
	if string(value) == "null" {
		return nil, ok
	}
	b64, plain := jsonscan.Plain(value)
	if !ok || !plain {
		return nil, false
	}
	enc := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(enc, b64)
	if err != nil {
		return nil, false
	}
	seen, err := state.DecodeSeen(nil, enc[:n])
	return seen, err == nil
}

func nullIsNone(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

func decodeSeen(raw json.RawMessage) ([]state.Seen, error) {
	seen := bytes.TrimSpace(raw)
	switch {
	case len(seen) == 0 || string(seen) == "null":
		return nil, nil
	case seen[0] == '"':
		var enc []byte // base64 is decoded by encoding/json into []byte
		if err := json.Unmarshal(seen, &enc); err != nil {
			return nil, fmt.Errorf("dedup set is not base64: %v", err)
		}
		return state.DecodeSeen(nil, enc)
	case seen[0] == '[':
		return decodeLegacySeen(seen)
	}
	return nil, errors.New("dedup set is neither a string nor an array")
}

// decodeLegacySeen reads the dedup arrays earlier versions wrote.
func decodeLegacySeen(raw json.RawMessage) ([]state.Seen, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, err
	}
	out := make([]state.Seen, 0, len(entries))
	for i, e := range entries {
		var key string
		var at time.Time
		if len(e) > 0 && e[0] == '{' {
			var o struct {
				K *string   `json:"k"`
				T time.Time `json:"t"`
			}
			if err := json.Unmarshal(e, &o); err != nil || o.K == nil {
				return nil, fmt.Errorf("dedup entry %d is not {\"k\":…,\"t\":…}", i)
			}
			key, at = *o.K, o.T
		} else {
			var s string
			if err := json.Unmarshal(e, &s); err != nil {
				return nil, fmt.Errorf("dedup entry %d is neither a string nor an object", i)
			}
			ns, k, ok := strings.Cut(s, " ")
			n, err := strconv.ParseInt(ns, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("dedup entry %d is not \"<unix ns> <key>\"", i)
			}
			key = k
			if n != 0 {
				at = time.Unix(0, n)
			}
		}
		out = append(out, state.Seen{Digest: state.KeyDigest(key), At: state.SeenTime(state.SeenSeconds(at))})
	}
	return out, nil
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped escapes what JSON requires inside a string.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}
