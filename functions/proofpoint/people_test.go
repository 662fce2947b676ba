package proofpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// peopleLines counts snapshot events by type/guid/interval and returns
// the error codes.
func peopleLines(t *testing.T, lines []line) (map[string]int, []string) {
	t.Helper()
	got := map[string]int{}
	var errs []string
	for _, l := range lines {
		switch typ := l.pp["event_type"]; typ {
		case "error":
			errs = append(errs, fmt.Sprint(l.pp["error_code"]))
		case TypeVAP, TypeTopClicker:
			id, _ := l.pp["identity"].(map[string]any)
			meta, _ := l.pp["wazuh_pull"].(map[string]any)
			if id == nil || l.pp["interval"] == nil || meta["stream"] != StreamPeople {
				t.Fatalf("snapshot event %s", l.raw)
			}
			if typ == TypeVAP && (l.pp["threatStatistics"] == nil || l.pp["totalVapUsers"] == nil) || typ == TypeTopClicker && (l.pp["clickStatistics"] == nil || l.pp["totalTopClickers"] == nil) {
				t.Fatalf("snapshot event %s lacks its statistics", l.raw)
			}
			got[fmt.Sprint(typ, "/", id["guid"])]++
		}
	}
	return got, errs
}

func TestPeopleSnapshotOnItsOwnCadence(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.cfg.PeoplePageSize = 2
	h.sim.GeneratePeople("acme", 5, 3, 1)
	sink := &lineSink{}
	res := h.run(context.Background(), sink, h.store, StreamPeople)
	if !res[0].Success || res[0].Events != 8 || res[0].Pages != 5 {
		t.Fatalf("result %+v", res[0])
	}
	if vap, top := h.sim.PoolUsed("acme", "vap"), h.sim.PoolUsed("acme", "top-clickers"); vap != 3 || top != 2 {
		t.Fatalf("%d VAP and %d top-clicker requests, want pages of 2 users", vap, top)
	}
	got, errs := peopleLines(t, sink.lines(t))
	if len(got) != 8 || len(errs) > 0 {
		t.Fatalf("snapshot %v, errors %v", got, errs)
	}
	// Not due again for a day: no request, no event.
	for _, d := range []time.Duration{5 * time.Minute, 23 * time.Hour} {
		h.clock.Set(t0.Add(d))
		res = h.run(context.Background(), sink, h.store, StreamPeople)
		if !res[0].Success || res[0].Events != 0 || h.sim.RequestCount() != 5 {
			t.Fatalf("at +%v: result %+v, %d requests", d, res[0], h.sim.RequestCount())
		}
	}
	// A day later: a new snapshot, the same users again, even from a run a
	// few minutes early (a daily schedule whose runs start a little
	// earlier than the day before must not skip a day).
	next := t0.Add(24*time.Hour - 5*time.Minute)
	h.clock.Set(next)
	res = h.run(context.Background(), sink, h.store, StreamPeople)
	if res[0].Events != 8 {
		t.Fatalf("second snapshot %+v", res[0])
	}
	got, _ = peopleLines(t, sink.lines(t))
	for k, n := range got {
		if n != 2 {
			t.Fatalf("%s in %d snapshots, want 2", k, n)
		}
	}
	var cur PeopleCursor
	jsonUnmarshal(t, h.stored(StreamPeople).Cursor, &cur)
	if !cur.LastFetch.Equal(next) || !cur.Snapshot.IsZero() || len(cur.Budget) != 2 {
		t.Fatalf("stored %+v", cur)
	}
}

