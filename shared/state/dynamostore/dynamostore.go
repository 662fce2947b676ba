// Package dynamostore keeps stream state in DynamoDB, one item per stream,
// and guards each stream with a lease held in the same item.
//
// # Item schema
//
// The table has a string partition key "pk" and no sort key. The item of a
// stream is keyed by state.Key.String() ("tenant/vendor/stream"), so an IAM
// policy can limit a function to its own streams with
// dynamodb:LeadingKeys. Attributes:
//
//	pk             S  "tenant/vendor/stream"
//	format         N  layout of this item (Format); any other value is ErrCorrupt
//	version        N  commits so far; absent until the first commit
//	cursor         S  the vendor cursor, raw JSON, absent if empty
//	seen           L  the dedup set, oldest first, one S per key:
//	                  "<unix seconds>[.<9-digit nanoseconds>] <key>"; absent if empty
//	updated_at     S  RFC 3339 (nanoseconds) time of the last commit
//	commit_id      S  random id of the last commit (recognises a retried commit)
//	lease_owner    S  who holds the lease, for diagnostics
//	lease_token    S  random per Lock call; only its holder can commit
//	lease_expires  N  epoch milliseconds after which another runner may take over
//	ttl            N  epoch seconds for DynamoDB TTL clean-up (Retention after
//	                  the last Lock or Commit)
//
// # Leases and commits
//
// Lock is one conditional UpdateItem that takes the lease when there is
// none or lease_expires is in the past by the caller's clock. Commit is one
// conditional UpdateItem, on our lease_token and on the version the caller
// read, which also renews the lease; at one commit per delivered page the
// steady state costs one write per page and nothing else. Release is one
// conditional UpdateItem that removes the lease if it is still ours. Load
// is one strongly consistent GetItem.
//
// Lease and dedup expiry are decided from the stored timestamps compared
// with the caller's clock, never from whether DynamoDB's TTL process has
// deleted an item: TTL deletes hours or days late and only cleans up
// streams nobody has touched for Retention (400 days by default).
//
// # Size bound
//
// An item is at most 400 KB. A record may hold at most state.MaxSeen
// dedup keys of at most state.MaxSeenKeyLen bytes; each key is stored raw
// with about 30 bytes of time and overhead, so a full dedup set takes at
// most about 250 KB and leaves room for a cursor of up to roughly 100 KB
// under MaxItemBytes (350 KiB). Commit refuses a record beyond those
// bounds with an error wrapping ErrTooLarge and stores nothing; it never
// lets DynamoDB fail opaquely. The pipeline keeps within them by
// forgetting the oldest dedup keys first: an event at the boundary may
// then be delivered twice, but none is ever lost.
package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Format is stored in every committed item so that a future layout change
// is detected instead of misread.
const Format = 1

// MaxItemBytes bounds the size of an item Commit writes, below DynamoDB's
// 400 KB item limit with room for attribute overhead.
const MaxItemBytes = 350 << 10

// Defaults for the options.
const (
	DefaultRetention = 400 * 24 * time.Hour
	DefaultLeaseTTL  = 15 * time.Minute // the longest a Lambda invocation runs
)

// ErrTooLarge means a record exceeds the bounds the store can keep in one
// item (see the package documentation); nothing was stored.
var ErrTooLarge = errors.New("dynamostore: record too large")

// Attribute names.
const (
	attrPK        = "pk"
	attrFormat    = "format"
	attrVersion   = "version"
	attrCursor    = "cursor"
	attrSeen      = "seen"
	attrUpdatedAt = "updated_at"
	attrCommitID  = "commit_id"
	attrOwner     = "lease_owner"
	attrToken     = "lease_token"
	attrExpires   = "lease_expires"
	attrTTL       = "ttl"
)

// Store is a state.Store backed by one DynamoDB table. It is safe for
// concurrent use.
type Store struct {
	client    *dynamodb.Client
	table     string
	now       func() time.Time
	retention time.Duration
	leaseTTL  time.Duration
}

var _ state.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests that move leases past their
// expiry without waiting.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRetention sets how long after its last Lock or Commit an item may be
// deleted by DynamoDB TTL (DefaultRetention if d <= 0). It must be far
// longer than any pause in a stream's schedule: a deleted item makes its
// stream start over from the vendor's default position.
func WithRetention(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.retention = d
		}
	}
}

// WithDefaultLeaseTTL sets the lease duration used when LockOptions.TTL is
// zero (DefaultLeaseTTL if d <= 0).
func WithDefaultLeaseTTL(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.leaseTTL = d
		}
	}
}

// New returns a store that keeps its items in table.
func New(client *dynamodb.Client, table string, opts ...Option) *Store {
	s := &Store{client: client, table: table, now: time.Now, retention: DefaultRetention, leaseTTL: DefaultLeaseTTL}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) itemKey(k state.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(k.String())}
}

