package jsonscan

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unicode/utf8"
)

// A caller that reads every value of each element (a content hash, say)
// would otherwise walk the element a second time after ScanArray
// validated it, finding every string's end again. TokenScanner does
// ScanArray's one pass and also records where each token is, so that
// such a caller reads the element's structure without scanning its
// bytes.

// Kind is what a Token is.
type Kind uint8

// The kinds of tokens. An object is KindObject, then a KindName and a
// value for each member, then KindObjectEnd; an array is KindArray, its
// elements, then KindArrayEnd.
const (
	KindObject Kind = iota + 1
	KindObjectEnd
	KindArray
	KindArrayEnd
	KindName
	KindString
	KindNumber
	KindTrue
	KindFalse
	KindNull
)

// Token locates one token of an element: elem[Start:End] (for a name or
// a string, quotes included).
type Token struct {
	Start, End int32
	Kind       Kind
	// Escaped says that a name or string holds a backslash, so that it
	// may not decode to its bytes between the quotes.
	Escaped bool
	// Name numbers a name token (0: no number): two names with the same
	// number from one TokenScanner are the same bytes. Member names repeat
	// from element to element; a caller that works on them (lower-cases
	// them, say) need do it once a number.
	Name uint16
}

// TokenScanner is an ArrayScanner that also hands its callback the
// tokens of each element.
type TokenScanner struct {
	ArrayScanner
	toks  []Token
	names nameTable
}

// nameTable numbers the member names a TokenScanner has seen, so that a
// name met again is recognised by comparing its bytes with the one that
// came after the previous name the last time (elements of a page repeat
// their member order) instead of scanning them. Only names that need no
// more than that are numbered: no backslash, nothing Strip would change,
// at most maxKnownLen bytes; at most maxKnown of them.
type nameTable struct {
	known []knownName // by number - 1
	index map[string]uint16
	// first predicts, per depth, the first name of an object.
	first [MaxDepth + 2][2]uint16
}

const (
	maxKnown    = 4096
	maxKnownLen = 64
)

type knownName struct {
	raw []byte // the token, quotes included
	// words and masks hold raw's first 24 bytes as words, and which of
	// their bytes are raw's (long names are compared by bytes.Equal).
	words, masks [3]uint64
	next         [2]uint16 // the names that came after it lately
}

// at reports whether src holds, at pos, the name numbered id. Names are
// of all lengths, so it compares masked words rather than branching on
// the length.
func (nt *nameTable) at(src []byte, pos int, id uint16) bool {
	e := &nt.known[id-1]
	if len(src)-pos >= 24 && len(e.raw) <= 24 {
		w := src[pos : pos+24]
		return (binary.LittleEndian.Uint64(w)^e.words[0])&e.masks[0]|
			(binary.LittleEndian.Uint64(w[8:])^e.words[1])&e.masks[1]|
			(binary.LittleEndian.Uint64(w[16:])^e.words[2])&e.masks[2] == 0
	}
	n := len(e.raw)
	return len(src)-pos >= n && string(src[pos:pos+n]) == string(e.raw)
}

// number returns the number of name token tok (which qualifies), giving
// it one if it has none yet and the table has room (else 0).
func (nt *nameTable) number(tok []byte) uint16 {
	if id, ok := nt.index[string(tok)]; ok {
		return id
	}
	if len(nt.known) >= maxKnown || len(tok) > maxKnownLen {
		return 0
	}
	if nt.index == nil {
		nt.index = make(map[string]uint16)
	}
	e := knownName{raw: append([]byte(nil), tok...)}
	var buf [24]byte
	copy(buf[:], tok)
	for i := range e.words {
		e.words[i] = binary.LittleEndian.Uint64(buf[8*i:])
		if n := len(tok) - 8*i; n >= 8 {
			e.masks[i] = math.MaxUint64
		} else if n > 0 {
			e.masks[i] = 1<<(8*n) - 1
		}
	}
	nt.known = append(nt.known, e)
	id := uint16(len(nt.known))
	nt.index[string(e.raw)] = id
	return id
}

