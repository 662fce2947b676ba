package pipeline

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// simClock is the run's clock; the paced sink advances it by the time it
// holds lines back, so the test needs no sleeping.
type simClock struct{ t time.Time }

func (c *simClock) now() time.Time { return c.t }

// pacedSink is a memSink that sends perSecond lines a second: n lines
// take n/perSecond (a bucket that is always empty, the worst case), or
// less when that would pass by.
type pacedSink struct {
	memSink
	perSecond float64
	clock     *simClock
	bys       []time.Time
	hurried   int
}

func (p *pacedSink) PaceDelay(lines int) time.Duration {
	return time.Duration(float64(lines) / p.perSecond * float64(time.Second))
}

func (p *pacedSink) PacedWrite(ctx context.Context, b []byte, by time.Time) (time.Duration, error) {
	d := p.PaceDelay(bytes.Count(b, []byte{'\n'}))
	if !by.IsZero() && p.clock.t.Add(d).After(by) {
		d = max(by.Sub(p.clock.t), 0)
		p.hurried++
	}
	p.bys = append(p.bys, by)
	p.clock.t = p.clock.t.Add(d)
	return d, p.memSink.Write(ctx, b)
}

func pacedRunner(t *testing.T, s *pacedSink, store state.Store, b Budget) *Runner {
	t.Helper()
	r, err := New(Config{
		Envelope: event.Envelope{Integration: "1password", Namespace: "op"},
		RunID:    "run-1", Store: store, Sink: s, Budget: b, Now: s.clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A run whose next page the sink's limit would hold back past the deadline
// stops before it (StopPaced), with every delivered page committed and the
// backlog and the time held back reported, in the result and in the
// run_summary.
func TestPacedStopAtAPageBoundary(t *testing.T) {
	clock := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sink, store := &pacedSink{perSecond: 100, clock: clock}, newStore(t)
	src := &pagedSource{n: 5000, size: 300} // 3 s a page at 100 lines/s
	r := pacedRunner(t, sink, store, Budget{Deadline: clock.t.Add(10 * time.Second)})
	res := r.Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	got := res[0]
	if got.Stop != StopPaced || !got.Backlog || !got.Success || got.Events != 900 || got.Paced != 9*time.Second {
		t.Fatalf("result %+v, want paced after 3 pages (900 events, 9s held back)", got)
	}
	if sink.hurried != 0 {
		t.Fatalf("%d pages went faster than the limit; only a run's first page may", sink.hurried)
	}
	if _, pos := stored(t, store, key("audit")); pos != 900 {
		t.Fatalf("committed %d, want 900: the page left behind must not be committed, the delivered ones must", pos)
	}
	if src.fetches != 4 {
		t.Fatalf("%d fetches, want 4 (the 4th page is fetched, then left for the next run)", src.fetches)
	}
	if err := r.WriteSummary(context.Background(), SummaryInput{Streams: []string{"audit"}, Tenant: "default", Results: res}); err != nil {
		t.Fatal(err)
	}
	lines := sink.lines(t)
	sum := lines[len(lines)-1]
	if sum["audit_stop"] != "paced" || sum["audit_backlog"] != true || sum["audit_paced_ms"] != 9000.0 {
		t.Fatalf("summary %v", sum)
	}

	// The next run resumes at the page left behind.
	clock.t = clock.t.Add(time.Minute)
	src2 := &pagedSource{n: 5000, size: 300}
	res = pacedRunner(t, sink, store, Budget{Deadline: clock.t.Add(10 * time.Second)}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src2}})
	if res[0].Events != 900 || res[0].Stop != StopPaced {
		t.Fatalf("second run %+v", res[0])
	}
	if _, pos := stored(t, store, key("audit")); pos != 1800 {
		t.Fatalf("committed %d after the second run, want 1800", pos)
	}
}

// A run's first page goes even when the limit would hold it back past the
// deadline (the sink then hurries it), so that a page larger than what
// the limit allows in a whole run cannot stall the stream forever.
func TestPacedRunAlwaysMakesProgress(t *testing.T) {
	clock := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sink, store := &pacedSink{perSecond: 10, clock: clock}, newStore(t)
	deadline := clock.t.Add(5 * time.Second)
	src := &pagedSource{n: 5000, size: 1000} // 100 s a page at 10 lines/s
	res := pacedRunner(t, sink, store, Budget{Deadline: deadline}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: src}})
	got := res[0]
	if got.Events != 1000 || !got.Backlog || !got.Success {
		t.Fatalf("result %+v, want the first page delivered", got)
	}
	if sink.hurried != 1 || len(sink.bys) != 1 || !sink.bys[0].Equal(deadline) {
		t.Fatalf("the first page must be written once, due by the deadline %v: hurried %d, bys %v", deadline, sink.hurried, sink.bys)
	}
	if _, pos := stored(t, store, key("audit")); pos != 1000 {
		t.Fatalf("committed %d, want 1000", pos)
	}
}

// With several streams, each page must meet its stream's share of the
// time, but a stream's first page may use what is left of the run (as the
// byte budget allows), so that a share too small for one page does not
// starve a stream.
func TestPacedSharesBetweenStreams(t *testing.T) {
	clock := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sink, store := &pacedSink{perSecond: 100, clock: clock}, newStore(t)
	deadline := clock.t.Add(12 * time.Second)
	a := &pagedSource{n: 5000, size: 700} // 7 s a page: more than audit's 6-s share
	b := &pagedSource{n: 5000, size: 200} // 2 s a page
	res := pacedRunner(t, sink, store, Budget{Deadline: deadline}).Run(context.Background(), []Stream{
		{Key: key("audit"), Name: "audit", Source: a},
		{Key: key("signin"), Name: "signin", Source: b},
	})
	// audit's first page goes within the run's 12 s, then its share is
	// spent; signin gets the 5 s left: two pages, the third would end late.
	if res[0].Events != 700 || res[0].Stop != StopDeadline || res[1].Events != 400 || res[1].Stop != StopPaced {
		t.Fatalf("results %+v / %+v", res[0], res[1])
	}
	if sink.hurried != 0 || !sink.bys[0].Equal(deadline) {
		t.Fatalf("audit's first page must be due by the run's deadline %v and go at the limit: bys %v, hurried %d", deadline, sink.bys, sink.hurried)
	}
}

// A sink that does not pace is written as before and reports nothing.
func TestUnpacedSinkReportsNoPacing(t *testing.T) {
	sink := &memSink{}
	res := newRunner(t, sink, newStore(t), Budget{Deadline: time.Now().Add(time.Minute)}).Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: &pagedSource{n: 100, size: 10}}})
	if res[0].Paced != 0 || res[0].Stop != StopCaughtUp {
		t.Fatalf("result %+v", res[0])
	}
	sum := summaryFields("source", SummaryInput{Streams: []string{"audit"}, Results: res}, "now")
	for _, f := range sum {
		if f.Key == "audit_paced_ms" {
			t.Fatal("audit_paced_ms reported for a stream nothing held back")
		}
	}
}
