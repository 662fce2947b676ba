package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// flakyStore fails one commit (counted over the store's life) and can
// make every commit take a while, honouring its context as a network
// store does.
type flakyStore struct {
	state.Store
	failAt int           // commit number that fails (0: none)
	delay  time.Duration // time each commit takes

	mu      sync.Mutex
	commits int
}

func (s *flakyStore) Lock(ctx context.Context, k state.Key, o state.LockOptions) (state.Lease, error) {
	l, err := s.Store.Lock(ctx, k, o)
	if err != nil {
		return nil, err
	}
	return &flakyLease{Lease: l, s: s}, nil
}

type flakyLease struct {
	state.Lease
	s *flakyStore
}

func (l *flakyLease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	l.s.mu.Lock()
	l.s.commits++
	n := l.s.commits
	l.s.mu.Unlock()
	if l.s.delay > 0 {
		t := time.NewTimer(l.s.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, fmt.Errorf("UpdateItem: %w", ctx.Err())
		}
	}
	if n == l.s.failAt {
		return 0, errors.New("UpdateItem: ProvisionedThroughputExceededException")
	}
	return l.Lease.Commit(ctx, rec)
}

// After a page was delivered but its cursor could not be saved, the stream
// stops at once (no further page is fetched, since it could not be
// committed either), the failure reaches the sink as an error event, the
// lease is released and the cursor stays at the last saved page. The next
// run repeats exactly the page whose commit failed, and nothing is lost.
func TestStateWriteErrorStopsTheStreamAndTheNextRunRepeatsOnlyThatPage(t *testing.T) {
	store := newStore(t)
	sink := &memSink{}
	src := &pagedSource{n: 50, size: 10}
	res := newRunner(t, sink, &flakyStore{Store: store, failAt: 2}, Budget{}).
		Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	r := res[0]
	if r.Success || r.Stop != StopError || fmt.Sprint(r.Errors) != "["+CodeStateWrite+"]" || !r.CursorAdvanced || !r.Backlog {
		t.Fatalf("result %+v; want a failed stream with one STATE_WRITE_ERROR after the first commit, and the rest reported as backlog", r)
	}
	// The second page is confirmed and committed once the third was
	// fetched; that third page must not be delivered (the lines below).
	if src.fetches != 3 {
		t.Errorf("%d pages fetched; the stream must stop at the page after the one whose commit failed (3)", src.fetches)
	}
	// The two delivered pages, then the error event, all confirmed.
	lines := sink.lines(t)
	if len(lines) != 21 {
		t.Fatalf("%d confirmed lines, want 20 events and 1 error event", len(lines))
	}
	last := lines[20]
	if last["event_type"] != "error" || last["error_code"] != CodeStateWrite || last["source"] != "audit" {
		t.Fatalf("last line %v, want the STATE_WRITE_ERROR event of stream audit", last)
	}
	if sink.pending.Len() != 0 {
		t.Errorf("%d bytes written but never confirmed", sink.pending.Len())
	}
	// stored takes the lease itself: it fails if the run kept it.
	rec, pos := stored(t, store, key("audit"))
	if pos != 10 || rec.Version != 1 {
		t.Fatalf("stored pos %d version %d; want the first page's commit (10, 1)", pos, rec.Version)
	}

	sink2 := &memSink{}
	src2 := &pagedSource{n: 50, size: 10}
	res2 := newRunner(t, sink2, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src2}})
	if r := res2[0]; !r.Success || r.Events != 40 || r.Stop != StopCaughtUp {
		t.Fatalf("second run %+v; want the 40 events from the last saved cursor", r)
	}
	seen := map[string]int{}
	for _, l := range append(lines[:20], sink2.lines(t)...) {
		seen[l["uuid"].(string)]++
	}
	for i := range 50 {
		id := fmt.Sprintf("E%06d", i)
		want := 1
		if i >= 10 && i < 20 {
			want = 2 // the page whose commit failed, and only it
		}
		if seen[id] != want {
			t.Errorf("%s delivered %d times, want %d", id, seen[id], want)
		}
	}
}

// A commit is not cut short at FinishTimeout while the run's context still
// has time: a slow store costs time, not a repeated page. Without a
// deadline on the context (or once it is cancelled) FinishTimeout bounds it.
func TestCommitMayUseTheTimeLeftInTheRun(t *testing.T) {
	const finish = 20 * time.Millisecond
	run := func(ctx context.Context) (Result, state.Store) {
		t.Helper()
		store := newStore(t)
		r, err := New(Config{
			Envelope: event.Envelope{Integration: "1password", Namespace: "op"}, RunID: "r",
			// Each commit takes five finish timeouts.
			Store: &flakyStore{Store: store, delay: 5 * finish}, Sink: &memSink{}, FinishTimeout: finish,
		})
		if err != nil {
			t.Fatal(err)
		}
		return r.Run(ctx, []Stream{{Key: key("audit"), Name: "audit", Source: &pagedSource{n: 20, size: 10}}})[0], store
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	res, store := run(ctx)
	if !res.Success || res.Events != 20 || len(res.Errors) != 0 {
		t.Fatalf("with an hour left: %+v; want both pages committed", res)
	}
	if rec, pos := stored(t, store, key("audit")); pos != 20 || rec.Version != 2 {
		t.Fatalf("stored pos %d version %d, want 20 and 2", pos, rec.Version)
	}

	res, _ = run(context.Background())
	if res.Success || fmt.Sprint(res.Errors) != "["+CodeStateWrite+"]" {
		t.Fatalf("without a deadline: %+v; want the commit cut at FinishTimeout (STATE_WRITE_ERROR)", res)
	}
}
