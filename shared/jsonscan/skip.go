package jsonscan

import (
	"encoding/json"
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
	s.pos++
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			if s.pos+1 >= len(s.src) {
				return s.fail("unterminated escape")
			}
			switch s.src[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.src) || !isHex4(s.src[s.pos+2:s.pos+6]) {
					return s.fail("invalid \\u escape")
				}
				s.pos += 6
			default:
				return s.fail("invalid escape")
			}
		default:
			s.pos++
		}
	}
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
