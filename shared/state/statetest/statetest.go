// Package statetest is the contract every state.Store must pass. The file
// store and the DynamoDB store run the same suite, so the pipeline can rely
// on one behaviour whichever store is in use.
package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Options describe what the store under test can do.
type Options struct {
	// New returns a store. Calls with the same t share the backing storage
	// (same file, same table), so two stores model two runners.
	New func(t *testing.T) state.Store
	// LeasesExpire is true for stores whose leases end after LockOptions.TTL
	// even if the holder never releases them (DynamoDB). The file store's
	// locks end with the process instead.
	LeasesExpire bool
}

func key(stream string) state.Key {
	return state.Key{Tenant: "acme", Vendor: "1password", Stream: stream}
}

func lockOpts(owner string) state.LockOptions {
	return state.LockOptions{Owner: owner, TTL: time.Minute}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Run runs the whole contract.
func Run(t *testing.T, o Options) {
	t.Run("EmptyStreamLoadsVersionZero", func(t *testing.T) { emptyStream(t, o) })
	t.Run("CommitRoundTrip", func(t *testing.T) { roundTrip(t, o) })
	t.Run("StaleVersionConflicts", func(t *testing.T) { staleVersion(t, o) })
	t.Run("SecondLockRefused", func(t *testing.T) { secondLock(t, o) })
	t.Run("ReleaseEndsLease", func(t *testing.T) { releaseEnds(t, o) })
	t.Run("KeysAreIsolated", func(t *testing.T) { isolation(t, o) })
	t.Run("DurableAcrossStores", func(t *testing.T) { durable(t, o) })
	t.Run("InterleavedRunnersNeverBothCommit", func(t *testing.T) { interleaved(t, o) })
	t.Run("ConcurrentRunnersExclusive", func(t *testing.T) { concurrent(t, o) })
	t.Run("LargeSeenSet", func(t *testing.T) { largeSeen(t, o) })
	t.Run("InvalidKeyRejected", func(t *testing.T) { invalidKey(t, o) })
	if o.LeasesExpire {
		t.Run("ExpiredLeaseIsTakenOver", func(t *testing.T) { expiry(t, o) })
	}
}

func mustLock(t *testing.T, s state.Store, k state.Key, owner string) state.Lease {
	t.Helper()
	l, err := s.Lock(ctx(t), k, lockOpts(owner))
	if err != nil {
		t.Fatalf("Lock(%s) by %s: %v", k, owner, err)
	}
	return l
}

func emptyStream(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	rec, err := l.Load(ctx(t))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if rec.Version != 0 || len(rec.Cursor) != 0 || len(rec.Seen) != 0 {
		t.Fatalf("empty stream: got %+v, want zero record", rec)
	}
	if l.Key() != key("audit") {
		t.Fatalf("Key() = %v", l.Key())
	}
}

func sampleRecord(version int64, n int) state.Record {
	base := time.Date(2026, 3, 2, 8, 15, 41, 118273645, time.UTC)
	rec := state.Record{
		Version: version,
		Cursor:  json.RawMessage(`{"cursor":"aGVsbG8tY3Vyc29y","last_ts":"2026-03-02T08:15:41.118273645Z","note":"Zoë 李雷"}`),
	}
	for i := 0; i < n; i++ {
		rec.Seen = append(rec.Seen, state.Seen{Key: fmt.Sprintf("7QZ3KXWPMBDR5HCN2LTF6Y%04d", i), At: base.Add(time.Duration(i) * time.Millisecond)})
	}
	return rec
}

func roundTrip(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	want := sampleRecord(0, 3)
	v, err := l.Commit(ctx(t), want)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if v != 1 {
		t.Fatalf("first commit version = %d, want 1", v)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	assertSame(t, got, want, 1)
	if got.UpdatedAt.IsZero() {
		t.Fatalf("UpdatedAt not set")
	}
	// A second commit from the returned version succeeds and counts up.
	want2 := sampleRecord(1, 1)
	want2.Cursor = json.RawMessage(`{"cursor":"second"}`)
	if v, err = l.Commit(ctx(t), want2); err != nil || v != 2 {
		t.Fatalf("second Commit = %d, %v; want 2, nil", v, err)
	}
	got, _ = l.Load(ctx(t))
	assertSame(t, got, want2, 2)
}

func assertSame(t *testing.T, got, want state.Record, version int64) {
	t.Helper()
	if got.Version != version {
		t.Fatalf("Version = %d, want %d", got.Version, version)
	}
	if !jsonEqual(got.Cursor, want.Cursor) {
		t.Fatalf("Cursor = %s, want %s", got.Cursor, want.Cursor)
	}
	if len(got.Seen) != len(want.Seen) {
		t.Fatalf("Seen has %d keys, want %d", len(got.Seen), len(want.Seen))
	}
	for i := range want.Seen {
		if got.Seen[i].Key != want.Seen[i].Key || !got.Seen[i].At.Equal(want.Seen[i].At) {
			t.Fatalf("Seen[%d] = %+v, want %+v", i, got.Seen[i], want.Seen[i])
		}
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func staleVersion(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	if _, err := l.Commit(ctx(t), sampleRecord(0, 1)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	_, err := l.Commit(ctx(t), sampleRecord(0, 1))
	if !errors.Is(err, state.ErrConflict) {
		t.Fatalf("Commit with stale version: err = %v, want ErrConflict", err)
	}
	_, err = l.Commit(ctx(t), sampleRecord(7, 1))
	if !errors.Is(err, state.ErrConflict) {
		t.Fatalf("Commit with future version: err = %v, want ErrConflict", err)
	}
	got, _ := l.Load(ctx(t))
	if got.Version != 1 {
		t.Fatalf("a refused commit changed the record: version %d", got.Version)
	}
}

func secondLock(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la := mustLock(t, a, key("audit"), "a")
	defer la.Release(ctx(t))
	if _, err := b.Lock(ctx(t), key("audit"), lockOpts("b")); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("second Lock: err = %v, want ErrLocked", err)
	}
	// Another stream of the same tenant is independent.
	lb := mustLock(t, b, key("signin"), "b")
	lb.Release(ctx(t))
}

func releaseEnds(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la := mustLock(t, a, key("audit"), "a")
	if err := la.Release(ctx(t)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := la.Commit(ctx(t), sampleRecord(0, 0)); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("Commit after Release: err = %v, want ErrLeaseLost", err)
	}
	lb := mustLock(t, b, key("audit"), "b")
	defer lb.Release(ctx(t))
	if _, err := lb.Commit(ctx(t), sampleRecord(0, 0)); err != nil {
		t.Fatalf("Commit by new holder: %v", err)
	}
}

func isolation(t *testing.T, o Options) {
	s := o.New(t)
	k1 := state.Key{Tenant: "client-a", Vendor: "1password", Stream: "audit"}
	k2 := state.Key{Tenant: "client-b", Vendor: "1password", Stream: "audit"}
	k3 := state.Key{Tenant: "client-a", Vendor: "proofpoint", Stream: "audit"}
	l1 := mustLock(t, s, k1, "a")
	l2 := mustLock(t, s, k2, "a")
	l3 := mustLock(t, s, k3, "a")
	defer l1.Release(ctx(t))
	defer l2.Release(ctx(t))
	defer l3.Release(ctx(t))
	r := sampleRecord(0, 0)
	r.Cursor = json.RawMessage(`{"cursor":"a"}`)
	if _, err := l1.Commit(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	for _, l := range []state.Lease{l2, l3} {
		got, err := l.Load(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 0 {
			t.Fatalf("%s sees %s's record", l.Key(), k1)
		}
	}
}

func durable(t *testing.T, o Options) {
	a := o.New(t)
	la := mustLock(t, a, key("itemusage"), "a")
	want := sampleRecord(0, 5)
	if _, err := la.Commit(ctx(t), want); err != nil {
		t.Fatal(err)
	}
	la.Release(ctx(t))
	b := o.New(t)
	lb := mustLock(t, b, key("itemusage"), "b")
	defer lb.Release(ctx(t))
	got, err := lb.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, want, 1)
}

// interleaved proves exclusivity with a fixed order of operations: a runner
// whose lease was lost cannot commit over the new holder's cursor.
func interleaved(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la := mustLock(t, a, key("audit"), "a")
	if _, err := la.Commit(ctx(t), sampleRecord(0, 0)); err != nil {
		t.Fatal(err)
	}
	recA, _ := la.Load(ctx(t))
	la.Release(ctx(t))
	lb := mustLock(t, b, key("audit"), "b")
	defer lb.Release(ctx(t))
	recB, _ := lb.Load(ctx(t))
	if _, err := lb.Commit(ctx(t), recB); err != nil {
		t.Fatalf("B commit: %v", err)
	}
	if _, err := la.Commit(ctx(t), recA); err == nil {
		t.Fatalf("A committed after losing its lease")
	}
	got, _ := lb.Load(ctx(t))
	if got.Version != 2 {
		t.Fatalf("version = %d, want 2 (A's late commit must not land)", got.Version)
	}
}

// concurrent races several runners for one stream; each winner advances a
// counter in the cursor. Every successful commit must be seen exactly once.
func concurrent(t *testing.T, o Options) {
	const runners, rounds = 4, 5
	var committed atomic.Int64
	var wg sync.WaitGroup
	stores := make([]state.Store, runners)
	for i := range stores {
		stores[i] = o.New(t)
	}
	for i := 0; i < runners; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				l, err := stores[i].Lock(ctx(t), key("audit"), lockOpts(fmt.Sprint("runner", i)))
				if errors.Is(err, state.ErrLocked) {
					time.Sleep(time.Duration(i+1) * time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				rec, err := l.Load(ctx(t))
				if err != nil {
					t.Errorf("Load: %v", err)
					l.Release(ctx(t))
					return
				}
				var c struct{ N int64 }
				if len(rec.Cursor) > 0 {
					json.Unmarshal(rec.Cursor, &c)
				}
				if c.N != rec.Version {
					t.Errorf("counter %d != version %d: a commit was lost or doubled", c.N, rec.Version)
				}
				c.N++
				rec.Cursor, _ = json.Marshal(c)
				if _, err := l.Commit(ctx(t), rec); err != nil {
					t.Errorf("Commit while holding the lease: %v", err)
				} else {
					committed.Add(1)
				}
				l.Release(ctx(t))
			}
		}(i)
	}
	wg.Wait()
	l := mustLock(t, o.New(t), key("audit"), "check")
	defer l.Release(ctx(t))
	rec, _ := l.Load(ctx(t))
	if rec.Version != committed.Load() || committed.Load() == 0 {
		t.Fatalf("version %d after %d successful commits", rec.Version, committed.Load())
	}
}

// largeSeen stores the pipeline's largest dedup set (state.MaxSeen keys of
// state.MaxSeenKeyLen bytes).
func largeSeen(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	rec := sampleRecord(0, 0)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	pad := make([]byte, state.MaxSeenKeyLen-8)
	for i := range pad {
		pad[i] = 'k'
	}
	for i := 0; i < state.MaxSeen; i++ {
		rec.Seen = append(rec.Seen, state.Seen{Key: fmt.Sprintf("%s%08d", pad, i), At: base.Add(time.Duration(i) * time.Second)})
	}
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatalf("Commit of %d seen keys: %v", state.MaxSeen, err)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, rec, 1)
}

func invalidKey(t *testing.T, o Options) {
	s := o.New(t)
	for _, k := range []state.Key{
		{Tenant: "", Vendor: "1password", Stream: "audit"},
		{Tenant: "a/b", Vendor: "1password", Stream: "audit"},
		{Tenant: "../etc", Vendor: "1password", Stream: "audit"},
	} {
		if l, err := s.Lock(ctx(t), k, lockOpts("a")); err == nil {
			l.Release(ctx(t))
			t.Fatalf("Lock(%q) accepted an invalid key", k.String())
		}
	}
}

func expiry(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la, err := a.Lock(ctx(t), key("audit"), state.LockOptions{Owner: "a", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx(t), key("audit"), lockOpts("b")); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("Lock before expiry: err = %v, want ErrLocked", err)
	}
	time.Sleep(1500 * time.Millisecond)
	lb := mustLock(t, b, key("audit"), "b")
	defer lb.Release(ctx(t))
	if _, err := la.Commit(ctx(t), sampleRecord(0, 0)); !errors.Is(err, state.ErrLeaseLost) && !errors.Is(err, state.ErrConflict) {
		t.Fatalf("Commit on an expired, taken-over lease: err = %v, want ErrLeaseLost", err)
	}
	if _, err := lb.Commit(ctx(t), sampleRecord(0, 0)); err != nil {
		t.Fatalf("new holder Commit: %v", err)
	}
}
