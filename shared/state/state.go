// Package state defines where stream cursors live between runs and how one
// runner at a time owns a stream.
//
// A stream is identified by tenant, vendor and stream name. A runner takes a
// Lease on the stream before it reads the record and commits every cursor
// through that lease; a commit is conditional on the lease still being held
// and on the record version the runner last saw, so two runners can never
// both move the same cursor.
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

// Seen is one dedup key already delivered at the cursor's boundary.
// At is the time the source associates with the key (normally the event
// time); the source decides from it when the key can be forgotten.
type Seen struct {
	Key string    `json:"k"`
	At  time.Time `json:"t"`
}

// Record is the durable state of one stream.
type Record struct {
	// Version counts commits; 0 means the stream was never committed.
	Version int64 `json:"version"`
	// Cursor is the vendor's position, opaque to the store.
	Cursor json.RawMessage `json:"cursor,omitempty"`
	// Seen holds the dedup keys delivered at the boundary, oldest first.
	Seen []Seen `json:"seen,omitempty"`
	// UpdatedAt is when the record was committed.
	UpdatedAt time.Time `json:"updated_at"`
}

// LockOptions describe a lease request.
type LockOptions struct {
	// Owner names the runner (for diagnostics and lease ownership checks).
	Owner string
	// TTL bounds how long a lease survives a runner that died without
	// releasing it. Stores whose locks die with the process may ignore it.
	TTL time.Duration
	// Until, when set, is a time the lease never outlasts, however often
	// commits renew it: a runner killed at a hard deadline (a Lambda
	// timeout) then frees its stream right after that deadline.
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
	// commit also renews the lease.
	Commit(ctx context.Context, rec Record) (int64, error)
	// Release gives the stream up. Commits after Release fail with ErrLeaseLost.
	Release(ctx context.Context) error
}

// Bounds on a record's dedup set. A DynamoDB item is at most 400 KB; this
// many keys of this length stay well under it beside the cursor. When a
// source would remember more keys, the oldest are forgotten: duplicates
// become possible at the boundary, loss never.
const (
	MaxSeen       = 2000
	MaxSeenKeyLen = 96
)
