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
	// (same file, same table) and the same clock, so two stores model two
	// runners.
	New func(t *testing.T) state.Store
	// LeasesExpire is true for stores whose leases end after LockOptions.TTL
	// even if the holder never releases them (DynamoDB). The file store's
	// locks end with the process instead.
	LeasesExpire bool
	// Now and Advance read and move the clock of the stores New returned
	// for t. Required when LeasesExpire: lease expiry is tested without
	// sleeping.
	Now     func(t *testing.T) time.Time
	Advance func(t *testing.T, d time.Duration)
	// KeepsPending is true for stores that keep Record.Pending (the file
	// store, behind a wodle's two-step commit).
	KeepsPending bool
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
	t.Run("SeenSetEvolves", func(t *testing.T) { seenEvolves(t, o) })
	t.Run("AnyKeyAndCursorBytesCommit", func(t *testing.T) { anyContent(t, o) })
	t.Run("SeenTimesRoundedUpToSeconds", func(t *testing.T) { seenTimes(t, o) })
	t.Run("TooManyKeysRefused", func(t *testing.T) { tooManyKeys(t, o) })
	t.Run("RenewWhileHeld", func(t *testing.T) { renewHeld(t, o) })
	t.Run("InvalidKeyRejected", func(t *testing.T) { invalidKey(t, o) })
	if o.KeepsPending {
		t.Run("PendingRoundTrip", func(t *testing.T) { pendingRoundTrip(t, o) })
		t.Run("CommitWithoutPendingClearsIt", func(t *testing.T) { pendingCleared(t, o) })
		t.Run("PendingDurableAcrossStores", func(t *testing.T) { pendingDurable(t, o) })
		t.Run("PendingStaleVersionConflicts", func(t *testing.T) { pendingStale(t, o) })
		t.Run("TooManyPendingKeysRefused", func(t *testing.T) { pendingTooMany(t, o) })
	}
	if o.LeasesExpire {
		if o.Advance == nil || o.Now == nil {
			t.Fatal("statetest: LeasesExpire needs Options.Now and Options.Advance")
		}
		t.Run("ExpiredLeaseIsTakenOver", func(t *testing.T) { expiry(t, o) })
		t.Run("RenewExtendsLease", func(t *testing.T) { renewExtends(t, o) })
		t.Run("CommitRenewsLease", func(t *testing.T) { commitRenews(t, o) })
		t.Run("RenewNeverPastUntil", func(t *testing.T) { renewUntil(t, o) })
		t.Run("ZombieCommitLeavesNewHoldersKeys", func(t *testing.T) { zombieKeys(t, o) })
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
	rec.Seen = seenKeys("7QZ3KXWPMBDR5HCN2LTF6Y", 0, n, base, time.Millisecond)
	return rec
}

// seenKeys returns n entries for keys prefix+i, i from first, at times
// base + i*step.
func seenKeys(prefix string, first, n int, base time.Time, step time.Duration) []state.Seen {
	out := make([]state.Seen, 0, n)
	for i := first; i < first+n; i++ {
		out = append(out, state.Seen{Digest: state.KeyDigest(fmt.Sprintf("%s%06d", prefix, i)), At: base.Add(time.Duration(i) * step)})
	}
	return out
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
	assertSeen(t, got.Seen, want.Seen)
}

// assertSeen checks that stored entries came back in order, each time
// rounded up to the second.
func assertSeen(t *testing.T, got, want []state.Seen) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Seen has %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		at := state.SeenTime(state.SeenSeconds(want[i].At))
		if got[i].Digest != want[i].Digest || !got[i].At.Equal(at) {
			t.Fatalf("Seen[%d] = %x at %s, want %x at %s", i, got[i].Digest, got[i].At, want[i].Digest, at)
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

// largeSeen stores the pipeline's largest dedup set (state.MaxSeen keys),
// then slides it as a busy stream does.
func largeSeen(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	rec := sampleRecord(0, 0)
	rec.Seen = seenKeys("big-", 0, state.MaxSeen, base, 20*time.Millisecond)
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatalf("Commit of %d seen keys: %v", state.MaxSeen, err)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, rec, 1)
	rec.Version = 1
	rec.Seen = append(rec.Seen[1000:len(rec.Seen):len(rec.Seen)], seenKeys("big-", state.MaxSeen, 1000, base, 20*time.Millisecond)...)
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatalf("Commit of a slid set: %v", err)
	}
	l.Release(ctx(t))
	lb := mustLock(t, o.New(t), key("audit"), "b")
	defer lb.Release(ctx(t))
	got, err = lb.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, rec, 2)
}

