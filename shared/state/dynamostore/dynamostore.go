// Package dynamostore keeps stream state in DynamoDB: a small head item per
// stream holding the cursor and the lease, and the dedup keys in separate
// chunk items written only when they change.
//
// # Item schema
//
// The table has a string partition key "pk" and no sort key. Every item of
// a stream has a key starting with state.Key.String() ("tenant/vendor/
// stream"), so an IAM policy can limit a function to its own streams with
// dynamodb:LeadingKeys. The head item, keyed by exactly that string:
//
//	pk             S  "tenant/vendor/stream"
//	format         N  layout of this item (Format; 1 is still read); any other value is ErrCorrupt
//	version        N  commits so far; absent until the first commit
//	cursor         S  the vendor cursor, raw JSON (B if it is not valid UTF-8), absent if empty
//	seen_chunks    B  manifest of the dedup chunk items, absent if none (see layout.go)
//	seen_tail      B  the newest dedup entries, kept inline while the head stays within 1 KB
//	updated_at     S  RFC 3339 (nanoseconds) time of the last commit
//	commit_id      S  random id of the last commit (recognises a retried commit)
//	lease_owner    S  who holds the lease, for diagnostics (at most 128 bytes)
//	lease_token    S  random per Lock call; only its holder can commit
//	lease_expires  N  epoch milliseconds after which another runner may take over
//	ttl            N  epoch seconds for DynamoDB TTL clean-up (Retention after
//	                  the last Lock or Commit)
//
// A dedup chunk item, keyed "tenant/vendor/stream#seen/<slot>":
//
//	gen   N  the version of the commit that wrote it (checked against the manifest)
//	d     B  dedup entries: 16-byte key digest and time (state.SeenEncoder), at most 64 KiB
//	ttl   N  epoch seconds: written + ChunkRetention + 2 days
//
// Format 1 heads (the dedup keys themselves in a "seen" list of strings)
// are read, their keys turned into digests, and rewritten in format 2 by
// the next commit.
//
// # Leases and commits
//
// Lock is one conditional UpdateItem on the head that takes the lease when
// there is none or lease_expires is in the past by the caller's clock.
// Renew is one UpdateItem, conditional on our lease_token, that moves
// lease_expires. Release is one conditional UpdateItem that removes the
// lease if it is still ours. Load is one strongly consistent GetItem of the
// head and one of each chunk it references.
//
// Commit first writes the new dedup chunks, if any, each with an
// UpdateItem to a slot that is conditional on the slot being unused, then
// the head with one UpdateItem conditional on our lease_token and on the
// version the caller read, which also renews the lease. Only that head
// update makes the commit: a chunk no head references is never read, so a
// zombie's commit fails at its head update and leaves only orphan chunks,
// and a crash at any point leaves the old record or the new one, whole.
// Slots are handed out consecutively from a random start per lease, so two
// runners do not pick the same ones; a slot found taken is replaced by the
// next. When the new keys fit in the head's inline tail, a commit is the
// head update alone.
//
// Chunks whose keys are all still in the set, in order, are kept as they
// are; the manifest only records how many of their leading entries have
// aged out. New keys are merged into the newest chunk while it is small
// relative to the whole set, so a large set is spread over about 32
// chunks. Chunks no longer referenced, and orphans, are left for DynamoDB
// TTL to delete.
//
// Costs, on demand (one write unit per started KB of the larger of the
// item's old and new size): Lock, Renew and Release 1 unit each while the
// head stays within 1 KB, which it does unless the cursor is large; a
// commit whose new keys fit in the head 1 unit; otherwise 1 unit for the
// head plus 1 per started KB of each new chunk, about 17 bytes per new
// key. Measured figures are in TestWriteUnitsPerCommit.
//
// Lease and dedup expiry are decided from stored timestamps compared with
// the caller's clock, never from whether DynamoDB's TTL process has
// deleted an item: TTL deletes hours or days late. A head is deleted by TTL
// only Retention (400 days by default) after its stream was last locked. A
// chunk referenced for longer than ChunkRetention/2 is written again by the
// next commit; a chunk older than ChunkRetention (a stream that did not
// commit for that long) is treated as forgotten on Load, before its TTL can
// delete it: the stream then may deliver duplicates at its boundary, never
// lose events.
//
// # Size bound
//
// Every item stays well within DynamoDB's 400 KB: a chunk holds at most
// 64 KiB of entries, at most 64 chunks are referenced (state.MaxSeen keys
// fit in about 42), and the head holds the cursor, a manifest of at most
// about 1 KB and an inline tail that keeps it within 1 KB. Commit refuses
// a head beyond MaxItemBytes (a cursor over about 340 KiB) and a dedup set
// over state.MaxSeen with an error wrapping ErrTooLarge and stores
// nothing. The keys' content never matters: each is a 16-byte digest.
package dynamostore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Format is stored in every committed head so that a future layout change
// is detected instead of misread.
const Format = 2

