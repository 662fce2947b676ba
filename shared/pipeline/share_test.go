package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// deliveredOnce checks that the sink got every event of the first n of
// each stream's source exactly once, and nothing else.
func deliveredOnce(t *testing.T, sink *memSink, want map[string]int) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range sink.lines(t) {
		uuid, _ := l["uuid"].(string)
		seen[l["wazuh_pull"].(map[string]any)["stream"].(string)+"/"+uuid]++
	}
	total := 0
	for stream, n := range want {
		for i := range n {
			k := fmt.Sprintf("%s/E%06d", stream, i)
			if seen[k] != 1 {
				t.Fatalf("%s delivered %d times, want once", k, seen[k])
			}
		}
		total += n
	}
	if len(seen) != total {
		t.Fatalf("%d distinct events delivered, want %d", len(seen), total)
	}
}

// What the streams that caught up early leave of the run's byte budget
// goes round again to the stream their share stopped, which goes on from
// the page it could not fit (not fetched twice) under the lease it kept,
// until the run's budget is spent; every event still arrives once, and
// the next run goes on from where the last turn committed.
func TestLeftoverBudgetGoesRoundAgain(t *testing.T) {
	sink, inner := &memSink{}, newStore(t)
	store := &countingStore{Store: inner}
	audit := &pagedSource{n: 300, size: 10}
	signin := &pagedSource{n: 15, size: 10}
	itemusage := &pagedSource{n: 5, size: 10}
	streams := []Stream{
		{Key: key("audit"), Name: "audit", Source: audit},
		{Key: key("signin"), Name: "signin", Source: signin},
		{Key: key("itemusage"), Name: "itemusage", Source: itemusage},
	}
	// A page of 10 events is 1750 bytes. audit's share, 13 333, takes 7
	// pages; signin and itemusage catch up with 3 500; audit's second
	// turn has the 24 250 left: 13 pages, and the page after stays for
	// the next run.
	const budget = 40000
	res := newRunner(t, sink, store, Budget{MaxBytes: budget}).Run(context.Background(), streams)
	if r := res[0]; !r.Success || r.Events != 200 || r.Pages != 20 || r.Stop != StopMaxBytes || !r.Backlog {
		t.Fatalf("audit: %+v, want 200 events in 20 pages, stopped by the run's budget with a backlog", r)
	}
	for _, r := range res[1:] {
		if !r.Success || r.Stop != StopCaughtUp || r.Backlog {
			t.Fatalf("%s: %+v, want caught up", r.Name, r)
		}
	}
	if audit.fetches != 21 {
		t.Fatalf("audit fetched %d pages for 20 delivered and one left for the next run: a page was fetched twice or skipped", audit.fetches)
	}
	if n := store.locks.Load(); n != 3 {
		t.Fatalf("%d leases taken for 3 streams: the waiting stream must keep its lease", n)
	}
	if got := sink.confirmed.Len(); got > budget {
		t.Fatalf("wrote %d bytes over a %d budget", got, budget)
	}
	deliveredOnce(t, sink, map[string]int{"audit": 200, "signin": 15, "itemusage": 5})
	if _, pos := stored(t, store, key("audit")); pos != 200 {
		t.Fatalf("audit committed %d, want 200", pos)
	}

	// The next run starts from the committed cursor, not from the page
	// the last turn held.
	next := &memSink{}
	audit2 := &pagedSource{n: 300, size: 10}
	res = newRunner(t, next, store, Budget{}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: audit2}})
	if r := res[0]; r.Events != 100 || r.Stop != StopCaughtUp {
		t.Fatalf("next run: %+v, want the 100 events left", r)
	}
	if first := next.lines(t)[0]["uuid"]; first != "E000200" {
		t.Fatalf("next run began at %v, want E000200", first)
	}
}

// The event budget is shared the same way.
func TestLeftoverEventsGoRoundAgain(t *testing.T) {
	sink := &memSink{}
	audit := &pagedSource{n: 300, size: 10}
	res := newRunner(t, sink, newStore(t), Budget{MaxEvents: 60}).Run(context.Background(), []Stream{
		{Key: key("audit"), Name: "audit", Source: audit},
		{Key: key("signin"), Name: "signin", Source: &pagedSource{n: 15, size: 10}},
		{Key: key("itemusage"), Name: "itemusage", Source: &pagedSource{n: 5, size: 10}},
	})
	// audit: 20 (its share), then the 20 the others left.
	if r := res[0]; r.Events != 40 || r.Stop != StopMaxEvents || !r.Backlog {
		t.Fatalf("audit: %+v, want 40 events", r)
	}
	// Both turns end with their share spent exactly, before fetching.
	if audit.fetches != 4 {
		t.Fatalf("audit fetched %d pages for 4 delivered", audit.fetches)
	}
	deliveredOnce(t, sink, map[string]int{"audit": 40, "signin": 15, "itemusage": 5})
}

