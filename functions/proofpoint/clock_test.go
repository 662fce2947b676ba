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

// gaps returns the intervals named by the COLLECTION_GAP events in lines.
func gaps(t *testing.T, lines []line) [][2]time.Time {
	t.Helper()
	var out [][2]time.Time
	for _, l := range lines {
		if l.pp["error_code"] != "COLLECTION_GAP" {
			continue
		}
		m := gapDetail.FindStringSubmatch(fmt.Sprint(l.pp["error_detail"]))
		if m == nil {
			t.Fatalf("gap event %s", l.raw)
		}
		from, err1 := time.Parse(time.RFC3339, m[1])
		to, err2 := time.Parse(time.RFC3339, m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("gap event %s", l.raw)
		}
		out = append(out, [2]time.Time{from, to})
	}
	return out
}

// refused counts the requests TAP answered with a 400.
func refused(sim *proofpointtest.Server) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Status == 400 {
			n++
		}
	}
	return n
}

// TestSevenDayLimitWithTAPsClockAhead runs the collector on a host whose
// clock is 20 minutes behind TAP's, more than the 15 minutes the start is
// moved inside the limit after a refusal, so that a start counted by the
// host clock is refused however often it is asked. A position at the
// 7-day limit (TAP's) or a 9-day outage must give one gap event ending
// within the documented 5 minutes of TAP's limit, and then collection goes
// on: every run succeeds, every event TAP still serves after the gap comes
// out exactly once. learned: the host clock jumps back only during the
// outage, so TAP's clock is first told by the refusal itself.
func TestSevenDayLimitWithTAPsClockAhead(t *testing.T) {
	const ahead = 20 * time.Minute
	for _, tc := range []struct {
		name    string
		outage  time.Duration // TAP's time from the stored start to the run
		learned bool
	}{
		{"at-the-limit", MaxAge + time.Minute, false},
		{"at-the-limit-learned-from-the-refusal", MaxAge + time.Minute, true},
		{"nine-days", 9 * 24 * time.Hour, false},
		{"nine-days-learned-from-the-refusal", 9 * 24 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{})
			host := func() time.Time { return h.clock.Now().Add(-ahead) }
			if !tc.learned {
				h.cfg.Now = host
			}
			sink := &lineSink{}
			h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(tc.outage - 2*time.Hour), MessagesPerHour: 3, ClicksPerHour: 2, Retroactive: -1})
			h.poll(sink, t0.Add(30*time.Minute), 5*time.Minute)
			lastStart := h.siemCursor().Start

			h.cfg.Now = host
			tapRun := lastStart.Add(tc.outage)
			h.clock.Set(tapRun)
			h.poll(sink, tapRun.Add(2*time.Hour), 5*time.Minute)

			lines := sink.lines(t)
			got, errs := events(t, lines)
			g := gaps(t, lines)
			if len(errs) != 1 || len(g) != 1 {
				t.Fatalf("error events %v: want one gap event", errs)
			}
			from, to := g[0][0], g[0][1]
			limit := tapRun.Add(-MaxAge) // TAP's limit when the run began
			if !from.Equal(lastStart) || to.Before(limit) || to.After(limit.Add(ageMargin+time.Second)) {
				t.Fatalf("gap %v/%v, want from the stored start %v to at most %v inside TAP's limit %v", from, to, lastStart, ageMargin, limit)
			}
			if n, most := refused(h.sim), map[bool]int{false: 0, true: 1}[tc.learned]; n > most {
				t.Fatalf("%d windows refused, want at most %d", n, most)
			}
			onceOutsideTheGap(t, h, got, from, to)
			if off := h.siemCursor().Behind; off != -int64(ahead/time.Second) {
				t.Fatalf("stored clock difference %d s, want %d (TAP ahead)", off, -int64(ahead/time.Second))
			}
		})
	}
}

// TestFirstRunAtTheSevenDayLimit: a first run asked for the longest
// lookback starts at the 7-day limit. Where TAP's clock is ahead of ours
// that start is too old for TAP; the collector starts where TAP serves,
// without a COLLECTION_GAP event (no position was given up: the lookback
// is only where collection begins) and without failing, and collects
// every event from there on.
func TestFirstRunAtTheSevenDayLimit(t *testing.T) {
	for _, ahead := range []time.Duration{0, 10 * time.Minute, 20 * time.Minute} {
		t.Run(fmt.Sprint("tap-ahead=", ahead), func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{})
			h.cfg.Now = func() time.Time { return h.clock.Now().Add(-ahead) }
			h.cfg.Lookback = MaxAge
			h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-MaxAge - time.Hour), To: t0, MessagesPerHour: 2, ClicksPerHour: 1, Retroactive: -1})
			sink := &lineSink{}
			h.poll(sink, t0.Add(time.Hour), 5*time.Minute)
			got, errs := events(t, sink.lines(t))
			if len(errs) > 0 {
				t.Fatalf("error events %v", errs)
			}
			if n, most := refused(h.sim), map[bool]int{false: 0, true: 1}[ahead > ageMargin]; n > most {
				t.Fatalf("%d windows refused, want at most %d", n, most)
			}
			// Every event from just inside TAP's limit (the margin) on.
			want := map[string]bool{}
			for _, e := range h.sim.Events("acme") {
				if !e.Created.Before(t0.Add(-MaxAge + ageMargin + time.Second)) {
					want[e.Identity] = true
				}
			}
			for id, n := range got {
				if !want[id] && n == 1 {
					delete(got, id)
				}
			}
			exactlyOnce(t, got, want)
		})
	}
}