// formatLegacy is the layout with the dedup keys in the head, still read.
const formatLegacy = 1

// MaxItemBytes bounds the size of a head item Commit writes, below
// DynamoDB's 400 KB item limit with room for attribute overhead.
const MaxItemBytes = 350 << 10

// headTarget is the head size the inline tail may fill: at most 1 KB keeps
// every lease operation at one write unit.
const headTarget = 1024

// maxOwnerBytes bounds the stored lease owner, so that whoever locks the
// stream next cannot push the head past headTarget.
const maxOwnerBytes = 128

// Defaults for the options.
const (
	DefaultRetention      = 400 * 24 * time.Hour
	DefaultChunkRetention = 28 * 24 * time.Hour
	// DefaultLeaseTTL is short: callers renew (the pipeline does while a
	// stream runs), so a runner that dies frees its stream within it.
	DefaultLeaseTTL = time.Minute
)

// chunkTTLMargin is added to ChunkRetention for a chunk's ttl: DynamoDB
// must not delete a chunk before the stored write time says it is
// forgotten (that time is rounded down to the hour).
const chunkTTLMargin = 48 * time.Hour

// ErrTooLarge means a record exceeds the bounds the store can keep (see
// the package documentation); nothing was stored.
var ErrTooLarge = errors.New("dynamostore: record too large")

// Attribute names.
const (
	attrPK        = "pk"
	attrFormat    = "format"
	attrVersion   = "version"
	attrCursor    = "cursor"
	attrSeen      = "seen" // format 1 only
	attrChunks    = "seen_chunks"
	attrTail      = "seen_tail"
	attrUpdatedAt = "updated_at"
	attrCommitID  = "commit_id"
	attrOwner     = "lease_owner"
	attrToken     = "lease_token"
	attrExpires   = "lease_expires"
	attrTTL       = "ttl"
	attrGen       = "gen" // chunk items
	attrData      = "d"   // chunk items
)

// chunkLoadConcurrency bounds the chunk reads or writes in flight.
const chunkLoadConcurrency = 8

// Store is a state.Store backed by one DynamoDB table. It is safe for
// concurrent use.
type Store struct {
	client         *dynamodb.Client
	table          string
	now            func() time.Time
	retention      time.Duration
	chunkRetention time.Duration
	leaseTTL       time.Duration
}

var _ state.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests that move leases past their
// expiry without waiting.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRetention sets how long after its last Lock or Commit a head item
// may be deleted by DynamoDB TTL (DefaultRetention if d <= 0). It must be
// far longer than any pause in a stream's schedule: a deleted head makes
// its stream start over from the vendor's default position.
func WithRetention(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.retention = d
		}
	}
}

// WithChunkRetention sets how long a dedup chunk is kept after it was
// written (DefaultChunkRetention if d <= 0; at least 2 hours): chunks
// still in use are written again after half of it, and a stream that did
// not commit for all of it forgets them.
func WithChunkRetention(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.chunkRetention = max(d, 2*time.Hour)
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
	s := &Store{client: client, table: table, now: time.Now, retention: DefaultRetention,
		chunkRetention: DefaultChunkRetention, leaseTTL: DefaultLeaseTTL}
	for _, o := range opts {
		o(s)
	}
	return s
}

func headKey(k state.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(k.String())}
}

