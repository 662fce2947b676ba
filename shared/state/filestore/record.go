package filestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// A record is stored as
//
//	{"version":3,"cursor":{…},"seen":["<unix ns> <key>",…],"updated_at":"…"}
//
// Dedup entries are written as one string each, time first, because a full
// set (state.MaxSeen keys) is rewritten on every page commit: encoding it by
// hand costs a small fraction of encoding/json with time.Time values.

type storedRecord struct {
	Version   int64           `json:"version"`
	Cursor    json.RawMessage `json:"cursor"`
	Seen      []string        `json:"seen"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func encodeRecord(rec state.Record) (json.RawMessage, error) {
	if len(rec.Cursor) > 0 && !json.Valid(rec.Cursor) {
		return nil, errors.New("cursor is not valid JSON")
	}
	b := make([]byte, 0, 64+len(rec.Cursor)+len(rec.Seen)*48)
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, rec.Version, 10)
	if len(rec.Cursor) > 0 {
		b = append(b, `,"cursor":`...)
		b = append(b, rec.Cursor...)
	}
	if len(rec.Seen) > 0 {
		b = append(b, `,"seen":[`...)
		for i, s := range rec.Seen {
			if i > 0 {
				b = append(b, ',')
			}
			if !utf8.ValidString(s.Key) {
				return nil, fmt.Errorf("dedup key %d is not valid UTF-8", i)
			}
			b = append(b, '"')
			b = strconv.AppendInt(b, unixNano(s.At), 10)
			b = append(b, ' ')
			b = appendEscaped(b, s.Key)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	b = append(b, `,"updated_at":"`...)
	b = rec.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return b, nil
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
	var sr storedRecord
	if err := json.Unmarshal(raw, &sr); err != nil {
		return state.Record{}, err
	}
	rec := state.Record{Version: sr.Version, Cursor: sr.Cursor, UpdatedAt: sr.UpdatedAt}
	if string(rec.Cursor) == "null" {
		rec.Cursor = nil
	}
	if len(sr.Seen) > 0 {
		rec.Seen = make([]state.Seen, len(sr.Seen))
	}
	for i, e := range sr.Seen {
		ns, key, ok := strings.Cut(e, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			return state.Record{}, fmt.Errorf("dedup entry %d is not \"<unix ns> <key>\"", i)
		}
		rec.Seen[i] = state.Seen{Key: key}
		if n != 0 {
			rec.Seen[i].At = time.Unix(0, n).UTC()
		}
	}
	return rec, nil
}

// unixNano stores the zero time as 0 (UnixNano is undefined for it).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
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
