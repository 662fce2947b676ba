package jsonscan

import "unicode/utf8"

// Member names are matched by what they decode to, never by their escaped
// form: a vendor may send "event_\u0074ype", which is "event_type" to every
// JSON parser downstream (Wazuh's included), and must not survive next to
// the envelope's own member.

// nameIs reports whether the string token contents raw (without quotes,
// escapes as on the wire) decode to want. It does not allocate. It runs
// for members of every event, so it first settles what length alone
// settles: every escape decodes to fewer bytes than it is written with, so
// a raw name shorter than want never matches, one of the same length only
// if it has no escape and is want, and one without escapes only if it is
// want.
func nameIs(raw []byte, want string) bool {
	switch {
	case len(want) > len(raw):
		return false
	case len(want) == len(raw) && string(raw) != want:
		return false
	case !hasBackslash(raw):
		return len(want) == len(raw)
	}
	return nameIsDecoded(raw, want)
}

// nameIsDecoded is nameIs by decoding raw as it goes.
func nameIsDecoded(raw []byte, want string) bool {
	j := 0
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if j >= len(want) || want[j] != c {
				return false
			}
			i++
			j++
			continue
		}
		r, n := unescape(raw[i:])
		if n == 0 {
			return false
		}
		i += n
		var tmp [utf8.UTFMax]byte
		w := utf8.EncodeRune(tmp[:], r)
		if len(want)-j < w || want[j:j+w] != string(tmp[:w]) {
			return false
		}
		j += w
	}
	return j == len(want)
}

// unescape decodes the escape sequence at the start of b (a backslash) and
// returns the character and the sequence's length, 0 if it is invalid. A
// surrogate pair written as two \u escapes is one character; a lone
// surrogate decodes to U+FFFD, as encoding/json does.
func unescape(b []byte) (rune, int) {
	if len(b) < 2 {
		return 0, 0
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			return 0, 0
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
				if lo, ok := hex4(b[8:]); ok && lo >= 0xDC00 && lo < 0xE000 {
					return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12
				}
			}
			return utf8.RuneError, 6
		case r >= 0xDC00 && r < 0xE000:
			return utf8.RuneError, 6
		}
		return r, 6
	}
	return 0, 0
}

// hex4 parses four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// uRepair says how Strip must copy the \u escape at the start of b (already
// validated): n bytes as they are (a surrogate pair is copied whole), or,
// when repl is true, n bytes replaced by \ufffd. \u0000 is replaced because
// Wazuh's JSON parser ends a string at NUL (a member name "a\u0000b" would
// become "a"); a lone surrogate because it makes the parser refuse the whole
// line.
func uRepair(b []byte) (n int, repl bool) {
	r, n := unescape(b)
	switch {
	case r == 0:
		return 6, true
	case r == utf8.RuneError && n == 6:
		// A literal \ufffd is copied as is; a lone surrogate is replaced.
		v, _ := hex4(b[2:])
		return 6, v != 0xFFFD
	}
	return n, false
}