// chunkKey is the partition key of a dedup chunk of k's stream.
func chunkKey(k state.Key, slot uint64) string {
	return k.String() + "#seen/" + strconv.FormatUint(slot, 10)
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

func hoursOf(t time.Time) int64 { return t.Unix() / 3600 }

// truncateOwner keeps at most maxOwnerBytes of owner, on a rune boundary.
func truncateOwner(owner string) string {
	if len(owner) <= maxOwnerBytes {
		return owner
	}
	cut := maxOwnerBytes
	for cut > 0 && !utf8.RuneStart(owner[cut]) {
		cut--
	}
	return owner[:cut]
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
	owner := truncateOwner(opts.Owner)
	if owner == "" {
		owner = "unnamed"
	}
	token := rand.Text()
	now := s.now()
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 headKey(key),
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
	l := &lease{store: s, key: key, owner: owner, token: token, ttl: ttl, until: opts.Until}
	var start [4]byte
	rand.Read(start[:])
	l.nextSlot.Store(uint64(binary.BigEndian.Uint32(start[:])))
	return l, nil
}

type lease struct {
	store *Store
	key   state.Key
	owner string
	token string
	until time.Time // the lease never outlasts it (zero: no cap)
	ttl   time.Duration

	mu       sync.Mutex // serialises Load, Commit, Renew and Release of this lease
	closed   bool       // Release was called: no more commits
	released bool       // the lease was removed from the table (or was not ours)
	layout   layout     // what is stored, as of the last Load or Commit
	nextSlot atomic.Uint64
}

func (l *lease) Key() state.Key { return l.key }

// Load reads the record with strongly consistent reads. It also checks
// that the lease is still ours, so a runner that was taken over learns it
// before fetching anything from the vendor.
func (l *lease) Load(ctx context.Context) (state.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return state.Record{}, fmt.Errorf("dynamostore: load %s after release: %w", l.key, state.ErrLeaseLost)
	}
	s := l.store
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            headKey(l.key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return state.Record{}, fmt.Errorf("dynamostore: load %s from table %s: %w", l.key, s.table, err)
	}
	h, err := decodeHead(out.Item)
	if err != nil {
		return state.Record{}, fmt.Errorf("dynamostore: load %s: %w", l.key, err)
	}
	if h.lease.token != l.token {
		return state.Record{}, fmt.Errorf("dynamostore: load %s: lease now held by %q until %s: %w",
			l.key, h.lease.owner, h.lease.expiresString(), state.ErrLeaseLost)
	}
	if h.legacy {
		l.layout = layout{}
		return h.rec, nil
	}
	lay, err := l.loadChunks(ctx, h)
	if err != nil {
		return state.Record{}, err
	}
	l.layout = lay
	h.rec.Seen = flatten(lay.parts, lay.tail)
	return h.rec, nil
}

// loadChunks reads the chunks h references, except those older than the
// chunk retention, which count as forgotten whether or not DynamoDB has
// deleted them yet.
func (l *lease) loadChunks(ctx context.Context, h head) (layout, error) {
	s := l.store
	lay := layout{known: true, version: h.rec.Version, tail: h.tail}
	nowHours := hoursOf(s.now())
	retention := int64(s.chunkRetention / time.Hour)
	var refs []chunkRef
	for _, c := range h.man.chunks {
		if c.written+retention <= nowHours {
			continue
		}
		refs = append(refs, c)
	}
	parts := make([][]state.Seen, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, chunkLoadConcurrency)
	var wg sync.WaitGroup
	for i, c := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			parts[i], errs[i] = l.loadChunk(ctx, c)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return layout{}, err
	}
	lay.man.chunks, lay.parts = refs, parts
	return lay, nil
}

func (l *lease) loadChunk(ctx context.Context, c chunkRef) ([]state.Seen, error) {
	s := l.store
	pk := chunkKey(l.key, c.slot)
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{attrPK: str(pk)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: load %s from table %s: %w", pk, s.table, err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("dynamostore: load %s: %w: dedup chunk %s is missing", l.key, state.ErrCorrupt, pk)
	}
	ch, err := decodeChunk(out.Item)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: load %s: %s: %w", l.key, pk, err)
	}
	if ch.gen != c.gen || c.skip+c.n > len(ch.entries) {
		return nil, fmt.Errorf("dynamostore: load %s: %w: dedup chunk %s has generation %d and %d entries, the head expects generation %d and %d+%d",
			l.key, state.ErrCorrupt, pk, ch.gen, len(ch.entries), c.gen, c.skip, c.n)
	}
	return ch.entries[c.skip : c.skip+c.n], nil
}

