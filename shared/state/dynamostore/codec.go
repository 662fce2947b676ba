package dynamostore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// decodeLegacySeen reads the dedup list of a format 1 item: one string
// per key, "<unix seconds>[.<9-digit nanoseconds>] <key>", oldest first.
// Each key becomes its digest.
func decodeLegacySeen(av types.AttributeValue) ([]state.Seen, error) {
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
		if hasFrac {
			if len(frac) != 9 || strings.Trim(frac, "0123456789") != "" {
				return nil, fmt.Errorf("entry %d: nanoseconds are not 9 digits", i)
			}
			if strings.Trim(frac, "0") != "" {
				sec++ // stores keep whole seconds, rounded up
			}
		}
		out[i] = state.Seen{Digest: state.KeyDigest(key), At: state.SeenTime(sec)}
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

// head is a decoded head item.
type head struct {
	rec    state.Record // Seen is set only for a format 1 item
	lease  leaseInfo
	legacy bool // format 1: the dedup keys were in the item itself
	man    manifest
	tail   []state.Seen
}

// decodeHead turns a stored head item into a record and the layout of its
// dedup set. Anything it cannot read exactly is ErrCorrupt: a record
// silently reset to version 0 would make the stream start over, skipping
// events or re-reading a backlog.
func decodeHead(item map[string]types.AttributeValue) (head, error) {
	var h head
	if len(item) == 0 {
		return h, nil
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
	getB := func(attr string) ([]byte, bool, error) {
		av, ok := item[attr]
		if !ok {
			return nil, false, nil
		}
		b, ok := av.(*types.AttributeValueMemberB)
		if !ok {
			return nil, false, corrupt(attr, "not binary (%T)", av)
		}
		return b.Value, true, nil
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
	if h.lease.owner, _, err = getS(attrOwner); err != nil {
		return h, err
	}
	if h.lease.token, _, err = getS(attrToken); err != nil {
		return h, err
	}
	if h.lease.expires, _, err = getN(attrExpires); err != nil {
		return h, err
	}

	version, hasVersion, err := getN(attrVersion)
	if err != nil {
		return h, err
	}
	format, hasFormat, err := getN(attrFormat)
	if err != nil {
		return h, err
	}
	if hasFormat && format != Format && format != formatLegacy {
		return h, corrupt(attrFormat, "unsupported format %d (this build reads %d and %d)", format, formatLegacy, Format)
	}
	_, hasCursor := item[attrCursor]
	_, hasSeen := item[attrSeen]
	_, hasChunks := item[attrChunks]
	_, hasTail := item[attrTail]
	updated, hasUpdated, err := getS(attrUpdatedAt)
	if err != nil {
		return h, err
	}
	if !hasVersion {
		// An item that was only ever locked carries nothing else.
		for _, a := range []struct {
			name string
			has  bool
		}{{attrFormat, hasFormat}, {attrCursor, hasCursor}, {attrSeen, hasSeen}, {attrChunks, hasChunks}, {attrTail, hasTail}, {attrUpdatedAt, hasUpdated}} {
			if a.has {
				return h, corrupt(attrVersion, "missing although %s is present", a.name)
			}
		}
		return h, nil
	}
	if !hasFormat {
		return h, corrupt(attrFormat, "missing on a committed item")
	}
	if version < 1 {
		return h, corrupt(attrVersion, "%d is not a committed version", version)
	}
	h.rec.Version = version
	if hasCursor {
		if h.rec.Cursor, err = decodeCursor(item[attrCursor]); err != nil {
			return h, corrupt(attrCursor, "%v", err)
		}
	}
	h.legacy = format == formatLegacy
	if h.legacy {
		if hasChunks || hasTail {
			return h, corrupt(attrFormat, "format %d item with format %d dedup attributes", formatLegacy, Format)
		}
		if hasSeen {
			if h.rec.Seen, err = decodeLegacySeen(item[attrSeen]); err != nil {
				return h, corrupt(attrSeen, "%v", err)
			}
		}
	} else {
		if hasSeen {
			return h, corrupt(attrSeen, "present on a format %d item", Format)
		}
		if b, ok, err := getB(attrChunks); err != nil {
			return h, err
		} else if ok {
			if h.man, err = decodeManifest(b); err != nil {
				return h, corrupt(attrChunks, "%v", err)
			}
		}
		if b, ok, err := getB(attrTail); err != nil {
			return h, err
		} else if ok {
			if h.tail, err = state.DecodeSeen(nil, b); err != nil {
				return h, corrupt(attrTail, "%v", err)
			}
		}
	}
	if !hasUpdated {
		return h, corrupt(attrUpdatedAt, "missing on a committed item")
	}
	if h.rec.UpdatedAt, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return h, corrupt(attrUpdatedAt, "not an RFC 3339 time")
	}
	return h, nil
}

// encodeCursor stores a cursor as a string, readable in the console, when
// it is valid UTF-8 (as JSON from encoding/json always is), and as binary
// otherwise: a DynamoDB string must be UTF-8, and a replaced byte would
// change the vendor's position.
func encodeCursor(c json.RawMessage) types.AttributeValue {
	if utf8.Valid(c) {
		return str(string(c))
	}
	return &types.AttributeValueMemberB{Value: c}
}

func decodeCursor(av types.AttributeValue) (json.RawMessage, error) {
	var b []byte
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		b = []byte(v.Value)
	case *types.AttributeValueMemberB:
		b = v.Value
	default:
		return nil, fmt.Errorf("neither a string nor binary (%T)", av)
	}
	if len(b) == 0 || !json.Valid(b) {
		return nil, errors.New("not valid JSON")
	}
	return json.RawMessage(b), nil
}

// chunk is a decoded chunk item.
type chunk struct {
	gen     int64
	entries []state.Seen
}

func decodeChunk(item map[string]types.AttributeValue) (chunk, error) {
	var c chunk
	g, ok := item[attrGen].(*types.AttributeValueMemberN)
	if !ok {
		return c, fmt.Errorf("%w: dedup chunk: attribute %s missing or not a number", state.ErrCorrupt, attrGen)
	}
	var err error
	if c.gen, err = strconv.ParseInt(g.Value, 10, 64); err != nil {
		return c, fmt.Errorf("%w: dedup chunk: attribute %s is not an integer", state.ErrCorrupt, attrGen)
	}
	d, ok := item[attrData].(*types.AttributeValueMemberB)
	if !ok {
		return c, fmt.Errorf("%w: dedup chunk: attribute %s missing or not binary", state.ErrCorrupt, attrData)
	}
	if c.entries, err = state.DecodeSeen(nil, d.Value); err != nil {
		return c, fmt.Errorf("%w: dedup chunk: %v", state.ErrCorrupt, err)
	}
	return c, nil
}