// leaseExpiry is now+ttl in epoch milliseconds, capped at until when set.
func leaseExpiry(now time.Time, ttl time.Duration, until time.Time) int64 {
	exp := now.Add(ttl)
	if !until.IsZero() && until.Before(exp) {
		exp = until
	}
	return exp.UnixMilli()
}

func (s *Store) ttlValue(now time.Time) types.AttributeValue {
	return num(now.Add(s.retention).Unix())
}

// Lock takes the stream's lease without waiting: a runner that finds the
// stream busy skips it, and the schedule runs it again later.
func (s *Store) Lock(ctx context.Context, key state.Key, opts state.LockOptions) (state.Lease, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("dynamostore: %w", err)
	}
	ttl := opts.TTL
	if ttl <= 0 {
		ttl = s.leaseTTL
	}
	owner := opts.Owner
	if owner == "" {
		owner = "unnamed"
	}
	token := rand.Text()
	now := s.now()
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 s.itemKey(key),
		UpdateExpression:    aws.String("SET #owner = :owner, #token = :token, #exp = :exp, #ttl = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(#exp) OR #exp < :now"),
		ExpressionAttributeNames: map[string]string{
			"#owner": attrOwner, "#token": attrToken, "#exp": attrExpires, "#ttl": attrTTL,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": str(owner),
			":token": str(token),
			":exp":   num(leaseExpiry(now, ttl, opts.Until)),
			":now":   num(now.UnixMilli()),
			":ttl":   s.ttlValue(now),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		held := leaseOf(ccf.Item)
		// The SDK retries a request whose answer was lost; the retry then
		// finds the lease this very call already took.
		if held.token == token {
			break
		}
		return nil, mapped(state.ErrLocked, err, "dynamostore: lock %s: held by %q until %s",
			key, held.owner, held.expiresString())
	case err != nil:
		return nil, fmt.Errorf("dynamostore: lock %s in table %s: %w", key, s.table, err)
	}
	return &lease{store: s, key: key, owner: owner, token: token, ttl: ttl, until: opts.Until}, nil
}

type lease struct {
	store *Store
	key   state.Key
	owner string
	token string
	until time.Time // the lease never outlasts it (zero: no cap)
	ttl   time.Duration

	mu       sync.Mutex // serialises Commit and Release of this lease
	closed   bool       // Release was called: no more commits
	released bool       // the lease was removed from the table (or was not ours)
}

func (l *lease) Key() state.Key { return l.key }

func (l *lease) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Load reads the record with a strongly consistent read. It also checks
// that the lease is still ours, so a runner that was taken over learns it
// before fetching anything from the vendor.
func (l *lease) Load(ctx context.Context) (state.Record, error) {
	if l.isClosed() {
		return state.Record{}, fmt.Errorf("dynamostore: load %s after release: %w", l.key, state.ErrLeaseLost)
	}
	out, err := l.store.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.store.table),
		Key:            l.store.itemKey(l.key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return state.Record{}, fmt.Errorf("dynamostore: load %s from table %s: %w", l.key, l.store.table, err)
	}
	it, err := decodeItem(out.Item)
	if err != nil {
		return state.Record{}, fmt.Errorf("dynamostore: load %s: %w", l.key, err)
	}
	if it.lease.token != l.token {
		return state.Record{}, fmt.Errorf("dynamostore: load %s: lease now held by %q until %s: %w",
			l.key, it.lease.owner, it.lease.expiresString(), state.ErrLeaseLost)
	}
	return it.rec, nil
}

