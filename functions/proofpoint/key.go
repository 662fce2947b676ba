package proofpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"time"
	"unicode/utf8"
)

// TAP events have no unique key: the per-recipient events of one message
// share GUID and messageTime, and the "id" of messages is not always
// there. The dedup key is therefore a hash of the event's content, made
// canonical so that what TAP may vary between two answers does not make
// the same event look new:
//
//   - member order and the case of member names (threatID / threatId),
//   - whitespace and string escapes,
//   - null, "" and empty arrays or objects (dropped, as in the line),
//   - a one-element array versus its element (recipient "a" / ["a"]),
//   - the strings "true" and "false" versus the booleans
//     (completelyRewritten).
//
// Everything else counts: two events that differ in any value (another
// recipient, another click id, a changed verdict) get different keys and
// are both delivered. Array order is kept. The key is the first 128 bits
// of SHA-256 over the event type and the canonical form, in unpadded
// base64url (22 characters): accidental collisions, which would lose an
// event, are out of reach.

// keyLen is the length of a dedup key.
const keyLen = 22

// keyer computes dedup keys; it reuses its buffers and is not safe for
// concurrent use.
type keyer struct {
	h       hash.Hash
	scratch []byte
	stack   [][]member
	elems   [][][]byte
}

type member struct {
	name, value []byte
}

