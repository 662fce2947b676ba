package proofpoint

import (
	"encoding/binary"
	"math/bits"
	"time"
	"unicode/utf8"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/utctime"
)

// A SIEM event used to be read twice: jsonscan.TokenScanner validated and
// classified it and recorded its tokens, then the keyer walked the tokens
// to build the canonical form. The fused walker below does both in one
// pass over the event's bytes, for the events TAP sends in practice:
// compact objects whose strings hold valid UTF-8 and no control
// characters. Whatever it does not handle itself (whitespace, integers to
// quote, null array elements, surrogate or NUL escapes, escaped names,
// deep nesting, anything invalid) it declines, and the event goes the
// reference way (TokenScanner and keyer.appendKeyTokens). It must
// therefore agree with the reference on everything it accepts: the
// event's extent, its jsonscan.Class (clean, holes, field count), its key
// and its own time (FuzzFusedMatchesReference).

// fusedMaxDepth bounds the nesting the fused walker reads itself (TAP
// events are three levels deep); deeper events go the reference way,
// whose limits (jsonscan.MaxDepth, maxKeyDepth) are both higher.
const fusedMaxDepth = 16

// fused reads one event at a time; it reuses its buffers and is not safe
// for concurrent use.
type fused struct {
	k     *keyer
	drop  []string // jsonscan.Options.DropTopLevel: at depth 0, such a name makes the event dirty
	src   []byte   // the array being read
	base  int      // where the current event starts in src
	pos   int
	holes []jsonscan.Hole // of the page, relative to their event
	// fields counts the event's fields as jsonscan counts them.
	fields int
	own    time.Time
	top    bool // the top-level object was assembled into k.final
	// names remembers the member names read lately, validated: a name met
	// at its predicted place is recognised by comparing its bytes.
	names [256]fusedName
	first [fusedMaxDepth + 1]uint16 // per depth, the predicted first name (entry+1)
	spare uint16                    // the prediction after a name without an entry
}

// fusedName is a member name the fused walker read and found plain: no
// backslash, no control character, valid UTF-8.
type fusedName struct {
	words  [2]uint64
	masks  [2]uint64 // which bytes of words are raw's (when short)
	short  bool      // raw is up to 16 bytes
	listed bool      // in DropTopLevel
	time   bool      // messageTime or clickTime, in any case
	next   uint16
	prefix uint64
	canon  []byte
	raw    []byte // the token, quotes included
}

// fusedUsable reports whether the fused walker can classify events under
// opts: it knows no epoch conversions.
func fusedUsable(opts *jsonscan.Options) bool {
	return len(opts.EpochMillis) == 0 && !opts.UnsetEpochLists
}

// event reads the event at src[start], which is '{'. On success it
// returns the event's end, its class (holes appended to f.holes), and
// has put into f.k.final what appendKey hashes for it; its own time is
// in f.own.
func (f *fused) event(src []byte, start int, typ string, opts *jsonscan.Options) (int, jsonscan.Class, bool) {
	k := f.k
	f.src, f.base, f.pos, f.fields, f.own, f.top = src, start, start, 0, time.Time{}, false
	mark := len(f.holes)
	k.scratch = k.scratch[:0]
	k.final = append(k.final[:0], typ...)
	k.final = append(k.final, 0)
	_, drop, ok := f.object(0)
	if !ok {
		f.holes = f.holes[:mark]
		return 0, jsonscan.Class{}, false
	}
	if drop {
		k.final = k.final[:len(typ)+1]
	}
	c := jsonscan.Class{Opts: opts, Clean: len(f.holes) == mark, Fields: f.fields}
	if !c.Clean {
		c.Holes = f.holes[mark:len(f.holes):len(f.holes)]
	}
	return f.pos, c, true
}

// value reads the value at f.pos and returns its canonical form (as
// tokenWalker.value) and whether it is dropped.
func (f *fused) value(depth int) (canon []byte, drop, ok bool) {
	src, i := f.src, f.pos
	if i >= len(src) {
		return nil, false, false
	}
	switch c := src[i]; {
	case c == '"':
		f.fields++
		escaped, ok := f.str()
		if !ok {
			return nil, false, false
		}
		return f.k.canonString(src[i:f.pos], escaped)
	case c == '{':
		return f.object(depth)
	case c == '[':
		return f.array(depth)
	case c == 't':
		f.fields++
		f.pos += 4
		return litTrue, false, len(src)-i >= 4 && string(src[i:i+4]) == "true"
	case c == 'f':
		f.fields++
		f.pos += 5
		return litFalse, false, len(src)-i >= 5 && string(src[i:i+5]) == "false"
	case c == 'n':
		f.fields++
		f.pos += 4
		return nil, true, len(src)-i >= 4 && string(src[i:i+4]) == "null"
	case c == '-' || c >= '0' && c <= '9':
		f.fields++
		end, ok := f.number()
		if !ok {
			return nil, false, false
		}
		f.pos = end
		return src[i:end], false, true
	}
	return nil, false, false
}