// seenEvolves commits a dedup set that changes the ways a pipeline changes
// it (keys age out at the front, new keys arrive at the back, a late key
// lands in the middle, everything is replaced or forgotten) and checks
// after every commit that the same lease and a fresh runner read exactly
// what was committed.
func seenEvolves(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * 100 * time.Millisecond) }
	entry := func(i int) state.Seen { return state.Seen{Digest: state.KeyDigest(fmt.Sprint("ev-", i)), At: at(i)} }
	span := func(from, to int) []state.Seen {
		var out []state.Seen
		for i := from; i < to; i++ {
			out = append(out, entry(i))
		}
		return out
	}
	// A pseudo-random walk with a fixed seed, after some fixed steps.
	steps := []func(cur []state.Seen, next int) ([]state.Seen, int){
		func(cur []state.Seen, next int) ([]state.Seen, int) { return span(0, 20), 20 }, // small: inline
		func(cur []state.Seen, next int) ([]state.Seen, int) {
			return append(cur, span(next, next+5)...), next + 5
		}, // a few more
		func(cur []state.Seen, next int) ([]state.Seen, int) {
			return append(cur[3:], span(next, next+3000)...), next + 3000
		},
		func(cur []state.Seen, next int) ([]state.Seen, int) {
			return append(cur[100:], span(next, next+3)...), next + 3
		},
		func(cur []state.Seen, next int) ([]state.Seen, int) { // a late key in the middle
			mid := len(cur) / 2
			late := state.Seen{Digest: state.KeyDigest("late"), At: cur[mid].At}
			out := append(append(append([]state.Seen{}, cur[:mid]...), late), cur[mid:]...)
			return out, next
		},
		func(cur []state.Seen, next int) ([]state.Seen, int) { return cur, next },                        // unchanged
		func(cur []state.Seen, next int) ([]state.Seen, int) { return span(next, next+700), next + 700 }, // all new
		func(cur []state.Seen, next int) ([]state.Seen, int) { return nil, next },                        // all forgotten
		func(cur []state.Seen, next int) ([]state.Seen, int) { return span(next, next+40), next + 40 },
	}
	rng := uint64(0x9E3779B97F4A7C15)
	rand := func(n int) int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	for i := 0; i < 30; i++ {
		steps = append(steps, func(cur []state.Seen, next int) ([]state.Seen, int) {
			drop := 0
			if len(cur) > 0 {
				drop = rand(len(cur)/3 + 1)
			}
			add := []int{0, 1, 3, 30, 200, 1500}[rand(6)]
			return append(cur[drop:len(cur):len(cur)], span(next, next+add)...), next + add
		})
	}
	var cur []state.Seen
	next := 0
	var version int64
	for i, step := range steps {
		cur, next = step(cur, next)
		rec := state.Record{Version: version, Cursor: json.RawMessage(fmt.Sprintf(`{"step":%d}`, i)), Seen: cur}
		v, err := l.Commit(ctx(t), rec)
		if err != nil {
			t.Fatalf("step %d: Commit of %d keys: %v", i, len(cur), err)
		}
		version = v
		got, err := l.Load(ctx(t))
		if err != nil {
			t.Fatalf("step %d: Load: %v", i, err)
		}
		assertSame(t, got, rec, version)
		if i%5 == 4 || i == len(steps)-1 {
			// A fresh runner sees the same.
			l.Release(ctx(t))
			l = mustLock(t, o.New(t), key("audit"), fmt.Sprint("r", i))
			if got, err = l.Load(ctx(t)); err != nil {
				t.Fatalf("step %d: Load by a new runner: %v", i, err)
			}
			assertSame(t, got, rec, version)
		}
	}
	l.Release(ctx(t))
}