// ScanTokens is ArrayScanner.Scan (same validation, errors, classes and
// holes) that also passes fn the element's tokens in order. The tokens
// are valid only during the call of fn. An element of 2 GiB or more gets
// nil tokens (their offsets would not fit).
func (a *TokenScanner) ScanTokens(src []byte, opts *Options, fn func(elem []byte, c Class, toks []Token) error) (int, error) {
	t := tokenWalk{scanner: scanner{src: src, opts: opts, collecting: true, holes: a.holes}, toks: a.toks[:0], names: &a.names}
	if opts != nil {
		t.drop, t.epoch = opts.DropTopLevel, opts.EpochMillis
	}
	defer func() { a.holes, a.toks = t.holes, t.toks[:0] }()
	s := &t.scanner
	s.skipSpace()
	if s.pos >= len(src) || src[s.pos] != '[' {
		return s.pos, s.fail("expected an array")
	}
	s.pos++
	s.skipSpace()
	if s.pos < len(src) && src[s.pos] == ']' {
		return s.pos + 1, nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(src) {
			return s.pos, s.fail("unexpected end of input in array")
		}
		start := s.pos
		s.dirty, s.fields = false, 0
		t.base, t.toks = start, t.toks[:0]
		mark := len(s.holes)
		if err := t.value(0); err != nil {
			return s.pos, err
		}
		c := Class{Opts: opts, Clean: !s.dirty && len(s.holes) == mark, Fields: s.fields}
		if !s.dirty && len(s.holes) > mark {
			c.Holes = s.holes[mark:len(s.holes):len(s.holes)]
			for i := range c.Holes {
				c.Holes[i].Start -= start
				c.Holes[i].End -= start
			}
		} else {
			s.holes = s.holes[:mark]
		}
		toks := t.toks
		if s.pos-start > math.MaxInt32 {
			toks = nil
		}
		if err := fn(src[start:s.pos], c, toks); err != nil {
			return s.pos, err
		}
		s.skipSpace()
		if s.pos >= len(src) {
			return s.pos, s.fail("unexpected end of input in array")
		}
		switch src[s.pos] {
		case ',':
			s.pos++
		case ']':
			return s.pos + 1, nil
		default:
			return s.pos, s.fail("expected ',' or ']'")
		}
	}
}

// tokenWalk is the validating walker of skip.go (skip, skipObject,
// skipArray, skipString), step for step, recording tokens as it goes.
type tokenWalk struct {
	scanner
	toks        []Token
	base        int
	drop, epoch []string
	names       *nameTable
}

func (t *tokenWalk) add(kind Kind, start int, escaped bool) {
	t.addName(kind, start, escaped, 0)
}

// addName is add with a name's number. The token is written field by
// field: one built whole on the stack and copied stalls on store
// forwarding.
func (t *tokenWalk) addName(kind Kind, start int, escaped bool, id uint16) {
	t.toks = append(t.toks, Token{})
	tk := &t.toks[len(t.toks)-1]
	tk.Start, tk.End, tk.Kind, tk.Escaped, tk.Name = int32(start-t.base), int32(t.pos-t.base), kind, escaped, id
}

// gap skips whitespace between tokens (dirt: Strip removes it).
func (t *tokenWalk) gap() {
	if t.pos < len(t.src) && t.src[t.pos] <= ' ' {
		t.space()
	}
}

func (t *tokenWalk) value(depth int) error {
	s := &t.scanner
	if depth > MaxDepth {
		return s.fail("nesting too deep")
	}
	start := s.pos
	switch c := s.src[s.pos]; {
	case c == '{':
		return t.object(depth)
	case c == '[':
		return t.array(depth)
	case c == '"':
		s.fields++
		escaped, err := t.str()
		if err != nil {
			return err
		}
		t.add(KindString, start, escaped)
		return nil
	case c == 't':
		s.fields++
		if err := s.skipLiteral("true"); err != nil {
			return err
		}
		t.add(KindTrue, start, false)
		return nil
	case c == 'f':
		s.fields++
		if err := s.skipLiteral("false"); err != nil {
			return err
		}
		t.add(KindFalse, start, false)
		return nil
	case c == 'n':
		s.fields++
		if err := s.skipLiteral("null"); err != nil {
			return err
		}
		t.add(KindNull, start, false)
		return nil
	case c == '-' || c >= '0' && c <= '9':
		s.fields++
		end, integer, err := s.scanNumber()
		if err != nil {
			return err
		}
		if integer && !s.keepBigInts() && !fitsInt32(s.src[s.pos:end]) {
			s.dirty = true
		}
		s.pos = end
		t.add(KindNumber, start, false)
		return nil
	}
	return s.fail("unexpected character")
}

