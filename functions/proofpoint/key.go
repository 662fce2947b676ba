package proofpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"slices"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/utctime"
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
	scratch []byte
	final   []byte
	order   []uint64
	stack   [][]member
	elems   [][][]byte
	// names remembers the canonical form of the member names seen lately:
	// TAP uses a few dozen names, and every event repeats them.
	names [512]nameEntry
	// firstName predicts, per depth, the cache entry (index+1, 0 for
	// none) of an object's first member name; nameEntry.next the name
	// after each name. TAP repeats its member order from event to event,
	// so most names are recognised by one comparison at their position.
	firstName []uint16
	spareNext uint16 // the prediction after a name that has no entry
	// sorted remembers the member order of recent objects whose names
	// all differed in their first eight bytes: the next object with the
	// same names in the same order (the next event of the type, usually)
	// sorts the same way.
	sorted  [1 << sortSlotBits]sortedObject
	nextWay int
	// numbered holds the canonical names by their number in numberedBy
	// (see jsonscan.Token.Name).
	numbered   []numberedName
	numberedBy *jsonscan.TokenScanner
}

type numberedName struct {
	canon  []byte
	prefix uint64
}

// sortSlotBits sizes the cache of member orders (two entries a hash).
const sortSlotBits = 8

type nameEntry struct {
	raw, canon []byte // the token as sent; quoted and in lower case
	prefix     uint64
	next       uint16 // the entry of the name that came after this one, index+1
}

type sortedObject struct {
	hash     uint64   // of the prefixes, see sortCached
	prefixes []uint64 // the members' prefixes in input order
	order    []uint64 // sortMembers' answer for them
	// ties are the members (input positions) whose prefix another member
	// shares, and tieNames their names.
	ties     []uint32
	tieNames [][]byte
}

type member struct {
	prefix      uint64 // the name's first 8 bytes, big-endian: most comparisons end here
	name, value []byte
}

// key returns the dedup key of event raw of type typ and the event's own
// time (messageTime or clickTime, zero if absent). Input that is not valid
// JSON still gets a key (of its raw bytes) so that it can be reported.
func (k *keyer) key(typ string, raw []byte) (string, time.Time) {
	var buf [keyLen]byte
	out, own := k.appendKey(buf[:0], typ, raw)
	return string(out), own
}

// appendKey is key, appending the key to dst: a caller keying a whole
// page makes one string of all its keys instead of one per event.
func (k *keyer) appendKey(dst []byte, typ string, raw []byte) ([]byte, time.Time) {
	k.scratch = k.scratch[:0]
	k.final = append(k.final[:0], typ...)
	k.final = append(k.final, 0)
	w := walker{k: k, src: raw}
	w.space()
	// The top-level object is assembled straight into the hashed buffer.
	canon, drop, ok := w.value(0)
	if ok {
		w.space()
		ok = w.i == len(raw)
	}
	switch {
	case !ok:
		// Not canonicalisable: hash the bytes as given, marked apart.
		k.final = append(k.final[:len(typ)], 1)
		k.final = append(k.final, raw...)
		w.own = time.Time{}
	case drop:
		k.final = k.final[:len(typ)+1]
	case !w.top:
		k.final = append(k.final, canon...)
	}
	sum := sha256.Sum256(k.final)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:16]), w.own
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
	own time.Time // messageTime or clickTime of the top-level object
	top bool      // the top-level object was assembled into k.final
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
			lo := len(w.k.scratch)
			var ok bool
			if w.k.scratch, ok = appendCanonToken(w.k.scratch, tok); !ok {
				return nil, false, false
			}
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
	i := quoteOrBackslash(w.src, w.i+1)
	if i < len(w.src) && w.src[i] == '"' {
		w.i = i + 1
		return false, true
	}
	for ; i < len(w.src); i++ {
		switch w.src[i] {
		case '"':
			w.i = i + 1
			return true, true
		case '\\':
			i++
		}
	}
	return false, false
}

