package onepasswordtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// cursorState is everything a continuing request needs. Like the real API
// the simulator is stateless with respect to cursors: the position, the
// page size and the timestamp filter travel inside the opaque string, so a
// cursor can be replayed (after a truncated response, a crash, or a restart
// of the simulator with the same accounts) and always yields the same page.
type cursorState struct {
	stream  streamID
	limit   int
	pos     uint64
	lo, hi  int64  // timestamp filter [lo, hi), unix ns; hi == noUpperBound when open-ended
	account uint64 // binds the cursor to one account: another tenant's cursor is invalid
}

const (
	cursorVersion = 1
	cursorBodyLen = 1 + 1 + 2 + 8 + 8 + 8 + 8
	cursorMACLen  = 12
	cursorLen     = cursorBodyLen + cursorMACLen
)

var errBadCursor = errors.New("invalid cursor")

// encodeCursor serialises c and authenticates it with an HMAC, so that a
// garbage or hand-edited cursor is rejected with 400 instead of being
// silently reinterpreted as some other position.
func encodeCursor(key []byte, c cursorState) string {
	var raw [cursorLen]byte
	raw[0] = cursorVersion
	raw[1] = byte(c.stream)
	binary.BigEndian.PutUint16(raw[2:], uint16(c.limit))
	binary.BigEndian.PutUint64(raw[4:], c.pos)
	binary.BigEndian.PutUint64(raw[12:], uint64(c.lo))
	binary.BigEndian.PutUint64(raw[20:], uint64(c.hi))
	binary.BigEndian.PutUint64(raw[28:], c.account)
	m := hmac.New(sha256.New, key)
	m.Write(raw[:cursorBodyLen])
	copy(raw[cursorBodyLen:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func decodeCursor(key []byte, s string) (cursorState, error) {
	var c cursorState
	if base64.RawURLEncoding.DecodedLen(len(s)) != cursorLen {
		return c, errBadCursor
	}
	var raw [cursorLen]byte
	if _, err := base64.RawURLEncoding.Decode(raw[:], []byte(s)); err != nil {
		return c, errBadCursor
	}
	m := hmac.New(sha256.New, key)
	m.Write(raw[:cursorBodyLen])
	if !hmac.Equal(m.Sum(nil)[:cursorMACLen], raw[cursorBodyLen:]) || raw[0] != cursorVersion {
		return c, errBadCursor
	}
	c.stream = streamID(raw[1])
	c.limit = int(binary.BigEndian.Uint16(raw[2:]))
	c.pos = binary.BigEndian.Uint64(raw[4:])
	c.lo = int64(binary.BigEndian.Uint64(raw[12:]))
	c.hi = int64(binary.BigEndian.Uint64(raw[20:]))
	c.account = binary.BigEndian.Uint64(raw[28:])
	if c.stream >= numStreams || c.limit < 1 || c.limit > maxLimit {
		return c, errBadCursor
	}
	return c, nil
}
