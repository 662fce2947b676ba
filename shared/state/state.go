// Package state defines where stream cursors live between runs and how one
// runner at a time owns a stream.
//
// A stream is identified by tenant, vendor and stream name. A runner takes a
// Lease on the stream before it reads the record and commits every cursor
// through that lease; a commit is conditional on the lease still being held
// and on the record version the runner last saw, so two runners can never
// both move the same cursor. A lease lasts its TTL after it was taken,
// committed through or renewed; a runner renews it while it works, so one
// that dies frees its stream within the TTL, and once another runner took
// the stream over, the old holder's commits and renewals fail with
// ErrLeaseLost.
//
// A record's dedup set holds digests of the delivered keys (KeyDigest),
// never the keys: whatever bytes a vendor's key holds, it is stored the
// same way, so event content can never make a commit fail. Times are kept
// to the second, rounded up. The encoding both stores use is SeenEncoder.
//
// The statetest package is the contract both stores pass.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrLocked means another runner holds the stream; the caller skips it.
	ErrLocked = errors.New("state: stream is locked by another runner")
	// ErrConflict means the record changed since this runner read it.
	ErrConflict = errors.New("state: record version changed since it was read")
	// ErrLeaseLost means the lease expired or was released; the runner must stop.
	ErrLeaseLost = errors.New("state: lease is no longer held")
	// ErrCorrupt means the stored state cannot be decoded. It is never
	// silently reset: starting over could skip events or re-read a backlog.
	ErrCorrupt = errors.New("state: stored state is corrupt")
)

// Key identifies one stream of one tenant of one vendor.
type Key struct {
	Tenant string
	Vendor string
	Stream string
}

// String returns "tenant/vendor/stream", the form used in logs and stores.
func (k Key) String() string { return k.Tenant + "/" + k.Vendor + "/" + k.Stream }

// Validate rejects keys that could not be stored safely as file names or
// DynamoDB partition keys.
func (k Key) Validate() error {
	for _, part := range []struct{ name, v string }{{"tenant", k.Tenant}, {"vendor", k.Vendor}, {"stream", k.Stream}} {
		if err := ValidateName(part.v); err != nil {
			return fmt.Errorf("state key %s: %w", part.name, err)
		}
	}
	return nil
}

// ValidateName checks one key component: 1–64 characters of letters,
// digits, '-' and '_' (the seed wodles' tenant-name rule).
func ValidateName(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("%q must be 1 to 64 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%q may only contain letters, digits, '-' and '_'", s)
		}
	}
	return nil
}

// Seen is one dedup key already delivered at the cursor's boundary, kept
// as the digest of the key's bytes (see KeyDigest). At is the time the
// source associates with the key (normally the event time); the source
// decides from it when the key can be forgotten. Stores keep At to the
// second, rounded up (SeenSeconds), so a key is never forgotten early.
type Seen struct {
	Digest Digest
	At     time.Time
}

// Record is the durable state of one stream.
type Record struct {
	// Version counts commits; 0 means the stream was never committed.
	Version int64 `json:"version"`
	// Cursor is the vendor's position, opaque to the store.
	Cursor json.RawMessage `json:"cursor,omitempty"`
	// Seen holds the dedup keys delivered at the boundary, oldest first.
	Seen []Seen `json:"-"`
	// UpdatedAt is when the record was committed.
	UpdatedAt time.Time `json:"updated_at"`
	// Pending, when set, is a position delivered to a reader that may
	// still lose it (see Pending). A commit stores it with the record and
	// a commit without one clears it.
	Pending *Pending `json:"-"`
}

// Pending is a second, provisional position of a stream: lines up to it
// were taken by a reader that may still lose them. wazuh-modulesd reads a
// wodle's whole output before it forwards it, line by line and paced, to
// analysisd, and drops what it has not forwarded when it stops; the host
// runner therefore keeps the position its reader took as pending, and a
// later run promotes it to Record.Cursor when it can tell that the reader
// forwarded everything, or discards it and starts again from the cursor.
// Stores that keep it pass statetest with Options.KeepsPending (the file
// store; the Lambda's DynamoDB store has no use for it, its syslog sink
// confirms delivery itself).
type Pending struct {
	// Cursor and Seen are what Record.Cursor and Record.Seen become when
	// the position is promoted.
	Cursor json.RawMessage
	Seen   []Seen
	// Reader identifies the reader that took the lines; opaque to stores.
	Reader string
	// RunID names the run that delivered them, for diagnostics.
	RunID string
}

// LockOptions describe a lease request.
type LockOptions struct {
	// Owner names the runner (for diagnostics and lease ownership checks).
	Owner string
	// TTL is how long the lease lasts after it was taken, committed
	// through or renewed: a runner that dies frees its stream at most TTL
	// after its last renewal. Stores whose locks die with the process may
	// ignore it.
	TTL time.Duration
	// Until, when set, is a time the lease never outlasts, however often
	// it is renewed: a runner killed at a hard deadline (a Lambda timeout)
	// then frees its stream right after that deadline.
	Until time.Time
}

// Store hands out leases on streams.
type Store interface {
	// Lock takes exclusive ownership of the stream or fails with ErrLocked.
	Lock(ctx context.Context, key Key, opts LockOptions) (Lease, error)
}

// Lease is exclusive ownership of one stream's record.
type Lease interface {
	// Key is the stream this lease owns.
	Key() Key
	// Load returns the stream's record (Version 0 if none was committed).
	Load(ctx context.Context) (Record, error)
	// Commit stores rec if the stored version still equals rec.Version and
	// the lease is still held, and returns the new version. It fails with
	// ErrConflict or ErrLeaseLost otherwise and then stores nothing. A
	// commit also renews the lease. What the record holds (keys, cursor
	// bytes) never makes a commit fail; only bounds do (MaxSeen).
	Commit(ctx context.Context, rec Record) (int64, error)
	// Renew extends the lease by its TTL from now (never past
	// LockOptions.Until) without changing the record. It fails with
	// ErrLeaseLost when another runner took the stream over or the lease
	// was released. Stores whose locks live as long as the process return
	// nil while the lease is held.
	Renew(ctx context.Context) error
	// Release gives the stream up. Commits after Release fail with ErrLeaseLost.
	Release(ctx context.Context) error
}

// MaxSeen bounds a record's dedup set. Keys are stored as fixed-size
// digests with their time to the second, at most MaxSeenEntryBytes each
// (about 17 bytes for keys delivered close together in time), so a full
// set takes at most MaxSeen*MaxSeenEntryBytes = 2.6 MB and typically
// 1.7 MB; stores split it into items of bounded size. When a source would
// remember more keys, the oldest are forgotten: duplicates become possible
// at the boundary, loss never.
//
// 100 000 keys cover the re-read overlap of a busy tenant (a 30-minute
// window of a Proofpoint tenant delivering 55 events a second).
const MaxSeen = 100_000
