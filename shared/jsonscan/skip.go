package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"unicode/utf8"
)

// Skip validates the JSON value at the start of src (after optional
// whitespace) and returns the offset just past it. It accepts exactly what
// Strip accepts, so a value that Skip passes can always be stripped.
func Skip(src []byte) (int, error) {
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

func (s *scanner) skip(depth int) error {
	if depth > MaxDepth {
		return s.fail("nesting too deep")
	}
	switch c := s.src[s.pos]; {
	case c == '{':
		return s.skipComposite(depth, '}', true)
	case c == '[':
		return s.skipComposite(depth, ']', false)
	case c == '"':
		return s.skipString()
	case c == 't':
		return s.skipLiteral("true")
	case c == 'f':
		return s.skipLiteral("false")
	case c == 'n':
		return s.skipLiteral("null")
	case c == '-' || c >= '0' && c <= '9':
		end, _, err := s.scanNumber()
		if err != nil {
			return err
		}
		s.pos = end
		return nil
	}
	return s.fail("unexpected character")
}

func (s *scanner) skipLiteral(lit string) error {
	if len(s.src)-s.pos < len(lit) || string(s.src[s.pos:s.pos+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

func (s *scanner) skipComposite(depth int, closer byte, object bool) error {
	s.pos++
	s.skipSpace()
	if s.pos < len(s.src) && s.src[s.pos] == closer {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		if object {
			if s.src[s.pos] != '"' {
				return s.fail("expected a member name")
			}
			if err := s.skipString(); err != nil {
				return err
			}
			s.skipSpace()
			if s.pos >= len(s.src) || s.src[s.pos] != ':' {
				return s.fail("expected ':'")
			}
			s.pos++
			s.skipSpace()
			if s.pos >= len(s.src) {
				return s.fail("unexpected end of input")
			}
		}
		if err := s.skip(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case closer:
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or closing bracket")
		}
	}
}

func (s *scanner) skipString() error {
	src, i := s.src, s.pos+1
	for {
		i = quoteOrBackslash(src, i)
		if i >= len(src) {
			break
		}
		switch src[i] {
		case '"':
			s.pos = i + 1
			return nil
		case '\\':
			if i+1 >= len(src) {
				s.pos = i
				return s.fail("unterminated escape")
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(src) || !isHex4(src[i+2:i+6]) {
					s.pos = i
					return s.fail("invalid \\u escape")
				}
				i += 6
			default:
				s.pos = i
				return s.fail("invalid escape")
			}
		}
	}
	s.pos = i
	return s.fail("unterminated string")
}

// Members calls fn for each member of the object at the start of src, with
// the member name still quoted and escaped and the raw value. Values are
// validated. It returns the offset just past the object.
func Members(src []byte, fn func(name, value []byte) error) (int, error) {
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
		vs := s.pos
		if err := s.skip(1); err != nil {
			return s.pos, err
		}
		if err := fn(name, src[vs:s.pos]); err != nil {
			return s.pos, err
		}
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
			return s.pos, err
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
func Elements(src []byte, fn func(value []byte) error) (int, error) {
	s := scanner{src: src}
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
		vs := s.pos
		if err := s.skip(1); err != nil {
			return s.pos, err
		}
		if err := fn(src[vs:s.pos]); err != nil {
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

// String decodes a raw JSON string token. Tokens without escapes (the
// common case for ids and timestamps) are converted directly.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), true
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return v, true
}

// Name reports whether a quoted member name from Members equals name.
func Name(quoted []byte, name string) bool {
	return len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name
}

// SplitArray calls fn for each element of the array at the start of src,
// finding where elements end by structure alone: brackets and commas
// outside strings. Unlike Elements it does not validate the elements, so it
// costs a fraction of a parse; the caller must validate each element (Strip
// does, and reports an element that is not valid JSON). An unterminated
// string, unbalanced brackets or a missing ']' is an error.
func SplitArray(src []byte, fn func(elem []byte) error) (int, error) {
	s := scanner{src: src}
	s.skipSpace()
	if s.pos >= len(src) || src[s.pos] != '[' {
		return s.pos, s.fail("expected an array")
	}
	i := s.pos + 1
	depth := 0
	start := -1
	for i < len(src) {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		case '"':
			j, ok := stringEnd(src, i+1)
			if !ok {
				s.pos = i
				return i, s.fail("unterminated string")
			}
			if start < 0 {
				start = i
			}
			i = j + 1
			continue
		case '{', '[':
			if start < 0 {
				start = i
			}
			depth++
		case '}', ']':
			if depth == 0 {
				if c != ']' {
					s.pos = i
					return i, s.fail("unbalanced '}'")
				}
				if start >= 0 {
					if err := fn(trimRight(src[start:i])); err != nil {
						return i, err
					}
				}
				return i + 1, nil
			}
			depth--
		case ',':
			if depth == 0 {
				if start < 0 {
					s.pos = i
					return i, s.fail("empty array element")
				}
				if err := fn(trimRight(src[start:i])); err != nil {
					return i, err
				}
				start = -1
				i++
				continue
			}
		default:
			if start < 0 {
				start = i
			}
		}
		i++
	}
	s.pos = i
	return i, s.fail("unexpected end of input in array")
}

// stringEnd returns the index of the quote closing the string whose content
// starts at i. It looks for quotes eight bytes at a time and treats a quote
// as escaped when an odd number of backslashes precede it.
func stringEnd(src []byte, i int) (int, bool) {
	start := i
	for {
		for i+8 <= len(src) {
			w := binary.LittleEndian.Uint64(src[i:])
			if m := equal(w, '"'); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				goto found
			}
			i += 8
		}
		for i < len(src) && src[i] != '"' {
			i++
		}
		if i >= len(src) {
			return len(src), false
		}
	found:
		n := 0
		for k := i - 1; k >= start && src[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i, true
		}
		i++
	}
}

func trimRight(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case ' ', '\t', '\n', '\r':
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}