func TestPeopleSnapshotResumesAtTheNextPage(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.cfg.PeoplePageSize = 2
	h.sim.GeneratePeople("acme", 5, 3, 1)
	sink := &lineSink{failConfirm: 3}
	res := h.run(context.Background(), sink, h.store, StreamPeople)
	if res[0].Success || res[0].Events != 4 {
		t.Fatalf("result %+v", res[0])
	}
	sink.failConfirm = 0
	h.clock.Advance(5 * time.Minute)
	h.run(context.Background(), sink, h.store, StreamPeople)
	got, _ := peopleLines(t, sink.lines(t))
	if len(got) != 8 {
		t.Fatalf("%d users delivered", len(got))
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("%s delivered %d times", k, n)
		}
	}
	// Pages 1 and 2 were not asked again.
	if n := h.sim.PoolUsed("acme", "vap"); n != 4 {
		t.Fatalf("%d VAP requests, want 3 pages plus the one whose delivery failed", n)
	}
}

// TestPeopleLastFetchInTheFutureIsDue: a stored last fetch later than now
// (a clock stepped back) does not hold snapshots back until that time.
func TestPeopleLastFetchInTheFutureIsDue(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.sim.GeneratePeople("acme", 2, 2, 1)
	src, _ := h.collector().NewSource(Streams()[1], Legacy{})
	cur, _ := json.Marshal(PeopleCursor{LastFetch: t0.Add(72 * time.Hour)})
	if err := src.Start(context.Background(), state.Record{Version: 3, Cursor: cur}); err != nil {
		t.Fatal(err)
	}
	if p, err := src.Fetch(context.Background()); err != nil || len(p.Items) != 2 {
		t.Fatalf("page %+v, err %v: want the snapshot now", p, err)
	}
}

func TestPeopleAdoptsTheSeedLastFetch(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.sim.GeneratePeople("acme", 2, 2, 1)
	c := h.collector()
	src, _ := c.NewSource(Streams()[1], Legacy{Value: t0.Add(-time.Hour).Format("2006-01-02T15:04:05.000000+00:00")})
	if err := src.Start(context.Background(), state.Record{}); err != nil {
		t.Fatal(err)
	}
	p, err := src.Fetch(context.Background())
	if err != nil || len(p.Items) != 0 || p.More || h.sim.RequestCount() != 0 {
		t.Fatalf("page %+v err %v: the seed fetched an hour ago, the next snapshot is not due", p, err)
	}
	h.clock.Set(t0.Add(23*time.Hour + time.Minute))
	if p, _ = src.Fetch(context.Background()); len(p.Items) != 2 {
		t.Fatalf("due snapshot gave %d users", len(p.Items))
	}
}

func TestPeopleBudgetStopsBeforeTheEndpointLimit(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.cfg.PeoplePageSize, h.cfg.PeopleInterval = 1, time.Hour
	h.sim.GeneratePeople("acme", 3, 1, 1)
	sink := &lineSink{}
	var stopped bool
	for i := 0; i < 24 && !stopped; i++ {
		res := h.run(context.Background(), sink, h.store, StreamPeople)
		stopped = fmt.Sprint(res[0].Errors) == "[API_REQUEST_BUDGET]"
		h.clock.Advance(time.Hour)
	}
	if !stopped {
		t.Fatal("hourly snapshots of 4 requests never hit the 50-a-day budget")
	}
	if used := h.sim.PoolUsed("acme", "vap"); used > PeopleRequestsPerDay-DefaultPeopleReserve {
		t.Fatalf("%d VAP requests in 24 h", used)
	}
}

// peopleSnapshotOnce runs the People stream once and fails unless it
// succeeds with want users, each delivered once, and no error event.
func peopleSnapshotOnce(t *testing.T, h *harness, want int) {
	t.Helper()
	sink := &lineSink{}
	res := h.run(context.Background(), sink, h.store, StreamPeople)
	if !res[0].Success || res[0].Events != int64(want) {
		t.Fatalf("result %+v", res[0])
	}
	got, errs := peopleLines(t, sink.lines(t))
	if len(got) != want || len(errs) > 0 {
		t.Fatalf("%d users, errors %v", len(got), errs)
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("%s delivered %d times", k, n)
		}
	}
}