func (t *tokenWalk) object(depth int) error {
	s := &t.scanner
	t.add(KindObject, s.pos, false) // End is fixed below
	s.pos++
	t.toks[len(t.toks)-1].End++
	t.gap()
	if s.pos < len(s.src) && s.src[s.pos] == '}' {
		s.pos++
		t.add(KindObjectEnd, s.pos-1, false)
		return nil
	}
	kept := false // a member before this one stays in Strip's output
	var prev uint16
	for {
		t.gap()
		if s.pos >= len(s.src) || s.src[s.pos] != '"' {
			return s.fail("expected a member name")
		}
		ns := s.pos
		// The names predicted here, after the previous one (prev) or
		// first at this depth: the two last seen there, as an optional
		// member comes and goes.
		pred := &t.names.first[depth]
		if prev != 0 {
			pred = &t.names.known[prev-1].next
		}
		id, escaped := pred[0], false
		switch {
		case id != 0 && t.names.at(s.src, s.pos, id):
			// The bytes of a numbered name: scanning them would find its
			// end and nothing else.
			s.pos += len(t.names.known[id-1].raw)
		case pred[1] != 0 && t.names.at(s.src, s.pos, pred[1]):
			id = pred[1]
			s.pos += len(t.names.known[id-1].raw)
			pred[0], pred[1] = id, pred[0]
		default:
			dirty := s.dirty
			s.dirty = false
			var err error
			if escaped, err = t.str(); err != nil {
				return err
			}
			id = 0
			if !escaped && !s.dirty {
				id = t.names.number(s.src[ns:s.pos])
			}
			s.dirty = s.dirty || dirty
			// (number may have moved known.)
			if pred = &t.names.first[depth]; prev != 0 {
				pred = &t.names.known[prev-1].next
			}
			pred[0], pred[1] = id, pred[0]
		}
		prev = id
		t.addName(KindName, ns, escaped, id)
		name := s.src[ns+1 : s.pos-1]
		t.gap()
		if s.pos >= len(s.src) || s.src[s.pos] != ':' {
			return s.fail("expected ':'")
		}
		s.pos++
		t.gap()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		dropped := false
		switch c := s.src[s.pos]; {
		case c == 'n':
			dropped = true // Strip drops null members
		case c == '"' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '"':
			dropped = true // and empty strings
		case c == '-' || c >= '0' && c <= '9':
			if len(t.epoch) > 0 && listed(name, escaped, allLengths, t.epoch) {
				s.dirty = true
			}
		case c == '[':
			if s.opts != nil && s.opts.UnsetEpochLists && len(t.epoch) > 0 && listed(name, escaped, allLengths, t.epoch) {
				s.dirty = true
			}
		}
		if depth == 0 && len(t.drop) > 0 && listed(name, escaped, allLengths, t.drop) {
			s.dirty = true
		}
		if err := t.value(depth + 1); err != nil {
			return err
		}
		end := s.pos
		t.gap()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		if dropped {
			s.dropMember(ns, end, kept)
		} else {
			kept = true
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			t.add(KindObjectEnd, s.pos-1, false)
			return nil
		default:
			return s.fail("expected ',' or closing bracket")
		}
	}
}

func (t *tokenWalk) array(depth int) error {
	s := &t.scanner
	t.add(KindArray, s.pos, false)
	s.pos++
	t.toks[len(t.toks)-1].End++
	fields := s.fields + 1 // Wazuh keeps an array as one field
	defer func() { s.fields = fields }()
	t.gap()
	if s.pos < len(s.src) && s.src[s.pos] == ']' {
		s.pos++
		t.add(KindArrayEnd, s.pos-1, false)
		return nil
	}
	for {
		t.gap()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		if s.src[s.pos] == 'n' {
			s.dirty = true // Strip drops null elements
		}
		if err := t.value(depth + 1); err != nil {
			return err
		}
		t.gap()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			t.add(KindArrayEnd, s.pos-1, false)
			return nil
		default:
			return s.fail("expected ',' or closing bracket")
		}
	}
}

// str is skipString, reporting whether the string holds a backslash. Its
// plain runs are found eight bytes at a time, inline: a string of an
// event is a few dozen bytes, where a call per run shows.
func (t *tokenWalk) str() (escaped bool, err error) {
	s := &t.scanner
	src, i := s.src, s.pos+1
	for {
		// Sixteen bytes a step while they last: hashes and URLs are long.
		for i+16 <= len(src) {
			w := src[i : i+16]
			w0, w1 := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
			m0 := equal(w0, '"') | equal(w0, '\\') | (w0-lsb*0x20|w0)&msb
			m1 := equal(w1, '"') | equal(w1, '\\') | (w1-lsb*0x20|w1)&msb
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
		for i+8 <= len(src) {
			w := binary.LittleEndian.Uint64(src[i:])
			// Quote, backslash, or a byte below 0x20 or from 0x80 (the
			// lowest flagged byte is exact, as in plainRun).
			if m := equal(w, '"') | equal(w, '\\') | (w-lsb*0x20|w)&msb; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				goto stop
			}
			i += 8
		}
		for i < len(src) {
			if c := src[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				goto stop
			}
			i++
		}
		break
	stop:
		switch c := src[i]; {
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			n, err := s.escape(i)
			if err != nil {
				return escaped, err
			}
			if src[i+1] == 'u' {
				m, repl := uRepair(src[i:])
				s.dirty = s.dirty || repl
				n = m
			}
			i += n
		case c < 0x20:
			s.dirty = true
			i++
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				s.dirty = true
			}
			i += size
		}
	}
	s.pos = i
	return escaped, s.fail("unterminated string")
}
