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
func plainRun(src []byte, i int) int {
	for i+8 <= len(src) {
		w := binary.LittleEndian.Uint64(src[i:])
		if m := equal(w, '"') | equal(w, '\\') | below(w, 0x20) | w&msb; m != 0 {
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
