package state

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// DigestSize is the size of a dedup key's digest: the first 16 bytes
// (128 bits) of the SHA-256 of the key's bytes.
//
// A digest collision would make a new event look already delivered and
// suppress it, so the size follows from that probability. A new key is
// compared with at most MaxSeen stored digests, so it collides with
// probability at most MaxSeen/2^128 < 3e-34; over 10^12 events (a fleet
// collecting 1 000 events a second for 30 years) the chance that any
// event is ever suppressed stays below 3e-22. 96 bits would still give
// 1e-12 for random keys, but a party that can choose the keys of two
// events (a message id an e-mail sender sets, say) could then find a
// colliding pair with 2^48 hashes, a few GPU-hours; at 128 bits that is
// 2^64 hashes, out of reach. 64 bits would give 4e-3 over the same
// 10^12 events: not negligible.
const DigestSize = 16

// Digest identifies a dedup key by a fixed-size hash of its bytes, so
// that any key (long, binary, not UTF-8) is stored and compared the same
// way.
type Digest [DigestSize]byte

// KeyDigest returns the digest of key's bytes.
func KeyDigest(key string) Digest {
	sum := sha256.Sum256([]byte(key))
	return Digest(sum[:DigestSize])
}

// SeenSeconds is the time stores keep for a dedup key: At in Unix
// seconds, rounded up, so that a stored key is kept at least as long as
// the source asked (the zero time stays the zero time).
func SeenSeconds(at time.Time) int64 {
	s := at.Unix()
	if at.Nanosecond() != 0 {
		s++
	}
	return s
}

// SeenTime is the time a store returns for seconds written by SeenSeconds.
func SeenTime(sec int64) time.Time {
	return time.Unix(sec, 0).UTC()
}

// MaxSeenEntryBytes bounds the encoded size of one dedup entry.
const MaxSeenEntryBytes = DigestSize + binary.MaxVarintLen64

// SeenEncoder encodes dedup entries compactly: each entry is its digest
// followed by its time (SeenSeconds) as a signed varint relative to the
// previous entry's time (the first relative to 0). Keys delivered close
// together in time thus take 17 bytes each. Both stores use this
// encoding; a store splitting a set into parts starts a new encoder per
// part, so each part decodes on its own.
type SeenEncoder struct {
	buf  []byte
	prev int64
	n    int
}

// Add appends one entry.
func (e *SeenEncoder) Add(s Seen) {
	sec := SeenSeconds(s.At)
	e.buf = append(e.buf, s.Digest[:]...)
	// Wrapping subtraction: any two int64 times differ by a delta that
	// round-trips through the wrapping addition in DecodeSeen.
	e.buf = binary.AppendVarint(e.buf, int64(uint64(sec)-uint64(e.prev)))
	e.prev = sec
	e.n++
}

// SizeOf is how many bytes Add(s) would append now.
func (e *SeenEncoder) SizeOf(s Seen) int {
	return DigestSize + varintLen(int64(uint64(SeenSeconds(s.At))-uint64(e.prev)))
}

// Len is the encoded size so far; Count the number of entries.
func (e *SeenEncoder) Len() int   { return len(e.buf) }
func (e *SeenEncoder) Count() int { return e.n }

// Bytes returns the encoding. It stays valid until the next Add or Reset.
func (e *SeenEncoder) Bytes() []byte { return e.buf }

// Reset starts a new, independent encoding.
func (e *SeenEncoder) Reset() {
	e.buf = e.buf[:0]
	e.prev = 0
	e.n = 0
}

// EncodeSeen encodes seen in one part.
func EncodeSeen(seen []Seen) []byte {
	var e SeenEncoder
	e.buf = make([]byte, 0, len(seen)*(DigestSize+2)+8)
	for _, s := range seen {
		e.Add(s)
	}
	return e.buf
}

// DecodeSeen decodes what a SeenEncoder wrote, appending the entries to
// dst. Times come back as SeenTime values.
func DecodeSeen(dst []Seen, b []byte) ([]Seen, error) {
	dst = slices.Grow(dst, len(b)/(DigestSize+1))
	var prev int64
	for i := 0; len(b) > 0; i++ {
		if len(b) < DigestSize+1 {
			return dst, fmt.Errorf("dedup entry %d is truncated", i)
		}
		var s Seen
		copy(s.Digest[:], b[:DigestSize])
		delta, n := binary.Varint(b[DigestSize:])
		if n <= 0 {
			return dst, fmt.Errorf("dedup entry %d has no valid time", i)
		}
		prev = int64(uint64(prev) + uint64(delta))
		s.At = SeenTime(prev)
		dst = append(dst, s)
		b = b[DigestSize+n:]
	}
	return dst, nil
}

// ErrSeenTooLarge reports a dedup set over MaxSeen keys.
var ErrSeenTooLarge = errors.New("state: dedup set larger than state.MaxSeen")

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