// Commit writes rec as version rec.Version+1 in one conditional UpdateItem
// that also renews the lease.
func (l *lease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("dynamostore: commit %s after release: %w", l.key, state.ErrLeaseLost)
	}
	s := l.store
	if err := checkRecord(rec); err != nil {
		return 0, fmt.Errorf("dynamostore: commit %s: %w", l.key, err)
	}
	seen, seenSize := encodeSeen(rec.Seen)
	if size := itemSize(l.key, rec, seenSize, l.owner); size > MaxItemBytes {
		return 0, fmt.Errorf("dynamostore: commit %s: item would be about %d bytes, more than %d (cursor %d bytes, %d seen keys): %w",
			l.key, size, MaxItemBytes, len(rec.Cursor), len(rec.Seen), ErrTooLarge)
	}
	now := s.now()
	commitID := rand.Text()
	next := rec.Version + 1
	names := map[string]string{
		"#format": attrFormat, "#version": attrVersion, "#updated": attrUpdatedAt, "#commit": attrCommitID,
		"#token": attrToken, "#exp": attrExpires, "#ttl": attrTTL, "#cursor": attrCursor, "#seen": attrSeen,
	}
	values := map[string]types.AttributeValue{
		":format":  num(Format),
		":next":    num(next),
		":updated": str(now.UTC().Format(time.RFC3339Nano)),
		":commit":  str(commitID),
		":token":   str(l.token),
		":exp":     num(leaseExpiry(now, l.ttl, l.until)),
		":ttl":     s.ttlValue(now),
	}
	set := "SET #format = :format, #version = :next, #updated = :updated, #commit = :commit, #exp = :exp, #ttl = :ttl"
	var remove string
	if len(rec.Cursor) > 0 {
		set += ", #cursor = :cursor"
		values[":cursor"] = str(string(rec.Cursor))
	} else {
		remove = appendList(remove, "#cursor")
	}
	if len(seen) > 0 {
		set += ", #seen = :seen"
		values[":seen"] = &types.AttributeValueMemberL{Value: seen}
	} else {
		remove = appendList(remove, "#seen")
	}
	update := set
	if remove != "" {
		update += " REMOVE " + remove
	}
	cond := "#token = :token AND "
	if rec.Version == 0 {
		cond += "attribute_not_exists(#version)"
	} else {
		cond += "#version = :version"
		values[":version"] = num(rec.Version)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 s.itemKey(l.key),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		held := leaseOf(ccf.Item)
		if held.token != l.token {
			return 0, mapped(state.ErrLeaseLost, err, "dynamostore: commit %s: lease now held by %q until %s",
				l.key, held.owner, held.expiresString())
		}
		// Only the holder of our token can write, so a stored commit_id
		// equal to ours means an SDK retry found our own, already applied
		// write.
		if id, ok := ccf.Item[attrCommitID].(*types.AttributeValueMemberS); ok && id.Value == commitID {
			return next, nil
		}
		stored := "none"
		if v, ok := ccf.Item[attrVersion].(*types.AttributeValueMemberN); ok {
			stored = v.Value
		}
		return 0, mapped(state.ErrConflict, err, "dynamostore: commit %s at version %d, stored version %s", l.key, rec.Version, stored)
	case err != nil:
		return 0, fmt.Errorf("dynamostore: commit %s to table %s: %w", l.key, s.table, err)
	}
	return next, nil
}

func appendList(list, item string) string {
	if list == "" {
		return item
	}
	return list + ", " + item
}

// Release removes the lease if it is still ours, so the next scheduled run
// need not wait for it to expire. Releasing twice, or after the lease was
// taken over, is not an error.
func (l *lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.released {
		return nil
	}
	_, err := l.store.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.store.table),
		Key:                      l.store.itemKey(l.key),
		UpdateExpression:         aws.String("REMOVE #owner, #token, #exp"),
		ConditionExpression:      aws.String("#token = :token"),
		ExpressionAttributeNames: map[string]string{"#owner": attrOwner, "#token": attrToken, "#exp": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":token": str(l.token),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		// The lease stays until it expires; a later Release may retry.
		return fmt.Errorf("dynamostore: release %s in table %s: %w", l.key, l.store.table, err)
	}
	l.released = true
	return nil
}

// mappedError is a refused conditional write translated into the state
// package's sentinel. Its message stays short (the SDK's text adds only a
// request id), while errors.As still finds the SDK's
// ConditionalCheckFailedException for callers and tests that want it.
type mappedError struct {
	msg   string
	kind  error
	cause error
}

func mapped(kind, cause error, format string, args ...any) error {
	return &mappedError{msg: fmt.Sprintf(format, args...) + ": " + kind.Error(), kind: kind, cause: cause}
}

func (e *mappedError) Error() string   { return e.msg }
func (e *mappedError) Unwrap() []error { return []error{e.kind, e.cause} }

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// checkRecord refuses what the store could not keep faithfully in one item.
func checkRecord(rec state.Record) error {
	if len(rec.Cursor) > 0 && (!utf8.Valid(rec.Cursor) || !json.Valid(rec.Cursor)) {
		return errors.New("cursor is not valid UTF-8 JSON")
	}
	if len(rec.Seen) > state.MaxSeen {
		return fmt.Errorf("%d seen keys, more than state.MaxSeen (%d); the oldest must be forgotten first: %w",
			len(rec.Seen), state.MaxSeen, ErrTooLarge)
	}
	for i, s := range rec.Seen {
		if len(s.Key) > state.MaxSeenKeyLen {
			return fmt.Errorf("seen key %d is %d bytes, more than state.MaxSeenKeyLen (%d): %w",
				i, len(s.Key), state.MaxSeenKeyLen, ErrTooLarge)
		}
		if !utf8.ValidString(s.Key) {
			// A DynamoDB string must be UTF-8; a replaced byte would turn
			// the key into a different one and defeat dedup.
			return fmt.Errorf("seen key %d is not valid UTF-8", i)
		}
	}
	return nil
}

// itemSize estimates the stored size of the item the way DynamoDB counts
// it (attribute names plus values), generously for the small fixed
// attributes.
func itemSize(key state.Key, rec state.Record, seenSize int, owner string) int {
	const fixed = 512 // names and numeric values of the other attributes, timestamps, ids
	return fixed + len(key.String()) + len(owner) + len(rec.Cursor) + seenSize
}
