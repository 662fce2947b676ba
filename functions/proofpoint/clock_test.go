package proofpoint

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

// TestClockAheadOfTAP runs the collector on a host whose clock is five
// minutes ahead of TAP's, more than the safety lag: by its own clock its
// windows end in TAP's future. What TAP does with such a window is not
// documented; in each of the simulator's readings (refuse it, serve it up
// to TAP's clock saying so, or serve it up to TAP's clock reporting the
// requested end) every event comes out exactly once, without error
// events, and at most one request is refused: the collector learns TAP's
// clock from the Date header of its answers and keeps its windows behind
// it.
func TestClockAheadOfTAP(t *testing.T) {
	const skew = 5 * time.Minute
	for _, mode := range []proofpointtest.FutureEndMode{proofpointtest.FutureEndRefused, proofpointtest.FutureEndClamped, proofpointtest.FutureEndAsRequested} {
		t.Run(fmt.Sprint("future-end=", mode), func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{FutureEnd: mode})
			h.cfg.Now = func() time.Time { return h.clock.Now().Add(skew) }
			h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(3 * time.Hour), MessagesPerHour: 40, ClicksPerHour: 25})
			sink := &lineSink{}
			for now := t0; !now.After(t0.Add(3*time.Hour + 45*time.Minute)); now = h.clock.Advance(5 * time.Minute) {
				res := h.run(context.Background(), sink, h.store, StreamSIEM)
				if !res[0].Success {
					t.Fatalf("run at %v: %+v", now, res[0])
				}
			}
			got, errs := events(t, sink.lines(t))
			if len(errs) > 0 {
				t.Fatalf("error events %v", errs)
			}
			exactlyOnce(t, got, h.expected())
			// Only the first request, before any answer told TAP's clock,
			// may end in TAP's future (and be refused).
			for i, r := range h.sim.Requests() {
				_, end, err := proofpointtest.ParseInterval(intervalOf(t, r.Query))
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 && (end.After(r.Time) || r.Status != 200 && r.Status != 204) {
					t.Fatalf("request %d (%s) at %v answered %d", i, r.Query, r.Time, r.Status)
				}
			}
			if behind := h.siemCursor().Behind; behind < int64(skew/time.Second) {
				t.Fatalf("stored clock difference %d s, want at least %v", behind, skew)
			}
		})
	}
}

func intervalOf(t *testing.T, rawQuery string) string {
	t.Helper()
	q, err := url.ParseQuery(rawQuery)
	if err != nil || q.Get("interval") == "" {
		t.Fatalf("query %q: %v", rawQuery, err)
	}
	return q.Get("interval")
}

// TestSevenDayLimitIsCountedByTAPsClock: a position TAP still serves is
// not given up as a collection gap because the host clock runs ahead.
func TestSevenDayLimitIsCountedByTAPsClock(t *testing.T) {
	const skew = 10 * time.Minute
	h := newHarness(t, proofpointtest.Options{})
	h.cfg.Now = func() time.Time { return h.clock.Now().Add(skew) }
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), MessagesPerHour: 40, ClicksPerHour: 20, MaxIndexLag: -1})
	sink := &lineSink{}
	h.run(context.Background(), sink, h.store, StreamSIEM)
	// Offline until the stored start is 7 days less 8 minutes old by
	// TAP's clock (7 days less 18 minutes by ours): TAP still serves it.
	start := h.siemCursor().Start
	h.clock.Set(start.Add(7*24*time.Hour - 8*time.Minute))
	res := h.run(context.Background(), sink, h.store, StreamSIEM)
	if !res[0].Success {
		t.Fatalf("catch-up %+v", res[0])
	}
	got, errs := events(t, sink.lines(t))
	if len(errs) > 0 {
		t.Fatalf("error events %v: nothing was out of TAP's reach", errs)
	}
	exactlyOnce(t, got, h.expected())
}

// TestCheckReportsAClockAheadOfTAP: `localrun check` on a host whose clock
// runs five minutes ahead says so, and still finds the SIEM API working
// (runs keep their windows behind TAP's clock).
func TestCheckReportsAClockAheadOfTAP(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{FutureEnd: proofpointtest.FutureEndRefused})
	h.cfg.Now = func() time.Time { return h.clock.Now().Add(5 * time.Minute) }
	rep := h.collector().Check(context.Background(), CheckOptions{SkipPeople: true})
	if !rep.OK() || len(rep.Streams) != 1 || !strings.Contains(rep.Streams[0].Detail, "clock is 5m0s ahead of TAP's") {
		t.Fatalf("report %+v", rep)
	}
	// A clock in time: no word about it.
	h.cfg.Now = h.clock.Now
	if rep = h.collector().Check(context.Background(), CheckOptions{SkipPeople: true}); !rep.OK() || rep.Streams[0].Detail != "ok" {
		t.Fatalf("report %+v", rep)
	}
}
