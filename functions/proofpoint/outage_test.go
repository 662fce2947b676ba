package proofpoint

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// poll runs the SIEM stream every interval from the clock's time to end.
func (h *harness) poll(sink *lineSink, end time.Time, every time.Duration) {
	h.t.Helper()
	for now := h.clock.Now(); !now.After(end); now = h.clock.Advance(every) {
		res := h.run(context.Background(), sink, h.store, StreamSIEM)
		if !res[0].Success {
			h.t.Fatalf("run at %v: %+v", now, res[0])
		}
		h.pages += res[0].Pages
	}
}

func TestThreeDayOutageIsCaughtUpWindowByWindowWithinTheBudget(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-2 * time.Hour), To: t0.Add(75 * time.Hour), MessagesPerHour: 12, ClicksPerHour: 6})
	sink := &lineSink{}
	h.poll(sink, t0.Add(time.Hour), 5*time.Minute)
	before := h.stored(StreamSIEM).Version
	reqBefore := len(h.sim.Requests())

	// Three days without a run, then one run catches up.
	h.clock.Set(t0.Add(73 * time.Hour))
	res := h.run(context.Background(), sink, h.store, StreamSIEM)
	if !res[0].Success || res[0].Stop != "caught_up" {
		t.Fatalf("catch-up run %+v", res[0])
	}
	windows := len(h.sim.Requests()) - reqBefore
	// 72 hours of 59-minute windows, plus the overlap re-read at the end.
	if windows < 72*60/59 || windows > 72*60/59+3 {
		t.Fatalf("catch-up took %d requests for 72 hours", windows)
	}
	t.Logf("72 hours caught up in %d requests", windows)
	if commits := h.stored(StreamSIEM).Version - before; commits != int64(windows) {
		t.Fatalf("%d commits for %d windows: every window must be committed as it is delivered", commits, windows)
	}
	for _, r := range h.sim.Requests()[reqBefore:] {
		if d := r.End.Sub(r.Start); d > time.Hour || d < 30*time.Second || r.Status >= 300 && r.Status != 0 && r.Status != 204 {
			t.Fatalf("request %s: %v long, status %d", r.Query, d, r.Status)
		}
	}
	if used := h.sim.PoolUsed("acme", "siem"); used >= SIEMRequestsPerDay-DefaultBudgetReserve {
		t.Fatalf("%d requests in 24 h", used)
	}
	// The stored budget counts what the server counted.
	b := h.budget()
	if got, want := b.Used(h.clock.Now()), h.sim.PoolUsed("acme", "siem"); got < want || got > want+2 {
		t.Fatalf("stored budget counts %d requests, the server %d", got, want)
	}
	h.poll(sink, t0.Add(76*time.Hour), 5*time.Minute)
	got, errs := events(t, sink.lines(t))
	if len(errs) > 0 {
		t.Fatalf("errors %v", errs)
	}
	exactlyOnce(t, got, h.expected())
}

var gapDetail = regexp.MustCompile(`interval=(\S+)/(\S+) endpoint=/v2/siem/all`)

func TestNineDayOutageReportsTheGapThenContinues(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(9*24*time.Hour - 5*time.Minute), MessagesPerHour: 3, ClicksPerHour: 2, Retroactive: -1})
	sink := &lineSink{}
	h.poll(sink, t0.Add(30*time.Minute), 5*time.Minute)
	lastStart := h.siemCursor().Start

	h.clock.Set(t0.Add(9 * 24 * time.Hour))
	res := h.run(context.Background(), sink, h.store, StreamSIEM)
	// The gap is an error event; the run itself goes on and catches up.
	if !res[0].Success || fmt.Sprint(res[0].Errors) != "[COLLECTION_GAP]" || res[0].Stop != "caught_up" {
		t.Fatalf("result %+v", res[0])
	}
	var from, to time.Time
	for _, l := range sink.lines(t) {
		if l.pp["error_code"] == "COLLECTION_GAP" {
			m := gapDetail.FindStringSubmatch(fmt.Sprint(l.pp["error_detail"]))
			if m == nil || l.pp["error_source"] != StreamSIEM {
				t.Fatalf("gap event %s", l.raw)
			}
			from, _ = time.Parse(time.RFC3339, m[1])
			to, _ = time.Parse(time.RFC3339, m[2])
		}
	}
	if !from.Equal(lastStart) || to.Before(h.clock.Now().Add(-MaxAge)) || to.After(h.clock.Now().Add(-MaxAge+10*time.Minute)) {
		t.Fatalf("gap %v/%v, want from the stored start %v to just inside 7 days", from, to, lastStart)
	}
	for _, r := range h.sim.Requests() {
		if r.Status == 400 {
			t.Fatalf("TAP refused %s", r.Query)
		}
	}
	h.poll(sink, h.clock.Now().Add(time.Hour), 5*time.Minute)
	got, _ := events(t, sink.lines(t))
	onceOutsideTheGap(t, h, got, from, to)
}