// quoteOrBackslash returns the index of the first '"' or '\\' at or after
// i, or len(src). It reads eight bytes at a time: the strings of an event
// are short, where this beats two calls of bytes.IndexByte.
func quoteOrBackslash(src []byte, i int) int {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(src) {
		w := binary.LittleEndian.Uint64(src[i:])
		q, b := w^(lsb*'"'), w^(lsb*'\\')
		// A zero byte of q or b is a match; the lowest flagged byte is
		// exact (bytes above it may be flagged falsely).
		if m := ((q-lsb)&^q | (b-lsb)&^b) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for ; i < len(src); i++ {
		if c := src[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

func (w *walker) object(depth int) ([]byte, bool, bool) {
	w.i++ // '{'
	for len(w.k.stack) <= depth {
		w.k.stack = append(w.k.stack, nil)
	}
	if w.k.firstName == nil {
		// Allocated once: name keeps pointers into it.
		w.k.firstName = make([]uint16, maxKeyDepth+1)
	}
	members := w.k.stack[depth][:0]
	defer func() { w.k.stack[depth] = members[:0] }()
	w.space()
	if w.i < len(w.src) && w.src[w.i] == '}' {
		w.i++
		return nil, true, true
	}
	pred := &w.k.firstName[depth]
	for {
		w.space()
		if w.i >= len(w.src) || w.src[w.i] != '"' {
			return nil, false, false
		}
		name, prefix, ok := w.name(&pred)
		if !ok {
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
		if depth == 0 && (string(name) == `"messagetime"` || string(name) == `"clicktime"`) {
			if tok := w.src[valStart:w.i]; len(tok) > 2 && tok[0] == '"' {
				if t, ok := utctime.Parse(tok[1 : len(tok)-1]); ok {
					w.own = t
				} else if s, ok := rawString(tok); ok {
					w.own, _ = parseTime(s)
				}
			}
		}
		if !drop {
			members = append(members, member{prefix, name, v})
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
			order := w.k.sortCached(members)
			dst := &w.k.scratch
			if depth == 0 {
				dst, w.top = &w.k.final, true
			}
			lo := len(*dst)
			*dst = append(*dst, '{')
			for i, o := range order {
				m := &members[o&0xffff]
				if i > 0 {
					*dst = append(*dst, ',')
				}
				*dst = append(*dst, m.name...)
				*dst = append(*dst, ':')
				*dst = append(*dst, m.value...)
			}
			*dst = append(*dst, '}')
			return (*dst)[lo:], false, true
		default:
			return nil, false, false
		}
	}
}

// name reads the member name at w.i and returns it quoted and in lower
// case (decoded if it held escapes), with its sort prefix: names are read
// for every member of every event, so the common case (the name predicted
// by *pred, see keyer.firstName) is one comparison, and the next common
// (no escapes) one pass. It points *pred at the prediction for the next
// name.
func (w *walker) name(pred **uint16) ([]byte, uint64, bool) {
	start := w.i
	if p := **pred; p != 0 {
		// A cached token has no backslash: if the input starts with it, the
		// string token there is exactly it.
		e := &w.k.names[p-1]
		if n := len(e.raw); len(w.src)-start >= n && string(w.src[start:start+n]) == string(e.raw) {
			w.i = start + n
			*pred = &e.next
			return e.canon, e.prefix, true
		}
	}
	q := quoteOrBackslash(w.src, start+1)
	if q >= len(w.src) {
		return nil, 0, false
	}
	inner := w.src[start+1 : q]
	var tok []byte
	if w.src[q] == '"' {
		w.i = q + 1
		tok = w.src[start:w.i]
		// Two entries per name: the first names seen keep their place,
		// and any other is lower-cased in scratch as it comes.
		slot := nameSlot(inner)
		for _, s := range [2]uint16{slot, slot ^ 1} {
			e := &w.k.names[s]
			if e.raw == nil {
				canon, prefix := canonName(tok)
				*e = nameEntry{raw: append([]byte(nil), tok...), canon: canon, prefix: prefix}
			}
			if bytes.Equal(e.raw, tok) {
				**pred = s + 1
				*pred = &e.next
				return e.canon, e.prefix, true
			}
		}
		*pred = &w.k.spareNext // both entries taken: no prediction
	} else {
		*pred = &w.k.spareNext
		if _, ok := w.str(); !ok {
			return nil, 0, false
		}
		lo := len(w.k.scratch)
		var ok bool
		if w.k.scratch, ok = appendCanonToken(w.k.scratch, w.src[start:w.i]); !ok {
			return nil, 0, false
		}
		tok = w.k.scratch[lo:]
		inner = tok[1 : len(tok)-1]
	}
	low, prefix := w.k.lowerName(tok, inner)
	return low, prefix, true
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

// nameSlot picks the cache entries of a member name (without quotes).
func nameSlot(inner []byte) uint16 {
	h := uint64(len(inner)) * 0x9e3779b97f4a7c15
	for i, c := range inner[:min(len(inner), 8)] {
		h ^= uint64(c) << (8 * i)
	}
	if n := len(inner); n > 8 {
		h ^= uint64(inner[n-1])<<11 ^ uint64(inner[n-2])<<23
	}
	h *= 0xbf58476d1ce4e5b9
	return uint16(h >> 55) // 0 to 511
}

// canonName returns a quoted name without escapes in lower case, in memory
// of its own, and its sort prefix.
func canonName(tok []byte) ([]byte, uint64) {
	canon := make([]byte, len(tok))
	var prefix uint64
	for i, c := range tok {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		canon[i] = c
		if j := i - 1; j >= 0 && j < 8 && i < len(tok)-1 {
			prefix |= uint64(c) << (56 - 8*j)
		}
	}
	return canon, prefix
}

// sortMembers returns the order of members by name, then value (names
// repeat only in odd input, and must not make the order depend on input
// order), as indices in the low 16 bits of the returned values. It sorts
// plain integers made of each name's first six bytes and the index, then
// settles the few runs of names that share those bytes: far cheaper than
// moving the members themselves around.
func (k *keyer) sortMembers(m []member) []uint64 {
	order := k.order[:0]
	if len(m) > 0xffff {
		for i := 1; i < len(m); i++ {
			for j := i; j > 0 && lessMember(m[j], m[j-1]); j-- {
				m[j], m[j-1] = m[j-1], m[j]
			}
		}
		for i := range m {
			order = append(order, uint64(i))
		}
		k.order = order
		return order
	}
	for i := range m {
		order = append(order, m[i].prefix&^0xffff|uint64(i))
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && order[j] < order[j-1]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && order[j]>>16 == order[i]>>16 {
			j++
		}
		run := order[i:j]
		for a := 1; a < len(run); a++ {
			for b := a; b > 0 && lessMember(m[run[b]&0xffff], m[run[b-1]&0xffff]); b-- {
				run[b], run[b-1] = run[b-1], run[b]
			}
		}
		i = j
	}
	k.order = order
	return order
}

// sortCached is sortMembers, reusing the order of an earlier object
// with the same member prefixes in the same order: the order then
// follows from the prefixes alone, but for members whose prefixes are
// alike (quarantineFolder, quarantineRule), where it follows from their
// names, which must then be the same too (and differ from each other).
// The orders are found by a hash of the prefixes: TAP's four event types
// come in several shapes each (optional members present or not), and so
// do their nested objects.
func (k *keyer) sortCached(m []member) []uint64 {
	if len(m) < 2 {
		return k.sortMembers(m)
	}
	h := uint64(len(m))
	for i := range m {
		h = bits.RotateLeft64(h, 7) ^ m[i].prefix
	}
	h *= 0x9e3779b97f4a7c15
	slot := h >> (64 - sortSlotBits)
	for _, s := range [2]uint64{slot, slot ^ 1} {
		if c := &k.sorted[s]; c.hash == h && c.matches(m) {
			return c.order
		}
	}
	order := k.sortMembers(m)
	// Of the two entries, an empty one, else each in turn.
	c := &k.sorted[slot]
	if c.prefixes != nil {
		c = &k.sorted[slot^uint64(k.nextWay&1)]
		k.nextWay++
	}
	c.hash, c.prefixes, c.order, c.ties = 0, c.prefixes[:0], c.order[:0], c.ties[:0]
	for i := 1; i < len(order); i++ {
		a, b := &m[order[i-1]&0xffff], &m[order[i]&0xffff]
		if a.prefix != b.prefix {
			continue
		}
		if bytes.Equal(a.name, b.name) {
			return order // a name twice: the order depends on the values
		}
		for _, at := range [2]uint64{order[i-1] & 0xffff, order[i] & 0xffff} {
			if !slices.Contains(c.ties, uint32(at)) {
				c.ties = append(c.ties, uint32(at))
			}
		}
	}
	for len(c.tieNames) < len(c.ties) {
		c.tieNames = append(c.tieNames, nil)
	}
	for j, at := range c.ties {
		c.tieNames[j] = append(c.tieNames[j][:0], m[at].name...)
	}
	for i := range m {
		c.prefixes = append(c.prefixes, m[i].prefix)
	}
	c.order = append(c.order, order...)
	c.hash = h
	return order
}

// matches reports whether members m sort as the object c remembers.
func (c *sortedObject) matches(m []member) bool {
	if len(c.prefixes) != len(m) {
		return false
	}
	for i := range m {
		if m[i].prefix != c.prefixes[i] {
			return false
		}
	}
	for j, at := range c.ties {
		if !bytes.Equal(m[at].name, c.tieNames[j]) {
			return false
		}
	}
	return true
}

func lessMember(a, b member) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
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

// appendCanonToken appends the canonical form of a JSON string token that
// holds escapes: decoded, then escaped again the one way appendCanonString
// does.
func appendCanonToken(dst, tok []byte) ([]byte, bool) {
	if len(tok) < 2 {
		return dst, false
	}
	var buf [utf8.UTFMax]byte
	dst = append(dst, '"')
	in := tok[1 : len(tok)-1]
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			dst = appendCanonByte(dst, c)
			continue
		}
		if i+1 >= len(in) {
			return dst, false
		}
		i++
		switch in[i] {
		case '"', '\\', '/':
			dst = appendCanonByte(dst, in[i])
		case 'b':
			dst = appendCanonByte(dst, '\b')
		case 'f':
			dst = appendCanonByte(dst, '\f')
		case 'n':
			dst = appendCanonByte(dst, '\n')
		case 'r':
			dst = appendCanonByte(dst, '\r')
		case 't':
			dst = appendCanonByte(dst, '\t')
		case 'u':
			r, n, ok := hexRune(in[i:])
			if !ok {
				return dst, false
			}
			i += n - 1 // at the last hex digit
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; anything else is U+FFFD, as
				// encoding/json decodes it.
				lo, m, ok := rune(0), 0, false
				if i+2 < len(in) && in[i+1] == '\\' {
					lo, m, ok = hexRune(in[i+2:])
				}
				if d := utf16.DecodeRune(r, lo); ok && d != utf8.RuneError {
					r = d
					i += 1 + m
				} else {
					r = utf8.RuneError
				}
			}
			n = utf8.EncodeRune(buf[:], r)
			for _, b := range buf[:n] {
				dst = appendCanonByte(dst, b)
			}
		default:
			return dst, false
		}
	}
	return append(dst, '"'), true
}

// hexRune reads "uXXXX" at the start of b and returns the code unit and
// the bytes read.
func hexRune(b []byte) (rune, int, bool) {
	if len(b) < 5 || b[0] != 'u' {
		return 0, 0, false
	}
	var r rune
	for _, c := range b[1:5] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, 0, false
		}
	}
	return r, 5, true
}

func appendCanonByte(dst []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c < 0x20:
		return append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
	}
	return append(dst, c)
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
	if t, ok := utctime.Parse(s); ok {
		return t, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700", "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// appendKeyTokens is appendKey for an event that jsonscan.TokenScanner
// validated, given its tokens: the canonical form is assembled from them
// without reading the event's bytes a second time to find where each
// string ends. It computes what appendKey computes (FuzzKeyTokensMatchesKey);
// where the two ways could part (nesting beyond maxKeyDepth, no tokens),
// it leaves the event to appendKey.
func (k *keyer) appendKeyTokens(dst []byte, typ string, raw []byte, toks []jsonscan.Token, from *jsonscan.TokenScanner) ([]byte, time.Time) {
	own, ok := k.canonTokens(typ, raw, toks, from)
	if !ok {
		return k.appendKey(dst, typ, raw)
	}
	return k.appendFinalKey(dst), own
}

// appendFinalKey appends the key of what k.final holds.
func (k *keyer) appendFinalKey(dst []byte) []byte {
	sum := sha256.Sum256(k.final)
	return base64.RawURLEncoding.AppendEncode(dst, sum[:16])
}

// canonTokens puts into k.final what appendKey hashes for a value that
// it can canonicalise, from the value's tokens (from scanner from), and
// returns the event's own time; false if it leaves the value to
// appendKey.
func (k *keyer) canonTokens(typ string, raw []byte, toks []jsonscan.Token, from *jsonscan.TokenScanner) (time.Time, bool) {
	if len(toks) == 0 {
		return time.Time{}, false
	}
	if from != k.numberedBy {
		// Name numbers are the scanner's own.
		k.numbered, k.numberedBy = k.numbered[:0], from
	}
	k.scratch = k.scratch[:0]
	k.final = append(k.final[:0], typ...)
	k.final = append(k.final, 0)
	w := tokenWalker{k: k, src: raw, toks: toks}
	canon, drop, ok := w.value(0)
	if !ok || w.i != len(toks) {
		return time.Time{}, false
	}
	switch {
	case drop:
		k.final = k.final[:len(typ)+1]
	case !w.top:
		k.final = append(k.final, canon...)
	}
	return w.own, true
}

// tokenWalker is walker reading tokens instead of bytes.
type tokenWalker struct {
	k    *keyer
	src  []byte
	toks []jsonscan.Token
	i    int
	own  time.Time
	top  bool
}

func (w *tokenWalker) value(depth int) (canon []byte, drop, ok bool) {
	if w.i >= len(w.toks) || depth > maxKeyDepth {
		return nil, false, false
	}
	t := w.toks[w.i]
	w.i++
	switch t.Kind {
	case jsonscan.KindString:
		return w.str(t)
	case jsonscan.KindObject:
		return w.object(depth)
	case jsonscan.KindArray:
		return w.array(depth)
	case jsonscan.KindNull:
		return nil, true, true
	case jsonscan.KindTrue:
		return litTrue, false, true
	case jsonscan.KindFalse:
		return litFalse, false, true
	case jsonscan.KindNumber:
		return w.src[t.Start:t.End], false, true
	}
	return nil, false, false
}

// str is value for a string token, most values of an event.
func (w *tokenWalker) str(t jsonscan.Token) ([]byte, bool, bool) {
	return w.k.canonString(w.src[t.Start:t.End], t.Escaped)
}

// canonString returns the canonical form of the string token tok
// (escaped: it holds a backslash), whether it is dropped (""), and
// whether it could be read.
func (k *keyer) canonString(tok []byte, escaped bool) ([]byte, bool, bool) {
	if escaped {
		lo := len(k.scratch)
		var ok bool
		if k.scratch, ok = appendCanonToken(k.scratch, tok); !ok {
			return nil, false, false
		}
		tok = k.scratch[lo:]
	}
	switch len(tok) {
	case 2:
		return nil, true, true
	case 6:
		if string(tok) == `"true"` {
			return litTrue, false, true
		}
	case 7:
		if string(tok) == `"false"` {
			return litFalse, false, true
		}
	}
	return tok, false, true
}

func (w *tokenWalker) object(depth int) ([]byte, bool, bool) {
	k := w.k
	for len(k.stack) <= depth {
		k.stack = append(k.stack, nil)
	}
	if k.firstName == nil {
		k.firstName = make([]uint16, maxKeyDepth+1)
	}
	// Kept in the keyer when done (not deferred: a deferred closure
	// keeps members in memory, where every append goes through it).
	members := k.stack[depth][:0]
	pred := &k.firstName[depth]
	for {
		if w.i >= len(w.toks) {
			return nil, false, false
		}
		t := w.toks[w.i]
		w.i++
		if t.Kind != jsonscan.KindName {
			k.stack[depth] = members[:0]
			if t.Kind != jsonscan.KindObjectEnd {
				return nil, false, false
			}
			if len(members) == 0 {
				return nil, true, true
			}
			return k.assemble(depth, members, &w.top), false, true
		}
		var name []byte
		var prefix uint64
		if id := int(t.Name); id != 0 {
			// A numbered name (no backslash): canonicalised once.
			if id >= len(k.numbered) {
				k.numbered = append(k.numbered, make([]numberedName, id+1-len(k.numbered))...)
			}
			nn := &k.numbered[id]
			if nn.canon == nil {
				nn.canon, nn.prefix = canonName(w.src[t.Start:t.End])
			}
			name, prefix = nn.canon, nn.prefix
		} else if tok := w.src[t.Start:t.End]; *pred != 0 && sameToken(tok, k.names[*pred-1].raw) {
			e := &k.names[*pred-1]
			pred = &e.next
			name, prefix = e.canon, e.prefix
		} else {
			var ok bool
			if name, prefix, ok = k.tokenName(&pred, tok, t.Escaped); !ok {
				k.stack[depth] = members[:0]
				return nil, false, false
			}
		}
		var v []byte
		var drop, ok bool
		if w.i < len(w.toks) && w.toks[w.i].Kind == jsonscan.KindString && depth < maxKeyDepth {
			vt := w.toks[w.i]
			w.i++
			v, drop, ok = w.str(vt)
			if ok && depth == 0 && vt.End-vt.Start > 2 && (string(name) == `"messagetime"` || string(name) == `"clicktime"`) {
				tok := w.src[vt.Start:vt.End]
				if t, ok := utctime.Parse(tok[1 : len(tok)-1]); ok {
					w.own = t
				} else if s, ok := rawString(tok); ok {
					w.own, _ = parseTime(s)
				}
			}
		} else {
			v, drop, ok = w.value(depth + 1)
		}
		if !ok {
			k.stack[depth] = members[:0]
			return nil, false, false
		}
		if !drop {
			// Field by field: a member built whole on the stack and
			// copied stalls on store forwarding.
			members = append(members, member{})
			m := &members[len(members)-1]
			m.prefix, m.name, m.value = prefix, name, v
		}
	}
}

// sameToken is string(a) == string(b) for member names, most of which
// are 8 to 16 bytes long: two loads each instead of a call.
func sameToken(a, b []byte) bool {
	n := len(a)
	if n != len(b) {
		return false
	}
	if n >= 8 && n <= 16 {
		return binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b) &&
			binary.LittleEndian.Uint64(a[n-8:]) == binary.LittleEndian.Uint64(b[n-8:])
	}
	return string(a) == string(b)
}

// assemble writes the canonical form of an object of members (at least
// one) in name order, the top-level one (depth 0) straight into the
// hashed buffer (and says so in *top). The pieces are short (names, most
// values): they are moved a few words at a time rather than by a call
// each.
func (k *keyer) assemble(depth int, members []member, top *bool) []byte {
	order := k.sortCached(members)
	dst := &k.scratch
	if depth == 0 {
		dst, *top = &k.final, true
	}
	n := 1 + 2*len(members) // '{', ':' and ',' or '}' for each member
	for i := range members {
		n += len(members[i].name) + len(members[i].value)
	}
	lo := len(*dst)
	out := slices.Grow(*dst, n)[:lo+n]
	buf := out[lo:]
	buf[0] = '{'
	at := 1
	for _, o := range order {
		m := &members[o&0xffff]
		at = putPiece(buf, at, m.name)
		buf[at] = ':'
		at = putPiece(buf, at+1, m.value)
		buf[at] = ','
		at++
	}
	buf[at-1] = '}'
	*dst = out
	return buf
}

// putPiece copies p into buf at at and returns the index after it. Most
// pieces are short: they are moved by two overlapping loads and stores of
// a size that fits, not by a call.
func putPiece(buf []byte, at int, p []byte) int {
	n := len(p)
	d := buf[at : at+n]
	switch {
	case n >= 8 && n <= 16:
		binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(p))
		binary.LittleEndian.PutUint64(d[n-8:], binary.LittleEndian.Uint64(p[n-8:]))
	case n > 16 && n <= 32:
		binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(p))
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(p[8:]))
		binary.LittleEndian.PutUint64(d[n-16:], binary.LittleEndian.Uint64(p[n-16:]))
		binary.LittleEndian.PutUint64(d[n-8:], binary.LittleEndian.Uint64(p[n-8:]))
	case n >= 4 && n < 8:
		binary.LittleEndian.PutUint32(d, binary.LittleEndian.Uint32(p))
		binary.LittleEndian.PutUint32(d[n-4:], binary.LittleEndian.Uint32(p[n-4:]))
	case n > 0 && n < 4:
		d[0], d[n/2], d[n-1] = p[0], p[n/2], p[n-1]
	default:
		copy(d, p)
	}
	return at + n
}