// anyContent: the content of keys and cursor strings never makes a commit
// fail. Keys are digests whatever their bytes; a cursor is kept byte for
// byte, even with a string that is not valid UTF-8.
func anyContent(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	huge := make([]byte, 1<<20)
	for i := range huge {
		huge[i] = byte(i)
	}
	keys := []string{"\xff\xfe\xfd not UTF-8", string(huge), "nul\x00inside\x00", "", "\"quoted\" \\ \u2028", "\xed\xa0\x80"}
	rec := state.Record{Cursor: json.RawMessage("{\"cursor\":\"\xff\xfe\",\"n\":1}")}
	for i, k := range keys {
		rec.Seen = append(rec.Seen, state.Seen{Digest: state.KeyDigest(k), At: at.Add(time.Duration(i) * time.Second)})
	}
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatalf("Commit with unusual keys and cursor bytes: %v", err)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSeen(t, got.Seen, rec.Seen)
	if string(got.Cursor) != string(rec.Cursor) {
		t.Fatalf("cursor came back as %q, want %q byte for byte", got.Cursor, rec.Cursor)
	}
}

// seenTimes: times are kept to the second and rounded up, whatever their
// range.
func seenTimes(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	times := []time.Time{
		time.Date(2026, 3, 2, 8, 0, 0, 1, time.UTC),
		time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		{},
		time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 3, 2, 8, 0, 0, 0, time.FixedZone("x", 3600)),
	}
	var rec state.Record
	for i, at := range times {
		rec.Seen = append(rec.Seen, state.Seen{Digest: state.KeyDigest(fmt.Sprint(i)), At: at})
	}
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSeen(t, got.Seen, rec.Seen)
	if !got.Seen[2].At.IsZero() {
		t.Fatalf("the zero time came back as %s", got.Seen[2].At)
	}
	if want := times[0].Truncate(time.Second).Add(time.Second); !got.Seen[0].At.Equal(want) {
		t.Fatalf("%s came back as %s, want it rounded up to %s", times[0], got.Seen[0].At, want)
	}
}

func tooManyKeys(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	rec := state.Record{Seen: seenKeys("k", 0, state.MaxSeen+1, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), time.Millisecond)}
	if _, err := l.Commit(ctx(t), rec); !errors.Is(err, state.ErrSeenTooLarge) {
		t.Fatalf("Commit of %d keys: err = %v, want ErrSeenTooLarge", len(rec.Seen), err)
	}
	got, err := l.Load(ctx(t))
	if err != nil || got.Version != 0 {
		t.Fatalf("a refused commit stored something: %+v, %v", got.Version, err)
	}
}

func renewHeld(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	if err := l.Renew(ctx(t)); err != nil {
		t.Fatalf("Renew of a held lease: %v", err)
	}
	if _, err := l.Commit(ctx(t), sampleRecord(0, 2)); err != nil {
		t.Fatalf("Commit after Renew: %v", err)
	}
	l.Release(ctx(t))
	if err := l.Renew(ctx(t)); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("Renew after Release: err = %v, want ErrLeaseLost", err)
	}
	lb := mustLock(t, o.New(t), key("audit"), "b")
	defer lb.Release(ctx(t))
	if got, _ := lb.Load(ctx(t)); got.Version != 1 {
		t.Fatalf("Renew changed the record: version %d", got.Version)
	}
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

// expiry: a lease that expired and was taken over is lost for good: its
// holder's commits, renewals and loads fail with ErrLeaseLost and change
// nothing.
func expiry(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la, err := a.Lock(ctx(t), key("audit"), lockOpts("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := la.Commit(ctx(t), sampleRecord(0, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx(t), key("audit"), lockOpts("b")); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("Lock before expiry: err = %v, want ErrLocked", err)
	}
	o.Advance(t, time.Minute+time.Second)
	lb := mustLock(t, b, key("audit"), "b")
	defer lb.Release(ctx(t))
	if _, err := la.Commit(ctx(t), sampleRecord(1, 5)); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("Commit on an expired, taken-over lease: err = %v, want ErrLeaseLost", err)
	}
	if err := la.Renew(ctx(t)); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("Renew of an expired, taken-over lease: err = %v, want ErrLeaseLost", err)
	}
	if _, err := la.Load(ctx(t)); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("Load on an expired, taken-over lease: err = %v, want ErrLeaseLost", err)
	}
	got, err := lb.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, sampleRecord(0, 3), 1)
	if _, err := lb.Commit(ctx(t), got); err != nil {
		t.Fatalf("new holder Commit: %v", err)
	}
}

