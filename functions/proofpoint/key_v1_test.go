package proofpoint

// The dedup key as version 1 computed it, frozen: stored dedup sets hold
// keys of this function, so every later keyer must agree with it on any
// input (FuzzKeyMatchesV1). Do not change this file.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"time"

	// utctime.Parse is version 1's parseUTC, moved (TestParseAgreesWithTimeParse, FuzzParse).
	"github.com/wazuh-pull/wazuh-pull/shared/utctime"
)

// keyerV1 computes dedup keys; it reuses its buffers and is not safe for
// concurrent use.
type keyerV1 struct {
	h       hash.Hash
	sum     []byte
	scratch []byte
	final   []byte
	order   []uint64
	stack   [][]memberV1
	elems   [][][]byte
	// names remembers the canonical form of the memberV1 names seen lately:
	// TAP uses a few dozen names, and every event repeats them.
	names [512]nameEntryV1
	// sorted remembers, per depth, the memberV1 order of the last few
	// objects whose names all differed in their first eight bytes: the
	// next object with the same names in the same order (the next event of
	// the type, usually) sorts the same way.
	sorted  [][sortWaysV1]sortedObjectV1
	nextWay int
}

// sortWaysV1 is how many memberV1 orders are remembered per depth: TAP's four
// event types, and their shapes with and without optional members.
const sortWaysV1 = 8

type nameEntryV1 struct {
	raw, canon []byte // the token as sent; quoted and in lower case
	prefix     uint64
}

type sortedObjectV1 struct {
	prefixes []uint64 // the members' prefixes in input order
	order    []uint64 // sortMembers' answer for them
}

type memberV1 struct {
	prefix      uint64 // the name's first 8 bytes, big-endian: most comparisons end here
	name, value []byte
}

// key returns the dedup key of event raw of type typ and the event's own
// time (messageTime or clickTime, zero if absent). Input that is not valid
// JSON still gets a key (of its raw bytes) so that it can be reported.
func (k *keyerV1) key(typ string, raw []byte) (string, time.Time) {
	k.scratch = k.scratch[:0]
	k.final = append(k.final[:0], typ...)
	k.final = append(k.final, 0)
	w := walkerV1{k: k, src: raw}
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
	if k.h == nil {
		k.h, k.sum = sha256.New(), make([]byte, 0, sha256.Size)
	}
	k.h.Reset()
	k.h.Write(k.final)
	k.sum = k.h.Sum(k.sum[:0])
	var out [keyLen]byte
	base64.RawURLEncoding.Encode(out[:], k.sum[:16])
	return string(out[:]), w.own
}

// maxKeyDepthV1 bounds nesting (TAP events are three levels deep).
const maxKeyDepthV1 = 32

// walkerV1 reads one JSON value. The input was validated by the page scan,
// but fuzzed input need not be: every step checks bounds and reports !ok
// instead of panicking.
type walkerV1 struct {
	k   *keyerV1
	src []byte
	i   int
	own time.Time // messageTime or clickTime of the top-level object
	top bool      // the top-level object was assembled into k.final
}

func (w *walkerV1) space() {
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
	litTrueV1  = []byte("true")
	litFalseV1 = []byte("false")
)

// value returns the canonical form of the value at w.i (pointing into src
// or the keyerV1's scratch), whether it is dropped (null, "", empty), and
// whether it could be read.
func (w *walkerV1) value(depth int) (canon []byte, drop, ok bool) {
	if w.i >= len(w.src) || depth > maxKeyDepthV1 {
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
			return litTrueV1, false, true
		case string(tok) == `"false"`:
			return litFalseV1, false, true
		}
		return tok, false, true
	case c == 'n':
		return nil, true, w.lit("null")
	case c == 't':
		return litTrueV1, false, w.lit("true")
	case c == 'f':
		return litFalseV1, false, w.lit("false")
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

func (w *walkerV1) lit(s string) bool {
	if len(w.src)-w.i < len(s) || string(w.src[w.i:w.i+len(s)]) != s {
		return false
	}
	w.i += len(s)
	return true
}

// str skips the string at w.i and reports whether it holds escapes.
func (w *walkerV1) str() (escaped, ok bool) {
	rest := w.src[w.i+1:]
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return false, false
	}
	if bytes.IndexByte(rest[:q], '\\') < 0 {
		w.i += q + 2
		return false, true
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '"':
			w.i += i + 2
			return true, true
		case '\\':
			i++
		}
	}
	return false, false
}