// number reads the number at f.pos as jsonscan does and returns its end;
// false also for an integer of ten digits or more, which jsonscan may
// find too large to copy (the reference way decides).
func (f *fused) number() (int, bool) {
	src, i := f.src, f.pos
	if src[i] == '-' {
		i++
	}
	d := i
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && src[i] >= '1' && src[i] <= '9':
		i = digitsEnd(src, i)
	default:
		return 0, false
	}
	integer := true
	if i < len(src) && src[i] == '.' {
		integer = false
		i++
		from := i
		if i = digitsEnd(src, i); i == from {
			return 0, false
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		integer = false
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		from := i
		if i = digitsEnd(src, i); i == from {
			return 0, false
		}
	}
	if integer && i-d >= 10 {
		return 0, false
	}
	return i, true
}

// digitsEnd returns the end of the run of ASCII digits at src[i:].
func digitsEnd(src []byte, i int) int {
	for i < len(src) && src[i] >= '0' && src[i] <= '9' {
		i++
	}
	return i
}

// str reads the string at f.pos (its opening quote) and reports whether
// it holds escapes; false for what jsonscan would find dirty or invalid
// (a control character, invalid UTF-8, an escape of NUL or of a
// surrogate, which it may repair) and for an unterminated string.
func (f *fused) str() (escaped, ok bool) {
	src, i := f.src, f.pos+1
	for {
		for i+16 <= len(src) {
			m0 := jsonscan.StringStops(binary.LittleEndian.Uint64(src[i:]))
			m1 := jsonscan.StringStops(binary.LittleEndian.Uint64(src[i+8:]))
			if m0|m1 != 0 {
				if m0 != 0 {
					i += bits.TrailingZeros64(m0) / 8
				} else {
					i += 8 + bits.TrailingZeros64(m1)/8
				}
				goto stop
			}
			i += 16
		}
		for i < len(src) {
			if c := src[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				goto stop
			}
			i++
		}
		return false, false
	stop:
		switch c := src[i]; {
		case c == '"':
			f.pos = i + 1
			return escaped, true
		case c == '\\':
			n, ok := plainEscape(src[i:])
			if !ok {
				return false, false
			}
			escaped = true
			i += n
		case c < 0x20:
			return false, false
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				return false, false
			}
			i += size
		}
	}
}

// plainEscape returns the length of the escape at the start of b (a
// backslash), false if it is invalid or one jsonscan repairs or may
// repair (\u0000 and surrogates).
func plainEscape(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		r, _, ok := hexRune(b[1:])
		if !ok || r == 0 || r >= 0xD800 && r < 0xE000 {
			return 0, false
		}
		return 6, true
	}
	return 0, false
}

func (f *fused) object(depth int) ([]byte, bool, bool) {
	if depth > fusedMaxDepth {
		return nil, false, false
	}
	k, src := f.k, f.src
	f.pos++ // '{'
	if f.pos >= len(src) {
		return nil, false, false
	}
	if src[f.pos] == '}' {
		f.pos++
		return nil, true, true
	}
	for len(k.stack) <= depth {
		k.stack = append(k.stack, nil)
	}
	members := k.stack[depth][:0]
	pred := &f.first[depth]
	kept := false // a member before this one stays in the copy
	for {
		ns := f.pos
		// Most names are the one predicted, and short: recognised by two
		// masked comparisons, here rather than in a call.
		var e *fusedName
		ok := false
		if p := *pred; p != 0 && len(src)-ns >= 16 {
			c := &f.names[p-1]
			if c.short && (binary.LittleEndian.Uint64(src[ns:])^c.words[0])&c.masks[0]|(binary.LittleEndian.Uint64(src[ns+8:])^c.words[1])&c.masks[1] == 0 {
				e, ok = c, true
				f.pos += len(c.raw)
				pred = &c.next
			}
		}
		if !ok {
			e, ok = f.name(&pred)
		}
		if !ok || depth == 0 && e.listed || f.pos >= len(src) || src[f.pos] != ':' {
			k.stack[depth] = members[:0]
			return nil, false, false
		}
		f.pos++
		vs := f.pos
		var v []byte
		var drop bool
		if vs < len(src) && src[vs] == '"' {
			// Most values are strings: read here rather than through value.
			f.fields++
			var escaped bool
			if escaped, ok = f.str(); ok {
				tok := src[vs:f.pos]
				if n := len(tok); escaped || n == 2 || n == 6 || n == 7 {
					v, drop, ok = k.canonString(tok, escaped)
				} else {
					v = tok // its own canonical form, without a call
				}
				if depth == 0 && e.time && len(tok) > 2 {
					if t, ok := ownTime(tok); ok {
						f.own = t
					}
				}
			}
		} else {
			v, drop, ok = f.value(depth + 1)
		}
		end := f.pos
		if !ok || end >= len(src) {
			k.stack[depth] = members[:0]
			return nil, false, false
		}
		if c := src[vs]; c == 'n' || c == '"' && end-vs == 2 {
			// A null or empty member: the copy leaves it out, with the
			// comma before it, else the one after it.
			f.fields--
			h := jsonscan.Hole{Start: ns - f.base, End: end - f.base}
			if kept {
				h.Start--
			} else if src[end] == ',' {
				h.End++
			}
			f.holes = append(f.holes, h)
		} else {
			kept = true
		}
		if !drop {
			members = append(members, member{})
			m := &members[len(members)-1]
			m.prefix, m.name, m.value = e.prefix, e.canon, v
		}
		switch src[end] {
		case ',':
			f.pos++
		case '}':
			f.pos++
			k.stack[depth] = members[:0]
			if len(members) == 0 {
				return nil, true, true
			}
			return k.assemble(depth, members, &f.top), false, true
		default:
			k.stack[depth] = members[:0]
			return nil, false, false
		}
	}
}