// TestPeopleSnapshotKeepsToTheDocumentedPageSizes: top-clicker pages are
// documented as at most 200 users. Asked for more, TAP either refuses the
// request or (the docs do not say which) serves 200: either way a snapshot
// asking for 1 000 would lose every top clicker past the first page.
// With the default settings every user comes out once, in both variants.
func TestPeopleSnapshotKeepsToTheDocumentedPageSizes(t *testing.T) {
	for _, mode := range []proofpointtest.OversizeMode{proofpointtest.OversizeRefused, proofpointtest.OversizeClamp} {
		t.Run(fmt.Sprint("oversize=", mode), func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{PeopleOversize: mode})
			h.sim.GeneratePeople("acme", 1200, 450, 1)
			peopleSnapshotOnce(t, h, 1650)
			if vap, top := h.sim.PoolUsed("acme", "vap"), h.sim.PoolUsed("acme", "top-clickers"); vap != 2 || top != 3 {
				t.Fatalf("%d VAP and %d top-clicker requests, want pages of 1 000 and 200", vap, top)
			}
			for _, r := range h.sim.Requests() {
				if r.Status != 200 {
					t.Fatalf("%s?%s answered %d", r.Path, r.Query, r.Status)
				}
			}
		})
	}
}

// TestPeopleFullLastPage: with exactly a page of users, whether there is
// more shows only on the next page, which TAP answers (the docs do not say
// how) empty or with a 400. Either way the snapshot completes with every
// user once and without an error event, and the next is taken on cadence.
func TestPeopleFullLastPage(t *testing.T) {
	for _, mode := range []proofpointtest.PastEndMode{proofpointtest.PastEndEmpty, proofpointtest.PastEndRefused} {
		t.Run(fmt.Sprint("past-end=", mode), func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{PeoplePastEnd: mode})
			h.sim.GeneratePeople("acme", 1000, 200, 1)
			peopleSnapshotOnce(t, h, 1200)
			var cur PeopleCursor
			jsonUnmarshal(t, h.stored(StreamPeople).Cursor, &cur)
			if !cur.LastFetch.Equal(t0) || !cur.Snapshot.IsZero() {
				t.Fatalf("snapshot not complete: %+v", cur)
			}
		})
	}
}

// TestDamagedPeopleRecordIsAStateReadError: a stored People position the
// collector never writes (an endpoint past the last, a snapshot at page 0)
// ends the run with STATE_READ_ERROR, as the README promises for an
// unreadable record, without a request, a panic or a silent reset.
func TestDamagedPeopleRecordIsAStateReadError(t *testing.T) {
	for _, cur := range []string{
		`{"snapshot":"2026-03-01T23:00:00Z","endpoint":2,"page":1}`,
		`{"snapshot":"2026-03-01T23:00:00Z","endpoint":-1,"page":1}`,
		`{"endpoint":2}`,
		`{"snapshot":"2026-03-01T23:00:00Z","endpoint":1,"page":0}`,
		`{"snapshot":"2026-03-01T23:00:00Z","page":-1}`,
	} {
		t.Run(cur, func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{})
			h.sim.GeneratePeople("acme", 3, 3, 1)
			key := state.Key{Tenant: "acme", Vendor: Vendor, Stream: StreamPeople}
			l, err := h.store.Lock(context.Background(), key, state.LockOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Commit(context.Background(), state.Record{Cursor: []byte(cur)}); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			before := h.stored(StreamPeople)
			sink := &lineSink{}
			res := h.run(context.Background(), sink, h.store, StreamPeople)
			if res[0].Success || fmt.Sprint(res[0].Errors) != "[STATE_READ_ERROR]" {
				t.Fatalf("result %+v", res[0])
			}
			if _, errs := peopleLines(t, sink.lines(t)); fmt.Sprint(errs) != "[STATE_READ_ERROR]" {
				t.Fatalf("error events %v", errs)
			}
			if n := h.sim.RequestCount(); n != 0 {
				t.Fatalf("%d requests on a damaged record", n)
			}
			if after := h.stored(StreamPeople); after.Version != before.Version || string(after.Cursor) != string(before.Cursor) {
				t.Fatalf("record changed from %s to %s", before.Cursor, after.Cursor)
			}
		})
	}
}