// Commit writes rec as version rec.Version+1 and renews the lease: the
// new dedup chunks, if any, each with one UpdateItem to a slot no head
// references, then the head with one conditional UpdateItem.
func (l *lease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("dynamostore: commit %s after release: %w", l.key, state.ErrLeaseLost)
	}
	if len(rec.Seen) > state.MaxSeen {
		return 0, fmt.Errorf("dynamostore: commit %s: %d dedup keys; the oldest must be forgotten first: %w: %w",
			l.key, len(rec.Seen), state.ErrSeenTooLarge, ErrTooLarge)
	}
	if len(rec.Cursor) > 0 && !json.Valid(rec.Cursor) {
		return 0, fmt.Errorf("dynamostore: commit %s: cursor is not valid JSON", l.key)
	}
	s := l.store
	now := s.now()
	next := rec.Version + 1
	commitID := rand.Text()

	old := &l.layout
	if old.version != rec.Version {
		old = &layout{}
	}
	headItem := map[string]types.AttributeValue{
		attrPK:        str(l.key.String()),
		attrFormat:    num(Format),
		attrVersion:   num(next),
		attrUpdatedAt: str(now.UTC().Format(time.RFC3339Nano)),
		attrCommitID:  str(commitID),
		attrOwner:     str(l.owner),
		attrToken:     str(l.token),
		attrExpires:   num(leaseExpiry(now, l.ttl, l.until)),
		attrTTL:       s.ttlValue(now),
	}
	if len(rec.Cursor) > 0 {
		headItem[attrCursor] = encodeCursor(rec.Cursor)
	}
	// Room for the manifest and the inline tail: the head without them,
	// counted with the longest owner, must stay within headTarget.
	fixed := ItemSize(headItem) + maxOwnerBytes - len(l.owner) + len(attrChunks) + len(attrTail)
	retention := int64(s.chunkRetention / time.Hour)
	p := planCommit(old, rec.Seen, next, hoursOf(now), retention/2, headTarget-fixed, l.allocSlot)
	if err := l.writeChunks(ctx, &p, num(now.Add(s.chunkRetention+chunkTTLMargin).Unix())); err != nil {
		return 0, err
	}
	if len(p.man.chunks) > 0 {
		headItem[attrChunks] = &types.AttributeValueMemberB{Value: p.man.encode()}
	}
	if len(p.tailB) > 0 {
		headItem[attrTail] = &types.AttributeValueMemberB{Value: p.tailB}
	}
	if size := ItemSize(headItem); size > MaxItemBytes {
		return 0, fmt.Errorf("dynamostore: commit %s: head item would be %d bytes, more than %d (cursor %d bytes): %w",
			l.key, size, MaxItemBytes, len(rec.Cursor), ErrTooLarge)
	}
	update := headUpdate(headItem, rec.Version)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 headKey(l.key),
		UpdateExpression:                    update.expr,
		ConditionExpression:                 update.cond,
		ExpressionAttributeNames:            update.names,
		ExpressionAttributeValues:           update.values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		// Chunks just written are referenced by nothing; TTL removes them.
		if err := l.commitFailed(err, rec.Version, commitID); err != nil {
			return 0, err
		}
	}
	l.layout = layout{known: true, version: next, man: p.man, parts: p.parts, tail: p.tail}
	return next, nil
}

// allocSlot hands out chunk slots: consecutive from a random start per
// lease, so that two runners (a zombie and the stream's new holder) do not
// pick the same ones; if they ever do, the write's condition catches it.
func (l *lease) allocSlot() uint64 { return l.nextSlot.Add(1) }