// renewExtends: a renewed lease runs for its TTL from the renewal.
func renewExtends(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la := mustLock(t, a, key("audit"), "a")
	defer la.Release(ctx(t))
	o.Advance(t, 50*time.Second)
	if err := la.Renew(ctx(t)); err != nil {
		t.Fatal(err)
	}
	o.Advance(t, 50*time.Second) // 100 s after Lock, 50 s after Renew
	if _, err := b.Lock(ctx(t), key("audit"), lockOpts("b")); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("Lock within the renewed TTL: err = %v, want ErrLocked", err)
	}
	o.Advance(t, 11*time.Second)
	lb := mustLock(t, b, key("audit"), "b")
	lb.Release(ctx(t))
}

func commitRenews(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la := mustLock(t, a, key("audit"), "a")
	defer la.Release(ctx(t))
	o.Advance(t, 50*time.Second)
	if _, err := la.Commit(ctx(t), sampleRecord(0, 1)); err != nil {
		t.Fatal(err)
	}
	o.Advance(t, 50*time.Second)
	if _, err := b.Lock(ctx(t), key("audit"), lockOpts("b")); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("Lock within the TTL renewed by a commit: err = %v, want ErrLocked", err)
	}
}

// renewUntil: however often it is renewed, a lease ends at Until.
func renewUntil(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	la, err := a.Lock(ctx(t), key("audit"), state.LockOptions{Owner: "a", TTL: time.Minute, Until: o.Now(t).Add(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer la.Release(ctx(t))
	o.Advance(t, 50*time.Second)
	if err := la.Renew(ctx(t)); err != nil {
		t.Fatal(err)
	}
	o.Advance(t, 45*time.Second) // 95 s: past Until, within the renewed TTL
	lb, err := b.Lock(ctx(t), key("audit"), lockOpts("b"))
	if err != nil {
		t.Fatalf("the lease was renewed past its Until: %v", err)
	}
	lb.Release(ctx(t))
}

// zombieKeys: a runner that lost its lease commits a large dedup set; the
// new holder's record, dedup keys included, is untouched.
func zombieKeys(t *testing.T, o Options) {
	a, b := o.New(t), o.New(t)
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	la := mustLock(t, a, key("audit"), "a")
	recA := state.Record{Cursor: json.RawMessage(`{"a":1}`), Seen: seenKeys("a-", 0, 5000, base, time.Second)}
	v, err := la.Commit(ctx(t), recA)
	if err != nil {
		t.Fatal(err)
	}
	recA.Version = v
	o.Advance(t, 2*time.Minute)
	lb := mustLock(t, b, key("audit"), "b")
	defer lb.Release(ctx(t))
	recB, err := lb.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	recB.Cursor = json.RawMessage(`{"b":1}`)
	recB.Seen = append(recB.Seen[2000:], seenKeys("b-", 0, 3000, base.Add(time.Hour), time.Second)...)
	if v, err = lb.Commit(ctx(t), recB); err != nil {
		t.Fatal(err)
	}
	recA.Seen = append(recA.Seen[1000:], seenKeys("z-", 0, 4000, base.Add(2*time.Hour), time.Second)...)
	recA.Cursor = json.RawMessage(`{"zombie":1}`)
	if _, err := la.Commit(ctx(t), recA); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("zombie Commit: err = %v, want ErrLeaseLost", err)
	}
	lb.Release(ctx(t))
	lc := mustLock(t, o.New(t), key("audit"), "c")
	defer lc.Release(ctx(t))
	got, err := lc.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, recB, v)
}

// samplePending is a record whose cursor and keys stay where they were,
// with a pending position ahead of them.
func samplePending(version int64) state.Record {
	rec := sampleRecord(version, 3)
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	rec.Pending = &state.Pending{
		Cursor: json.RawMessage("{\"cursor\":\"ahead\xff\",\"last_ts\":\"2026-03-02T09:00:00Z\"}"),
		Seen:   seenKeys("P", 0, 4, base, 700*time.Millisecond),
		Reader: "wazuh-modulesd pid=812 start=99 \"quoted\" Zoë \u2028",
		RunID:  "20260302T090000Z-0badf00d",
	}
	return rec
}

func assertPending(t *testing.T, got, want *state.Pending) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("Pending = %+v, want none", got)
		}
		return
	}
	if got == nil {
		t.Fatalf("Pending is missing, want %+v", want)
	}
	if string(got.Cursor) != string(want.Cursor) {
		t.Fatalf("pending cursor came back as %q, want %q byte for byte", got.Cursor, want.Cursor)
	}
	if got.Reader != want.Reader || got.RunID != want.RunID {
		t.Fatalf("pending reader %q run %q, want %q and %q", got.Reader, got.RunID, want.Reader, want.RunID)
	}
	assertSeen(t, got.Seen, want.Seen)
}

