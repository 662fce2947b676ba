package dynamostore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// encodeSeen stores the dedup set as a list of strings, one per key:
// "<unix seconds>[.<9-digit nanoseconds>] <key>", oldest first. The key is
// stored raw, so every key costs its own length plus about 25 bytes
// whatever characters it holds (a JSON encoding would multiply keys full of
// quotes or control characters), and the list stays readable in the
// console. It returns the list and its DynamoDB item size.
func encodeSeen(seen []state.Seen) ([]types.AttributeValue, int) {
	if len(seen) == 0 {
		return nil, 0
	}
	list := make([]types.AttributeValue, len(seen))
	size := 3 // a list's own overhead
	var b []byte
	for i, s := range seen {
		b = strconv.AppendInt(b[:0], s.At.Unix(), 10)
		if ns := s.At.Nanosecond(); ns != 0 {
			b = append(b, '.')
			b = appendNanos(b, ns)
		}
		b = append(b, ' ')
		b = append(b, s.Key...)
		list[i] = &types.AttributeValueMemberS{Value: string(b)}
		size += len(b) + 1
	}
	return list, size
}

func appendNanos(b []byte, ns int) []byte {
	var d [9]byte
	for i := 8; i >= 0; i-- {
		d[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(b, d[:]...)
}

func decodeSeen(av types.AttributeValue) ([]state.Seen, error) {
	l, ok := av.(*types.AttributeValueMemberL)
	if !ok {
		return nil, fmt.Errorf("not a list (%T)", av)
	}
	if len(l.Value) == 0 {
		return nil, nil
	}
	out := make([]state.Seen, len(l.Value))
	for i, e := range l.Value {
		s, ok := e.(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("entry %d is not a string (%T)", i, e)
		}
		at, key, ok := strings.Cut(s.Value, " ")
		if !ok {
			return nil, fmt.Errorf("entry %d has no time", i)
		}
		secs, frac, hasFrac := strings.Cut(at, ".")
		sec, err := strconv.ParseInt(secs, 10, 64)
		if err != nil || secs == "" || secs[0] == '+' {
			return nil, fmt.Errorf("entry %d: seconds are not an integer", i)
		}
		var nsec int64
		if hasFrac {
			if len(frac) != 9 || strings.Trim(frac, "0123456789") != "" {
				return nil, fmt.Errorf("entry %d: nanoseconds are not 9 digits", i)
			}
			nsec, _ = strconv.ParseInt(frac, 10, 64)
		}
		out[i] = state.Seen{Key: key, At: time.Unix(sec, nsec).UTC()}
	}
	return out, nil
}

// leaseInfo is the lease part of a stored item.
type leaseInfo struct {
	owner   string
	token   string
	expires int64 // epoch milliseconds; 0 if absent
}

func (l leaseInfo) expiresString() string {
	if l.expires == 0 {
		return "(no lease)"
	}
	return time.UnixMilli(l.expires).UTC().Format(time.RFC3339Nano)
}

// leaseOf reads the lease attributes leniently: it only feeds error
// messages and the "is this still our token" check, where an unreadable
// attribute simply does not match.
func leaseOf(item map[string]types.AttributeValue) leaseInfo {
	var l leaseInfo
	if v, ok := item[attrOwner].(*types.AttributeValueMemberS); ok {
		l.owner = v.Value
	}
	if v, ok := item[attrToken].(*types.AttributeValueMemberS); ok {
		l.token = v.Value
	}
	if v, ok := item[attrExpires].(*types.AttributeValueMemberN); ok {
		l.expires, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	return l
}

type storedItem struct {
	rec   state.Record
	lease leaseInfo
}

// decodeItem turns a stored item into a record. Anything it cannot read
// exactly is ErrCorrupt: a record silently reset to version 0 would make
// the stream start over, skipping events or re-reading a backlog.
func decodeItem(item map[string]types.AttributeValue) (storedItem, error) {
	var it storedItem
	if len(item) == 0 {
		return it, nil
	}
	corrupt := func(attr, format string, args ...any) error {
		return fmt.Errorf("%w: attribute %s: %s", state.ErrCorrupt, attr, fmt.Sprintf(format, args...))
	}
	getS := func(attr string) (string, bool, error) {
		av, ok := item[attr]
		if !ok {
			return "", false, nil
		}
		s, ok := av.(*types.AttributeValueMemberS)
		if !ok {
			return "", false, corrupt(attr, "not a string (%T)", av)
		}
		return s.Value, true, nil
	}
	getN := func(attr string) (int64, bool, error) {
		av, ok := item[attr]
		if !ok {
			return 0, false, nil
		}
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			return 0, false, corrupt(attr, "not a number (%T)", av)
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return 0, false, corrupt(attr, "not an integer")
		}
		return v, true, nil
	}

	var err error
	if it.lease.owner, _, err = getS(attrOwner); err != nil {
		return it, err
	}
	if it.lease.token, _, err = getS(attrToken); err != nil {
		return it, err
	}
	if it.lease.expires, _, err = getN(attrExpires); err != nil {
		return it, err
	}

	version, hasVersion, err := getN(attrVersion)
	if err != nil {
		return it, err
	}
	format, hasFormat, err := getN(attrFormat)
	if err != nil {
		return it, err
	}
	if hasFormat && format != Format {
		return it, corrupt(attrFormat, "unsupported format %d (this build reads %d)", format, Format)
	}
	cursor, hasCursor, err := getS(attrCursor)
	if err != nil {
		return it, err
	}
	seen, hasSeen := item[attrSeen]
	updated, hasUpdated, err := getS(attrUpdatedAt)
	if err != nil {
		return it, err
	}
	if !hasVersion {
		// An item that was only ever locked carries nothing else.
		for _, a := range []struct {
			name string
			has  bool
		}{{attrFormat, hasFormat}, {attrCursor, hasCursor}, {attrSeen, hasSeen}, {attrUpdatedAt, hasUpdated}} {
			if a.has {
				return it, corrupt(attrVersion, "missing although %s is present", a.name)
			}
		}
		return it, nil
	}
	if !hasFormat {
		return it, corrupt(attrFormat, "missing on a committed item")
	}
	if version < 1 {
		return it, corrupt(attrVersion, "%d is not a committed version", version)
	}
	it.rec.Version = version
	if hasCursor {
		if cursor == "" || !utf8.ValidString(cursor) || !json.Valid([]byte(cursor)) {
			return it, corrupt(attrCursor, "not valid JSON")
		}
		it.rec.Cursor = json.RawMessage(cursor)
	}
	if hasSeen {
		if it.rec.Seen, err = decodeSeen(seen); err != nil {
			return it, corrupt(attrSeen, "%v", err)
		}
	}
	if !hasUpdated {
		return it, corrupt(attrUpdatedAt, "missing on a committed item")
	}
	if it.rec.UpdatedAt, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return it, corrupt(attrUpdatedAt, "not an RFC 3339 time")
	}
	return it, nil
}