// writeChunks writes the plan's new chunks, each to a slot that no stored
// head references: whatever happens next, no existing record changes.
// A slot found taken (by another runner's orphan chunk) is replaced by a
// fresh one in the plan.
func (l *lease) writeChunks(ctx context.Context, p *plan, ttl types.AttributeValue) error {
	if len(p.writes) == 0 {
		return nil
	}
	errs := make([]error, len(p.writes))
	sem := make(chan struct{}, chunkLoadConcurrency)
	var wg sync.WaitGroup
	for i, w := range p.writes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ref := p.man.chunks[w.idx]
			for attempt := 0; ; attempt++ {
				taken, err := l.writeChunk(ctx, ref, w.data, ttl)
				if err == nil && taken && attempt < 3 {
					ref.slot = l.allocSlot()
					continue
				}
				if err == nil && taken {
					err = fmt.Errorf("dynamostore: commit %s: no free dedup chunk slot after %d attempts", l.key, attempt+1)
				}
				errs[i] = err
				p.man.chunks[w.idx].slot = ref.slot // each goroutine owns its entry
				return
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeChunk writes one chunk if its slot is free. It reports taken when
// the slot holds another chunk; finding our own chunk there (an SDK retry
// of a write whose answer was lost) is success.
func (l *lease) writeChunk(ctx context.Context, ref chunkRef, data []byte, ttl types.AttributeValue) (taken bool, err error) {
	s := l.store
	pk := chunkKey(l.key, ref.slot)
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]types.AttributeValue{attrPK: str(pk)},
		UpdateExpression:         aws.String("SET #gen = :gen, #d = :d, #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#gen": attrGen, "#d": attrData, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":gen": num(ref.gen), ":d": &types.AttributeValueMemberB{Value: data}, ":ttl": ttl,
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		g, _ := ccf.Item[attrGen].(*types.AttributeValueMemberN)
		d, _ := ccf.Item[attrData].(*types.AttributeValueMemberB)
		if g != nil && g.Value == strconv.FormatInt(ref.gen, 10) && d != nil && bytes.Equal(d.Value, data) {
			return false, nil
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("dynamostore: commit %s: write dedup chunk %s to table %s: %w", l.key, pk, s.table, err)
	}
	return false, nil
}

// commitFailed interprets a refused head update: it returns nil when the
// refusal's stored item carries our commit_id (an SDK retry that found our
// own, already applied write), and otherwise the error.
func (l *lease) commitFailed(err error, version int64, commitID string) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("dynamostore: commit %s to table %s: %w", l.key, l.store.table, err)
	}
	held := leaseOf(ccf.Item)
	if held.token != l.token {
		return mapped(state.ErrLeaseLost, err, "dynamostore: commit %s: lease now held by %q until %s",
			l.key, held.owner, held.expiresString())
	}
	// Only the holder of our token can write, so our commit_id there means
	// our write was applied.
	if id, ok := ccf.Item[attrCommitID].(*types.AttributeValueMemberS); ok && id.Value == commitID {
		return nil
	}
	stored := "none"
	if v, ok := ccf.Item[attrVersion].(*types.AttributeValueMemberN); ok {
		stored = v.Value
	}
	return mapped(state.ErrConflict, err, "dynamostore: commit %s at version %d, stored version %s", l.key, version, stored)
}

// expression is one update of the head.
type expression struct {
	expr, cond *string
	names      map[string]string
	values     map[string]types.AttributeValue
}

// headUpdate sets every attribute of item on the head (the lease's own
// attributes are already there and stay) and removes the record's
// attributes item lacks, conditional on our lease token and on version.
func headUpdate(item map[string]types.AttributeValue, version int64) expression {
	e := expression{names: map[string]string{}, values: map[string]types.AttributeValue{}}
	set := ""
	for _, a := range []string{attrFormat, attrVersion, attrUpdatedAt, attrCommitID, attrExpires, attrTTL, attrCursor, attrChunks, attrTail} {
		v, ok := item[a]
		if !ok {
			continue
		}
		name, val := "#"+a, ":"+a
		e.names[name], e.values[val] = a, v
		set = appendList(set, name+" = "+val)
	}
	remove := ""
	for _, a := range []string{attrCursor, attrChunks, attrTail, attrSeen} {
		if _, ok := item[a]; !ok {
			e.names["#"+a] = a
			remove = appendList(remove, "#"+a)
		}
	}
	expr := "SET " + set
	if remove != "" {
		expr += " REMOVE " + remove
	}
	e.names["#token"] = attrToken
	e.values[":token"] = item[attrToken]
	cond := "#token = :token AND "
	if version == 0 {
		cond += "attribute_not_exists(#version)"
	} else {
		cond += "#version = :expected"
		e.values[":expected"] = num(version)
	}
	e.expr, e.cond = aws.String(expr), aws.String(cond)
	return e
}

func appendList(list, item string) string {
	if list == "" {
		return item
	}
	return list + ", " + item
}

// Renew moves the lease's expiry to now plus its TTL (capped at Until).
func (l *lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("dynamostore: renew %s after release: %w", l.key, state.ErrLeaseLost)
	}
	_, err := l.store.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.store.table),
		Key:                      headKey(l.key),
		UpdateExpression:         aws.String("SET #exp = :exp"),
		ConditionExpression:      aws.String("#token = :token"),
		ExpressionAttributeNames: map[string]string{"#token": attrToken, "#exp": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":token": str(l.token),
			":exp":   num(leaseExpiry(l.store.now(), l.ttl, l.until)),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		held := leaseOf(ccf.Item)
		return mapped(state.ErrLeaseLost, err, "dynamostore: renew %s: lease now held by %q until %s", l.key, held.owner, held.expiresString())
	case err != nil:
		return fmt.Errorf("dynamostore: renew %s in table %s: %w", l.key, l.store.table, err)
	}
	return nil
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
		Key:                      headKey(l.key),
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