// tokenName is walker.name for a whole name token (escaped: it holds a
// backslash), sharing the keyer's name cache and predictions.
func (k *keyer) tokenName(pred **uint16, tok []byte, escaped bool) ([]byte, uint64, bool) {
	if p := **pred; p != 0 {
		if e := &k.names[p-1]; string(tok) == string(e.raw) {
			*pred = &e.next
			return e.canon, e.prefix, true
		}
	}
	inner := tok[1 : len(tok)-1]
	if !escaped {
		slot := nameSlot(inner)
		for _, s := range [2]uint16{slot, slot ^ 1} {
			e := &k.names[s]
			if e.raw == nil {
				canon, prefix := canonName(tok)
				*e = nameEntry{raw: append([]byte(nil), tok...), canon: canon, prefix: prefix}
			}
			if bytes.Equal(e.raw, tok) {
				**pred = s + 1
				*pred = &e.next
				return e.canon, e.prefix, true
			}
		}
		*pred = &k.spareNext
	} else {
		*pred = &k.spareNext
		lo := len(k.scratch)
		var ok bool
		if k.scratch, ok = appendCanonToken(k.scratch, tok); !ok {
			return nil, 0, false
		}
		tok = k.scratch[lo:]
		inner = tok[1 : len(tok)-1]
	}
	low, prefix := k.lowerName(tok, inner)
	return low, prefix, true
}

