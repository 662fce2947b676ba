package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

// Strings are most of the bytes of an event, so string scanning looks at
// eight bytes at a time (SWAR): find the first byte that ends the plain run.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// below flags the bytes of w that are less than n (n <= 128). The lowest
// flagged byte is exact; bytes above it may be flagged falsely.
func below(w uint64, n byte) uint64 { return (w - lsb*uint64(n)) & ^w & msb }

// equal flags the bytes of w equal to c, with the same caveat.
func equal(w uint64, c byte) uint64 { return below(w^(lsb*uint64(c)), 1) }

// plainRun returns the index of the first byte at or after i that is a
// quote, a backslash, a control character or not ASCII.
//
// Per word, a byte b with its top bit clear is flagged when b-0x20, (b^'"')-1
// or (b^'\\')-1 borrows into the top bit, that is when b < 0x20, b == '"' or
// b == '\\' (a borrow from a lower byte needs a lower byte that is flagged
// itself, so the lowest flag is exact); a byte with its top bit set is
// flagged by w itself. Without the usual "& ^x" of each test (which OR-ing w
// makes redundant), that is nine operations for eight bytes.
func plainRun(src []byte, i int) int {
	for i+16 <= len(src) {
		w := binary.LittleEndian.Uint64(src[i:])
		if m := StringStops(w); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		w = binary.LittleEndian.Uint64(src[i+8:])
		if m := StringStops(w); m != 0 {
			return i + 8 + bits.TrailingZeros64(m)/8
		}
		i += 16
	}
	for i+8 <= len(src) {
		w := binary.LittleEndian.Uint64(src[i:])
		if m := StringStops(w); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(src) {
		c := src[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return i
		}
		i++
	}
	return i
}

// StringStops flags (in their top bits) the bytes of w, eight bytes of a
// JSON string read little-endian, that end a plain run: a quote, a
// backslash, a control character or a byte that is not ASCII. The lowest
// flag is exact (see plainRun); bytes above it may be flagged falsely. It
// is exported for scanners of their own (the Proofpoint walker) that
// inline their string loop.
func StringStops(w uint64) uint64 {
	q := w ^ (lsb * '"')
	b := w ^ (lsb * '\\')
	return ((q - lsb) | (b - lsb) | (w - lsb*0x20) | w) & msb
}

// hasBackslash reports whether b, a member name, holds an escape: names
// are short, where this beats a call of bytes.IndexByte.
func hasBackslash(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if equal(binary.LittleEndian.Uint64(b[i:]), '\\') != 0 {
			return true
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '\\' {
			return true
		}
	}
	return false
}