func (w *walkerV1) object(depth int) ([]byte, bool, bool) {
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
		name, prefix, ok := w.name()
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
			members = append(members, memberV1{prefix, name, v})
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
			order := w.k.sortCached(depth, members)
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

// name reads the memberV1 name at w.i and returns it quoted and in lower
// case (decoded if it held escapes), with its sort prefix: names are read
// for every memberV1 of every event, so the common case (no escapes) is one
// pass.
func (w *walkerV1) name() ([]byte, uint64, bool) {
	start := w.i
	rest := w.src[start+1:]
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return nil, 0, false
	}
	inner := rest[:q]
	var tok []byte
	if bytes.IndexByte(inner, '\\') < 0 {
		w.i = start + q + 2
		tok = w.src[start:w.i]
		// Two entries per name: the first names seen keep their place,
		// and any other is lower-cased in scratch as it comes.
		slot := nameSlotV1(inner)
		for _, e := range [2]*nameEntryV1{&w.k.names[slot], &w.k.names[slot^1]} {
			if bytes.Equal(e.raw, tok) {
				return e.canon, e.prefix, true
			}
			if e.raw == nil {
				canon, prefix := canonNameV1(tok)
				*e = nameEntryV1{raw: append([]byte(nil), tok...), canon: canon, prefix: prefix}
				return canon, prefix, true
			}
		}
	} else {
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
		return tok, prefix, true
	}
	lo := len(w.k.scratch)
	for _, c := range tok {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		w.k.scratch = append(w.k.scratch, c)
	}
	return w.k.scratch[lo:], prefix, true
}

func (w *walkerV1) array(depth int) ([]byte, bool, bool) {
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

// nameSlotV1 picks the cache entries of a memberV1 name (without quotes).
func nameSlotV1(inner []byte) uint16 {
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

// canonNameV1 returns a quoted name without escapes in lower case, in memory
// of its own, and its sort prefix.
func canonNameV1(tok []byte) ([]byte, uint64) {
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
func (k *keyerV1) sortMembers(m []memberV1) []uint64 {
	order := k.order[:0]
	if len(m) > 0xffff {
		for i := 1; i < len(m); i++ {
			for j := i; j > 0 && lessMemberV1(m[j], m[j-1]); j-- {
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
			for b := a; b > 0 && lessMemberV1(m[run[b]&0xffff], m[run[b-1]&0xffff]); b-- {
				run[b], run[b-1] = run[b-1], run[b]
			}
		}
		i = j
	}
	k.order = order
	return order
}

// sortCached is sortMembers, reusing the order of the last object at
// this depth when it had the same memberV1 prefixes in the same order, all
// distinct: the order then follows from the prefixes alone.
func (k *keyerV1) sortCached(depth int, m []memberV1) []uint64 {
	for len(k.sorted) <= depth {
		k.sorted = append(k.sorted, [sortWaysV1]sortedObjectV1{})
	}
	if len(m) < 2 {
		return k.sortMembers(m)
	}
	ways := &k.sorted[depth]
	for w := range ways {
		c := &ways[w]
		if len(c.prefixes) != len(m) {
			continue
		}
		same := true
		for i := range m {
			if m[i].prefix != c.prefixes[i] {
				same = false
				break
			}
		}
		if same {
			return c.order
		}
	}
	order := k.sortMembers(m)
	c := &ways[k.nextWay%sortWaysV1]
	k.nextWay++
	c.prefixes, c.order = c.prefixes[:0], c.order[:0]
	for i := 1; i < len(order); i++ {
		if m[order[i]&0xffff].prefix == m[order[i-1]&0xffff].prefix {
			return order // names alike in their first 8 bytes: not cached
		}
	}
	for i := range m {
		c.prefixes = append(c.prefixes, m[i].prefix)
	}
	c.order = append(c.order, order...)
	return order
}

func lessMemberV1(a, b memberV1) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	if c := bytes.Compare(a.name, b.name); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.value, b.value) < 0
}