// ownTime is the time in an event's messageTime or clickTime token, as
// tokenWalker reads it: zero if the token is not a time, and false if it
// is not a string.
func ownTime(tok []byte) (time.Time, bool) {
	if t, ok := utctime.Parse(tok[1 : len(tok)-1]); ok {
		return t, true
	}
	if s, ok := rawString(tok); ok {
		t, _ := parseTime(s)
		return t, true
	}
	return time.Time{}, false
}

// name reads the member name at f.pos when it is not the short name
// predicted by *pred (object checks that one itself): a long predicted
// name is compared whole, any other read and looked up. It points *pred
// at the prediction for the next name.
func (f *fused) name(pred **uint16) (*fusedName, bool) {
	src, i := f.src, f.pos
	if p := **pred; p != 0 {
		e := &f.names[p-1]
		if n := len(e.raw); !e.short && len(src)-i >= n && string(src[i:i+n]) == string(e.raw) {
			f.pos += n
			*pred = &e.next
			return e, true
		}
	}
	if i >= len(src) || src[i] != '"' {
		return nil, false
	}
	escaped, ok := f.str()
	if !ok || escaped {
		return nil, false // escaped names go the reference way
	}
	tok := src[i:f.pos]
	slot := nameSlot(tok[1:len(tok)-1]) >> 1 // 0 to 255
	for _, s := range [2]uint16{slot, slot ^ 1} {
		e := &f.names[s]
		if e.raw == nil {
			f.remember(e, tok)
		}
		if string(e.raw) == string(tok) {
			**pred = s + 1
			*pred = &e.next
			return e, true
		}
	}
	// Both entries taken: a name of its own, not remembered.
	e := &fusedName{}
	f.remember(e, tok)
	*pred = &f.spare
	return e, true
}

// remember fills e for the plain name token tok.
func (f *fused) remember(e *fusedName, tok []byte) {
	*e = fusedName{raw: append([]byte(nil), tok...)}
	e.canon, e.prefix = canonName(e.raw)
	inner := string(tok[1 : len(tok)-1])
	for _, d := range f.drop {
		e.listed = e.listed || inner == d
	}
	e.time = string(e.canon) == `"messagetime"` || string(e.canon) == `"clicktime"`
	e.short = len(tok) <= 16
	var buf [16]byte
	copy(buf[:], tok)
	for j := range e.words {
		e.words[j] = binary.LittleEndian.Uint64(buf[8*j:])
		if n := len(tok) - 8*j; n >= 8 {
			e.masks[j] = ^uint64(0)
		} else if n > 0 {
			e.masks[j] = 1<<(8*n) - 1
		}
	}
}

func (f *fused) array(depth int) ([]byte, bool, bool) {
	if depth > fusedMaxDepth {
		return nil, false, false
	}
	k, src := f.k, f.src
	fields := f.fields + 1 // an array is one field, whatever it holds
	f.pos++                // '['
	if f.pos >= len(src) {
		return nil, false, false
	}
	if src[f.pos] == ']' {
		f.pos++
		f.fields = fields
		return nil, true, true
	}
	for len(k.elems) <= depth {
		k.elems = append(k.elems, nil)
	}
	elems := k.elems[depth][:0]
	// verbatim: every element so far is its own canonical form, in
	// place; then so is the whole array (the event is compact).
	start, verbatim := f.pos-1, true
	for {
		if src[f.pos] == 'n' {
			break // a null element makes the event dirty
		}
		es := f.pos
		var v []byte
		var drop, ok bool
		if src[es] == '"' {
			// As in object: most elements are plain strings.
			var escaped bool
			if escaped, ok = f.str(); ok {
				if n := f.pos - es; escaped || n == 2 || n == 6 || n == 7 {
					v, drop, ok = k.canonString(src[es:f.pos], escaped)
				} else {
					v = src[es:f.pos]
				}
			}
		} else {
			v, drop, ok = f.value(depth + 1)
		}
		if !ok || f.pos >= len(src) {
			break
		}
		if !drop {
			elems = append(elems, v)
		}
		verbatim = verbatim && !drop && len(v) == f.pos-es && &v[0] == &src[es]
		switch src[f.pos] {
		case ',':
			f.pos++
			if f.pos < len(src) {
				continue
			}
		case ']':
			f.pos++
			k.elems[depth] = elems[:0]
			f.fields = fields
			if verbatim && len(elems) > 1 {
				return src[start:f.pos], false, true
			}
			v, drop := k.joinElems(elems)
			return v, drop, true
		}
		break
	}
	k.elems[depth] = elems[:0]
	return nil, false, false
}