// key returns the dedup key of event raw of type typ and the event's own
// time (messageTime or clickTime, zero if absent). Input that is not valid
// JSON still gets a key (of its raw bytes) so that it can be reported.
func (k *keyer) key(typ string, raw []byte) (string, time.Time) {
	k.scratch = append(k.scratch[:0], typ...)
	k.scratch = append(k.scratch, 0)
	var own time.Time
	w := walker{k: k, src: raw, own: &own}
	w.space()
	canon, drop, ok := w.value(0)
	if ok {
		w.space()
		ok = w.i == len(raw)
	}
	if k.h == nil {
		k.h = sha256.New()
	}
	h := k.h
	h.Reset()
	if !ok {
		// Not canonicalisable: hash the bytes as given, marked apart.
		h.Write([]byte(typ))
		h.Write([]byte{1})
		h.Write(raw)
		own = time.Time{}
	} else {
		h.Write(k.scratch[:len(typ)+1])
		if !drop {
			h.Write(canon)
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var out [keyLen]byte
	base64.RawURLEncoding.Encode(out[:], sum[:16])
	return string(out[:]), own
}

// maxKeyDepth bounds nesting (TAP events are three levels deep).
const maxKeyDepth = 32

// walker reads one JSON value. The input was validated by the page scan,
// but fuzzed input need not be: every step checks bounds and reports !ok
// instead of panicking.
type walker struct {
	k   *keyer
	src []byte
	i   int
	own *time.Time
}

func (w *walker) space() {
	for w.i < len(w.src) {
		switch w.src[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

var (
	litTrue  = []byte("true")
	litFalse = []byte("false")
)

// value returns the canonical form of the value at w.i (pointing into src
// or the keyer's scratch), whether it is dropped (null, "", empty), and
// whether it could be read.
func (w *walker) value(depth int) (canon []byte, drop, ok bool) {
	if w.i >= len(w.src) || depth > maxKeyDepth {
		return nil, false, false
	}
	switch c := w.src[w.i]; {
	case c == '{':
		return w.object(depth)
	case c == '[':
		return w.array(depth)
	case c == '"':
		start := w.i
		escaped, ok := w.str()
		if !ok {
			return nil, false, false
		}
		tok := w.src[start:w.i]
		if escaped {
			var s string
			if json.Unmarshal(tok, &s) != nil {
				return nil, false, false
			}
			lo := len(w.k.scratch)
			w.k.scratch = appendCanonString(w.k.scratch, s)
			tok = w.k.scratch[lo:]
		}
		switch {
		case len(tok) == 2:
			return nil, true, true
		case string(tok) == `"true"`:
			return litTrue, false, true
		case string(tok) == `"false"`:
			return litFalse, false, true
		}
		return tok, false, true
	case c == 'n':
		return nil, true, w.lit("null")
	case c == 't':
		return litTrue, false, w.lit("true")
	case c == 'f':
		return litFalse, false, w.lit("false")
	case c == '-' || c >= '0' && c <= '9':
		start := w.i
		for w.i < len(w.src) {
			c := w.src[w.i]
			if c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9' {
				w.i++
				continue
			}
			break
		}
		return w.src[start:w.i], false, true
	}
	return nil, false, false
}

func (w *walker) lit(s string) bool {
	if len(w.src)-w.i < len(s) || string(w.src[w.i:w.i+len(s)]) != s {
		return false
	}
	w.i += len(s)
	return true
}

// str skips the string at w.i and reports whether it holds escapes.
func (w *walker) str() (escaped, ok bool) {
	i := w.i + 1
	for i < len(w.src) {
		switch w.src[i] {
		case '"':
			w.i = i + 1
			return escaped, true
		case '\\':
			escaped = true
			i += 2
		default:
			i++
		}
	}
	return false, false
}

func (w *walker) object(depth int) ([]byte, bool, bool) {
	w.i++ // '{'
	for len(w.k.stack) <= depth {
		w.k.stack = append(w.k.stack, nil)
	}
	members := w.k.stack[depth][:0]
	defer func() { w.k.stack[depth] = members[:0] }()
	w.space()
	if w.i < len(w.src) && w.src[w.i] == '}' {
		w.i++
		return nil, true, true
	}
	for {
		w.space()
		if w.i >= len(w.src) || w.src[w.i] != '"' {
			return nil, false, false
		}
		start := w.i
		escaped, ok := w.str()
		if !ok {
			return nil, false, false
		}
		name := w.lowerName(w.src[start:w.i], escaped)
		if name == nil {
			return nil, false, false
		}
		w.space()
		if w.i >= len(w.src) || w.src[w.i] != ':' {
			return nil, false, false
		}
		w.i++
		w.space()
		valStart := w.i
		v, drop, ok := w.value(depth + 1)
		if !ok {
			return nil, false, false
		}
		if depth == 0 && w.own != nil && (string(name) == `"messagetime"` || string(name) == `"clicktime"`) {
			if s, ok := rawString(w.src[valStart:w.i]); ok {
				if t, ok := parseTime(s); ok {
					*w.own = t
				}
			}
		}
		if !drop {
			members = append(members, member{name, v})
		}
		w.space()
		if w.i >= len(w.src) {
			return nil, false, false
		}
		switch w.src[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			if len(members) == 0 {
				return nil, true, true
			}
			sortMembers(members)
			lo := len(w.k.scratch)
			w.k.scratch = append(w.k.scratch, '{')
			for i, m := range members {
				if i > 0 {
					w.k.scratch = append(w.k.scratch, ',')
				}
				w.k.scratch = append(w.k.scratch, m.name...)
				w.k.scratch = append(w.k.scratch, ':')
				w.k.scratch = append(w.k.scratch, m.value...)
			}
			w.k.scratch = append(w.k.scratch, '}')
			return w.k.scratch[lo:], false, true
		default:
			return nil, false, false
		}
	}
}

// lowerName returns the quoted member name in lower case, decoded if it
// held escapes.
func (w *walker) lowerName(tok []byte, escaped bool) []byte {
	if escaped {
		var s string
		if json.Unmarshal(tok, &s) != nil {
			return nil
		}
		lo := len(w.k.scratch)
		w.k.scratch = appendCanonString(w.k.scratch, s)
		tok = w.k.scratch[lo:]
	}
	upper := false
	for _, c := range tok {
		if c >= 'A' && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return tok
	}
	lo := len(w.k.scratch)
	for _, c := range tok {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		w.k.scratch = append(w.k.scratch, c)
	}
	return w.k.scratch[lo:]
}

func (w *walker) array(depth int) ([]byte, bool, bool) {
	w.i++ // '['
	for len(w.k.elems) <= depth {
		w.k.elems = append(w.k.elems, nil)
	}
	elems := w.k.elems[depth][:0]
	defer func() { w.k.elems[depth] = elems[:0] }()
	w.space()
	if w.i < len(w.src) && w.src[w.i] == ']' {
		w.i++
		return nil, true, true
	}
	for {
		w.space()
		v, drop, ok := w.value(depth + 1)
		if !ok {
			return nil, false, false
		}
		if !drop {
			elems = append(elems, v)
		}
		w.space()
		if w.i >= len(w.src) {
			return nil, false, false
		}
		switch w.src[w.i] {
		case ',':
			w.i++
		case ']':
			w.i++
			switch len(elems) {
			case 0:
				return nil, true, true
			case 1:
				return elems[0], false, true
			}
			lo := len(w.k.scratch)
			w.k.scratch = append(w.k.scratch, '[')
			for i, e := range elems {
				if i > 0 {
					w.k.scratch = append(w.k.scratch, ',')
				}
				w.k.scratch = append(w.k.scratch, e...)
			}
			w.k.scratch = append(w.k.scratch, ']')
			return w.k.scratch[lo:], false, true
		default:
			return nil, false, false
		}
	}
}

// sortMembers orders members by name, then value (names repeat only in
// odd input, and must not make the order depend on input order).
func sortMembers(m []member) {
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && lessMember(m[j], m[j-1]); j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

func lessMember(a, b member) bool {
	if c := bytes.Compare(a.name, b.name); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.value, b.value) < 0
}

// appendCanonString writes s as a JSON string escaping only '"', '\\'
// and control characters; invalid UTF-8 is kept as is (it is only hashed).
func appendCanonString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// rawString decodes a JSON string token.
func rawString(tok []byte) (string, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", false
	}
	inner := tok[1 : len(tok)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(tok, &s) != nil {
		return "", false
	}
	return s, true
}

// parseTime reads TAP's timestamps: RFC 3339 with or without fraction,
// and zones as "Z", "+hh:mm" or "+hhmm".
func parseTime(s string) (time.Time, bool) {
	if t, ok := parseUTC(s); ok {
		return t, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700", "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseUTC parses "2006-01-02T15:04:05[.fraction]Z" without allocating, the
// form TAP serves; it runs for every event.
func parseUTC(b string) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		n, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(frac) - 1; i < 9; i++ {
			n *= 10
		}
		nsec = n
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}
