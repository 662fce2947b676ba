package jsonscan

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Skip validates the JSON value at the start of src (after optional
// whitespace) and returns the offset just past it. It accepts exactly what
// Strip accepts, so a value that Skip passes can always be stripped.
func Skip(src []byte) (int, error) {
	if n, ok := skipFast(src); ok {
		return n, nil
	}
	return skipSlow(src)
}

// skipSlow is Skip's general path, which also locates what is wrong.
func skipSlow(src []byte) (int, error) {
	s := scanner{src: src}
	s.skipSpace()
	if s.pos >= len(src) {
		return s.pos, s.fail("unexpected end of input")
	}
	if err := s.skip(0); err != nil {
		return s.pos, err
	}
	return s.pos, nil
}

// The validating walker below also classifies what it walks, for
// ScanArray: a value is clean when Strip would copy it byte for byte (no
// whitespace between tokens, no null or "" member, no null array element,
// no integer to quote, no epoch field to convert, no top-level key to drop,
// no control character or invalid UTF-8 in a string). Clean events, the
// usual case, are then copied instead of rebuilt.

func (s *scanner) skip(depth int) error {
	if depth > MaxDepth {
		return s.fail("nesting too deep")
	}
	switch c := s.src[s.pos]; {
	case c == '{':
		return s.skipObject(depth)
	case c == '[':
		return s.skipArray(depth)
	case c == '"':
		s.fields++
		return s.skipString()
	case c == 't':
		s.fields++
		return s.skipLiteral("true")
	case c == 'f':
		s.fields++
		return s.skipLiteral("false")
	case c == 'n':
		s.fields++
		return s.skipLiteral("null")
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
		return nil
	}
	return s.fail("unexpected character")
}

func (s *scanner) keepBigInts() bool { return s.opts != nil && s.opts.KeepBigInts }

// space skips whitespace between tokens, which Strip would remove.
func (s *scanner) space() {
	if s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.dirty = true
			s.skipSpace()
		}
	}
}

func (s *scanner) skipLiteral(lit string) error {
	if len(s.src)-s.pos < len(lit) || string(s.src[s.pos:s.pos+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

func (s *scanner) skipObject(depth int) error {
	s.pos++
	s.space()
	if s.pos < len(s.src) && s.src[s.pos] == '}' {
		s.pos++
		return nil
	}
	kept := false // a member before this one stays in Strip's output
	for {
		s.space()
		if s.pos >= len(s.src) || s.src[s.pos] != '"' {
			return s.fail("expected a member name")
		}
		ns := s.pos
		if err := s.skipString(); err != nil {
			return err
		}
		name := s.src[ns+1 : s.pos-1]
		s.space()
		if s.pos >= len(s.src) || s.src[s.pos] != ':' {
			return s.fail("expected ':'")
		}
		s.pos++
		s.space()
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
			if s.opts != nil && s.isEpochMillis(name) {
				s.dirty = true
			}
		case c == '[':
			if s.opts != nil && s.opts.UnsetEpochLists && s.isEpochMillis(name) {
				s.dirty = true
			}
		}
		if depth == 0 && s.opts != nil && s.isDropped(name) {
			s.dirty = true
		}
		if err := s.skip(depth + 1); err != nil {
			return err
		}
		end := s.pos
		s.space()
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
			return nil
		default:
			return s.fail("expected ',' or closing bracket")
		}
	}
}

// dropMember records the member from start to end (a null or "" value,
// which Strip drops) as a hole when collecting, else as dirt. The hole
// takes the comma that Strip would not write: the one before the member
// when a member before it is kept, else the one after it, if any. Without
// whitespace between tokens (dirt otherwise), those commas are adjacent.
func (s *scanner) dropMember(start, end int, kept bool) {
	if !s.collecting {
		s.dirty = true
		return
	}
	s.fields-- // the dropped value was counted as a field
	switch {
	case kept:
		start--
	case end < len(s.src) && s.src[end] == ',':
		end++
	}
	s.holes = append(s.holes, Hole{Start: start, End: end})
}

func (s *scanner) skipArray(depth int) error {
	s.pos++
	fields := s.fields + 1 // Wazuh keeps an array as one field
	defer func() { s.fields = fields }()
	s.space()
	if s.pos < len(s.src) && s.src[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		s.space()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		if s.src[s.pos] == 'n' {
			s.dirty = true // Strip drops null elements
		}
		if err := s.skip(depth + 1); err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or closing bracket")
		}
	}
}