// lowerName returns the canonical (lower-case) form of the quoted name tok
// whose bytes between the quotes are inner: tok itself when it has no
// upper-case letter, else a lower-cased copy in the scratch buffer; and
// the first eight lower-cased bytes of inner, big-endian, which order
// names and find their cached member order.
func (k *keyer) lowerName(tok, inner []byte) ([]byte, uint64) {
	var prefix uint64
	upper := false
	for j, c := range inner {
		if c >= 'A' && c <= 'Z' {
			upper = true
			c += 'a' - 'A'
		}
		if j < 8 {
			prefix |= uint64(c) << (56 - 8*j)
		}
	}
	if !upper {
		return tok, prefix
	}
	lo := len(k.scratch)
	for _, c := range tok {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		k.scratch = append(k.scratch, c)
	}
	return k.scratch[lo:], prefix
}

func (w *tokenWalker) array(depth int) ([]byte, bool, bool) {
	k := w.k
	for len(k.elems) <= depth {
		k.elems = append(k.elems, nil)
	}
	elems := k.elems[depth][:0]
	for {
		if w.i >= len(w.toks) {
			k.elems[depth] = elems[:0]
			return nil, false, false
		}
		if w.toks[w.i].Kind == jsonscan.KindArrayEnd {
			w.i++
			k.elems[depth] = elems[:0]
			v, drop := k.joinElems(elems)
			return v, drop, true
		}
		var v []byte
		var drop, ok bool
		if vt := w.toks[w.i]; vt.Kind == jsonscan.KindString && depth < maxKeyDepth {
			w.i++
			v, drop, ok = w.str(vt)
		} else {
			v, drop, ok = w.value(depth + 1)
		}
		if !ok {
			k.elems[depth] = elems[:0]
			return nil, false, false
		}
		if !drop {
			elems = append(elems, v)
		}
	}
}

// joinElems returns the canonical form of an array whose elements left
// after dropping have the canonical forms elems, and whether the array is
// dropped (no elements left): one element stands for itself.
func (k *keyer) joinElems(elems [][]byte) ([]byte, bool) {
	switch len(elems) {
	case 0:
		return nil, true
	case 1:
		return elems[0], false
	}
	lo := len(k.scratch)
	k.scratch = append(k.scratch, '[')
	for i, e := range elems {
		if i > 0 {
			k.scratch = append(k.scratch, ',')
		}
		k.scratch = append(k.scratch, e...)
	}
	k.scratch = append(k.scratch, ']')
	return k.scratch[lo:], false
}