// A stream whose held page cannot fit what is left of the run gets no
// other turn: nothing is fetched again, the lease is released.
func TestNoTurnForAPageThatCannotFit(t *testing.T) {
	sink, store := &memSink{}, newStore(t)
	audit := &pagedSource{n: 100, size: 10}
	signin := &pagedSource{n: 100, size: 10}
	res := newRunner(t, sink, store, Budget{MaxBytes: 3600}).Run(context.Background(), []Stream{
		{Key: key("audit"), Name: "audit", Source: audit},
		{Key: key("signin"), Name: "signin", Source: signin},
	})
	// audit: its first page (a turn's first page may use the run's
	// budget), then its share is spent; signin: one page, 100 bytes left.
	if res[0].Events != 10 || res[1].Events != 10 || audit.fetches != 2 || signin.fetches != 2 {
		t.Fatalf("results %+v / %+v, fetches %d / %d", res[0], res[1], audit.fetches, signin.fetches)
	}
	l, err := store.Lock(context.Background(), key("audit"), state.LockOptions{})
	if err != nil {
		t.Fatalf("audit's lease was not released: %v", err)
	}
	l.Release(context.Background())
}

// A panic in a stream's second turn is isolated like one in its first:
// an error event, the stream's lease released, what was confirmed before
// it committed.
func TestPanicInASecondTurn(t *testing.T) {
	sink, store := &memSink{}, newStore(t)
	// audit's share of 40 000 takes 11 pages and holds the 12th; signin
	// catches up; audit's second turn writes the 12th and 13th pages and
	// panics fetching the 14th.
	audit := &pagedSource{n: 300, size: 10, panicAt: 14}
	res := newRunner(t, sink, store, Budget{MaxBytes: 40000}).Run(context.Background(), []Stream{
		{Key: key("audit"), Name: "audit", Source: audit},
		{Key: key("signin"), Name: "signin", Source: &pagedSource{n: 15, size: 10}},
	})
	if r := res[0]; r.Success || r.Stop != StopError || len(r.Errors) != 1 || r.Errors[0] != CodeUnexpected {
		t.Fatalf("audit: %+v, want the panic's error", r)
	}
	if r := res[1]; !r.Success || r.Events != 15 {
		t.Fatalf("signin: %+v", r)
	}
	if _, pos := stored(t, store, key("audit")); pos != 120 {
		t.Fatalf("audit committed %d, want the 12 pages confirmed before the panic", pos)
	}
	l, err := store.Lock(context.Background(), key("audit"), state.LockOptions{})
	if err != nil {
		t.Fatalf("audit's lease was not released: %v", err)
	}
	l.Release(context.Background())
}

// slowSource is a pagedSource whose fetches take simulated time.
type slowSource struct {
	*pagedSource
	clock *simClock
	takes time.Duration
}

func (s *slowSource) Fetch(ctx context.Context) (*Page, error) {
	s.clock.t = s.clock.t.Add(s.takes)
	return s.pagedSource.Fetch(ctx)
}

// A stream waiting for another turn does not get it once the run's time
// is over: the page it holds is not written after the deadline.
func TestNoTurnAfterTheDeadline(t *testing.T) {
	clock := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sink, store := &memSink{}, newStore(t)
	r, err := New(Config{
		Envelope: event.Envelope{Integration: "1password", Namespace: "op"},
		RunID:    "run-1", Store: store, Sink: sink, Now: clock.now,
		Budget: Budget{MaxBytes: 40000, Deadline: clock.t.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	audit := &pagedSource{n: 300, size: 10}
	// signin's two pages take the rest of the run's hour; its share of
	// the time is the half left after audit's turn, so the fetches are
	// allowed to end past it: they are not cut, the clock just moves.
	signin := &slowSource{pagedSource: &pagedSource{n: 15, size: 10}, clock: clock, takes: 40 * time.Minute}
	res := r.Run(context.Background(), []Stream{
		{Key: key("audit"), Name: "audit", Source: audit},
		{Key: key("signin"), Name: "signin", Source: signin},
	})
	// audit's share of 40 000 bytes: 11 pages, the 12th held.
	if got := res[0]; got.Events != 110 || got.Stop != StopDeadline || !got.Backlog || audit.fetches != 12 {
		t.Fatalf("audit: %+v after %d fetches, want 110 events and a deadline stop without writing the held page", got, audit.fetches)
	}
	if _, pos := stored(t, store, key("audit")); pos != 110 {
		t.Fatalf("audit committed %d, want 110", pos)
	}
}