// skipString validates a string token. Control characters, invalid UTF-8,
// \u0000 and lone surrogates are accepted (Strip repairs them) but make the
// value unclean.
func (s *scanner) skipString() error {
	src, i := s.src, s.pos+1
	for {
		i = plainRun(src, i)
		if i >= len(src) {
			break
		}
		switch c := src[i]; {
		case c == '"':
			s.pos = i + 1
			return nil
		case c == '\\':
			n, err := s.escape(i)
			if err != nil {
				return err
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
	return s.fail("unterminated string")
}

// Members calls fn for each member of the object at the start of src, with
// the member name still quoted and escaped and the raw value. Values are
// validated. It returns the offset just past the object.
func Members(src []byte, fn func(name, value []byte) error) (int, error) {
	return MembersFunc(src, func(name, rest []byte) (int, error) {
		n, err := Skip(rest)
		if err != nil {
			return n, err
		}
		return n, fn(name, rest[:n])
	})
}

// MembersFunc walks the object at the start of src like Members, but
// hands fn the input from the start of each value and lets fn consume it:
// fn returns the value's length. This lets a caller validate a large
// member (a page's items) once, in its own pass. Use Skip for values fn is
// not interested in.
func MembersFunc(src []byte, fn func(name, rest []byte) (int, error)) (int, error) {
	s := scanner{src: src}
	s.skipSpace()
	if s.pos >= len(src) || src[s.pos] != '{' {
		return s.pos, s.fail("expected an object")
	}
	s.pos++
	s.skipSpace()
	if s.pos < len(src) && src[s.pos] == '}' {
		return s.pos + 1, nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(src) || src[s.pos] != '"' {
			return s.pos, s.fail("expected a member name")
		}
		ns := s.pos
		if err := s.skipString(); err != nil {
			return s.pos, err
		}
		name := src[ns:s.pos]
		s.skipSpace()
		if s.pos >= len(src) || src[s.pos] != ':' {
			return s.pos, s.fail("expected ':'")
		}
		s.pos++
		s.skipSpace()
		if s.pos >= len(src) {
			return s.pos, s.fail("unexpected end of input")
		}
		n, err := fn(name, src[s.pos:])
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				// fn scanned from here: report the offset in src.
				rebased := *se
				rebased.Offset += s.pos
				err = &rebased
			}
			return s.pos + max(n, 0), err
		}
		if n <= 0 || n > len(src)-s.pos {
			return s.pos, s.fail("member value not consumed")
		}
		s.pos += n
		s.skipSpace()
		if s.pos >= len(src) {
			return s.pos, s.fail("unexpected end of input in object")
		}
		switch src[s.pos] {
		case ',':
			s.pos++
		case '}':
			return s.pos + 1, nil
		default:
			return s.pos, s.fail("expected ',' or '}'")
		}
	}
}

// Elements calls fn for each element of the array at the start of src.
// Elements are validated. It returns the offset just past the array.
func Elements(src []byte, fn func(value []byte) error) (int, error) {
	return ScanArray(src, nil, func(elem []byte, _ Class) error { return fn(elem) })
}

// String decodes a raw JSON string token. Tokens without escapes (the
// common case for ids and timestamps) are converted directly.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if inner, ok := Plain(raw); ok {
		return string(inner), true
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return v, true
}

// Plain returns the bytes between the quotes of a raw JSON string token
// that decodes to exactly those bytes: ASCII without escapes or control
// characters. Any other token is not ok (String decodes it).
func Plain(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return inner, true
}

// Name reports whether a quoted member name from Members decodes to name
// ("\u0069tems" is "items").
func Name(quoted []byte, name string) bool {
	return len(quoted) >= 2 && nameIs(quoted[1:len(quoted)-1], name)
}

// Class is what ScanArray learned about one element.
type Class struct {
	// Opts are the options the element was classified against.
	Opts *Options
	// Clean means Strip with Opts would copy the element byte for byte.
	Clean bool
	// Holes, on an element that is not clean, means that Strip would copy
	// it byte for byte except for these ranges: null and empty-string
	// members, which Strip drops (sign-in attempts with "details":null,
	// say). Nil when the element needs Strip itself.
	Holes []Hole
	// Fields is the element's field count as Strip counts it (when Clean
	// or with Holes).
	Fields int
}

// Hole is a range of an element's bytes, from Start to End, that Strip
// leaves out.
type Hole struct{ Start, End int }

// Copyable reports whether AppendCopy makes of the element what Strip
// would.
func (c Class) Copyable() bool { return c.Clean || c.Holes != nil }

// AppendCopy appends elem to dst without its holes: for a Copyable
// element, what Strip would append, without parsing it again.
func (c Class) AppendCopy(dst, elem []byte) []byte {
	at := 0
	for _, h := range c.Holes {
		dst = append(dst, elem[at:h.Start]...)
		at = h.End
	}
	return append(dst, elem[at:]...)
}

// ScanArray validates the array at the start of src, element by element,
// and calls fn with each element (without surrounding whitespace) and its
// Class under opts. It is the one pass a page's events need before they
// are turned into lines: clean events are then copied, not rebuilt.
func ScanArray(src []byte, opts *Options, fn func(elem []byte, c Class) error) (int, error) {
	var a ArrayScanner
	return a.Scan(src, opts, fn)
}

// ArrayScanner is ScanArray with memory kept from one page to the next:
// the holes of the elements it scanned stay valid until Reset, which a
// source calls when it starts a page (whose items the pipeline is done
// with by then).
type ArrayScanner struct {
	holes []Hole
}

// Reset lets the next Scan reuse the memory of the holes found so far.
func (a *ArrayScanner) Reset() { a.holes = a.holes[:0] }

// Scan is ScanArray.
func (a *ArrayScanner) Scan(src []byte, opts *Options, fn func(elem []byte, c Class) error) (int, error) {
	s := scanner{src: src, opts: opts, collecting: true, holes: a.holes}
	defer func() { a.holes = s.holes }()
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
		mark := len(s.holes)
		if err := s.skip(0); err != nil {
			return s.pos, err
		}
		c := Class{Opts: opts, Clean: !s.dirty && len(s.holes) == mark, Fields: s.fields}
		if !s.dirty && len(s.holes) > mark {
			// The holes stay valid for the caller: later elements only
			// append past them, and a grown array leaves them in place.
			c.Holes = s.holes[mark:len(s.holes):len(s.holes)]
			for i := range c.Holes {
				c.Holes[i].Start -= start
				c.Holes[i].End -= start
			}
		} else {
			s.holes = s.holes[:mark]
		}
		if err := fn(src[start:s.pos], c); err != nil {
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