// pendingRoundTrip: a pending position is stored beside the cursor, which
// it leaves as it was.
func pendingRoundTrip(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	want := samplePending(0)
	if _, err := l.Commit(ctx(t), want); err != nil {
		t.Fatalf("Commit with a pending position: %v", err)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, want, 1)
	assertPending(t, got.Pending, want.Pending)
	// An empty pending position (nothing but who read it) is kept too.
	empty := state.Record{Version: 1, Pending: &state.Pending{Reader: "r"}}
	if _, err := l.Commit(ctx(t), empty); err != nil {
		t.Fatal(err)
	}
	got, _ = l.Load(ctx(t))
	assertPending(t, got.Pending, empty.Pending)
	if len(got.Cursor) != 0 {
		t.Fatalf("cursor %s, want none", got.Cursor)
	}
}

// pendingCleared: promoting (the pending position becomes the cursor) and
// discarding are both commits without a pending position.
func pendingCleared(t *testing.T, o Options) {
	s := o.New(t)
	l := mustLock(t, s, key("audit"), "a")
	defer l.Release(ctx(t))
	rec := samplePending(0)
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	promoted := state.Record{Version: 1, Cursor: rec.Pending.Cursor, Seen: rec.Pending.Seen}
	if _, err := l.Commit(ctx(t), promoted); err != nil {
		t.Fatal(err)
	}
	got, _ := l.Load(ctx(t))
	assertSame(t, got, promoted, 2)
	assertPending(t, got.Pending, nil)
}

func pendingDurable(t *testing.T, o Options) {
	la := mustLock(t, o.New(t), key("signin"), "a")
	want := samplePending(0)
	if _, err := la.Commit(ctx(t), want); err != nil {
		t.Fatal(err)
	}
	la.Release(ctx(t))
	lb := mustLock(t, o.New(t), key("signin"), "b")
	defer lb.Release(ctx(t))
	got, err := lb.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, got, want, 1)
	assertPending(t, got.Pending, want.Pending)
}

func pendingStale(t *testing.T, o Options) {
	l := mustLock(t, o.New(t), key("audit"), "a")
	defer l.Release(ctx(t))
	if _, err := l.Commit(ctx(t), samplePending(0)); err != nil {
		t.Fatal(err)
	}
	stale := samplePending(0)
	stale.Pending.Reader = "another"
	if _, err := l.Commit(ctx(t), stale); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("pending commit at a stale version: err = %v, want ErrConflict", err)
	}
	got, _ := l.Load(ctx(t))
	assertPending(t, got.Pending, samplePending(0).Pending)
}

func pendingTooMany(t *testing.T, o Options) {
	l := mustLock(t, o.New(t), key("audit"), "a")
	defer l.Release(ctx(t))
	rec := state.Record{Pending: &state.Pending{Seen: seenKeys("k", 0, state.MaxSeen+1, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), time.Millisecond)}}
	if _, err := l.Commit(ctx(t), rec); !errors.Is(err, state.ErrSeenTooLarge) {
		t.Fatalf("Commit of %d pending keys: err = %v, want ErrSeenTooLarge", len(rec.Pending.Seen), err)
	}
	if got, err := l.Load(ctx(t)); err != nil || got.Version != 0 {
		t.Fatalf("a refused commit stored something: %+v, %v", got.Version, err)
	}
}