// onceOutsideTheGap checks that every event created from the first polls
// on was delivered exactly once, except those in the reported gap
// [from, to); events in the gap that the first polls had already read
// may be there too, once.
func onceOutsideTheGap(t *testing.T, h *harness, got map[string]int, from, to time.Time) {
	t.Helper()
	want := map[string]bool{}
	for _, e := range h.sim.Events("acme") {
		if e.Created.Before(t0.Add(-25*time.Minute)) || !e.Created.Before(from) && e.Created.Before(to) {
			continue // before the first window, or in the gap
		}
		want[e.Identity] = true
	}
	for id, n := range got {
		if !want[id] && n == 1 {
			delete(got, id)
		}
	}
	exactlyOnce(t, got, want)
}

// failingStore fails the n-th commit after the sink confirmed the page:
// the crash between delivery and commit.
type failingStore struct {
	state.Store
	commits, failAt int
}

type failingLease struct {
	state.Lease
	s *failingStore
}

func (f *failingStore) Lock(ctx context.Context, k state.Key, o state.LockOptions) (state.Lease, error) {
	l, err := f.Store.Lock(ctx, k, o)
	if err != nil {
		return nil, err
	}
	return &failingLease{Lease: l, s: f}, nil
}

func (l *failingLease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	l.s.commits++
	if l.s.commits == l.s.failAt {
		return 0, errors.New("disk full")
	}
	return l.Lease.Commit(ctx, rec)
}

func TestCrashDuringCatchUpLosesNothingAndRepeatsAtMostOneWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, kind := range []string{"confirm", "commit", "cancel"} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{})
			h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-20 * time.Hour), To: t0.Add(time.Hour), MessagesPerHour: 20, ClicksPerHour: 10})
			h.clock.Set(t0.Add(2 * time.Hour))
			page := 3 + rng.IntN(20)
			sink := &lineSink{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var store state.Store = h.store
			switch kind {
			case "confirm":
				sink.failConfirm = page
			case "commit":
				store = &failingStore{Store: h.store, failAt: page}
			case "cancel":
				sink.cancelAt, sink.cancel = page, cancel
			}
			res := h.run(ctx, sink, store, StreamSIEM)
			if res[0].Stop == "caught_up" {
				t.Fatalf("the crash at page %d did not stop the run: %+v", page, res[0])
			}
			sink.failConfirm, sink.cancelAt = 0, 0
			// A fresh runner on the same state finishes the job.
			h.poll(sink, h.clock.Now().Add(time.Hour), 5*time.Minute)
			got, _ := events(t, sink.lines(t))
			maxWindow := 0
			for _, r := range h.sim.Requests() {
				maxWindow = max(maxWindow, r.Events)
			}
			dups := 0
			for id, n := range got {
				if n > 1 {
					dups += n - 1
					got[id] = 1
				}
			}
			if dups > maxWindow {
				t.Fatalf("%d duplicates after a crash at page %d; one window holds at most %d", dups, page, maxWindow)
			}
			exactlyOnce(t, got, h.expected())
			t.Logf("crash (%s) at page %d: %d duplicates", kind, page, dups)
		})
	}
}

func TestGapEventNamesTheStreamAndIsDeliveredOnce(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	sink := &lineSink{}
	h.run(context.Background(), sink, h.store, StreamSIEM)
	h.clock.Set(t0.Add(8 * 24 * time.Hour))
	h.run(context.Background(), sink, h.store, StreamSIEM)
	h.clock.Advance(5 * time.Minute)
	h.run(context.Background(), sink, h.store, StreamSIEM)
	_, errs := events(t, sink.lines(t))
	if strings.Join(errs, ",") != "COLLECTION_GAP" {
		t.Fatalf("errors %v: want one gap event", errs)
	}
}
