package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

// skipFast is Skip's fast path: the same validation, with its position in
// a local variable and whitespace skipped in line. It reports false on
// invalid input, where Skip runs the general walker, which says what is
// wrong and where.
func skipFast(src []byte) (int, bool) {
	i := skipWS(src, 0)
	if i >= len(src) {
		return 0, false
	}
	return skipValue(src, i, 0)
}

func skipWS(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\r' || src[i] == '\t') {
		i++
	}
	return i
}

// skipValue validates the value at src[i] (not whitespace), nested depth
// deep as scanner.skip counts.
func skipValue(src []byte, i, depth int) (int, bool) {
	if depth > MaxDepth {
		return 0, false
	}
	switch c := src[i]; {
	case c == '"':
		return skipStr(src, i)
	case c == '{':
		return skipObj(src, i, depth)
	case c == '[':
		return skipArr(src, i, depth)
	case c == '-' || c >= '0' && c <= '9':
		end, _, ok := scanNum(src, i)
		return end, ok
	case c == 't':
		return i + 4, len(src)-i >= 4 && string(src[i:i+4]) == "true"
	case c == 'f':
		return i + 5, len(src)-i >= 5 && string(src[i:i+5]) == "false"
	case c == 'n':
		return i + 4, len(src)-i >= 4 && string(src[i:i+4]) == "null"
	}
	return 0, false
}

func skipObj(src []byte, i, depth int) (int, bool) {
	i = skipWS(src, i+1)
	if i < len(src) && src[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(src) || src[i] != '"' {
			return 0, false
		}
		var ok bool
		if i, ok = skipStr(src, i); !ok {
			return 0, false
		}
		if i < len(src) && src[i] != ':' {
			i = skipWS(src, i)
		}
		if i >= len(src) || src[i] != ':' {
			return 0, false
		}
		i++
		if i < len(src) && src[i] <= ' ' {
			i = skipWS(src, i)
		}
		if i >= len(src) {
			return 0, false
		}
		if i, ok = skipValue(src, i, depth+1); !ok {
			return 0, false
		}
		if i < len(src) && src[i] <= ' ' {
			i = skipWS(src, i)
		}
		if i >= len(src) {
			return 0, false
		}
		switch src[i] {
		case ',':
			i++
			if i < len(src) && src[i] <= ' ' {
				i = skipWS(src, i)
			}
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func skipArr(src []byte, i, depth int) (int, bool) {
	i = skipWS(src, i+1)
	if i < len(src) && src[i] == ']' {
		return i + 1, true
	}
	for {
		if i >= len(src) {
			return 0, false
		}
		var ok bool
		if i, ok = skipValue(src, i, depth+1); !ok {
			return 0, false
		}
		if i < len(src) && src[i] <= ' ' {
			i = skipWS(src, i)
		}
		if i >= len(src) {
			return 0, false
		}
		switch src[i] {
		case ',':
			i = skipWS(src, i+1)
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// skipStr validates the string at src[i] ('"'). Like skipString, it
// accepts control characters and invalid UTF-8 (Strip repairs them): only
// quotes and escapes matter.
func skipStr(src []byte, i int) (int, bool) {
	i++
	for {
		for i+8 <= len(src) {
			if m := StringStops(binary.LittleEndian.Uint64(src[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for i < len(src) && src[i] != '"' && src[i] != '\\' {
			i++
		}
		if i >= len(src) {
			return 0, false
		}
	found:
		switch src[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(src) {
				return 0, false
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(src) || !isHex4(src[i+2:i+6]) {
					return 0, false
				}
				i += 6
			default:
				return 0, false
			}
		default:
			i++ // a control character or a byte of UTF-8
		}
	}
}
