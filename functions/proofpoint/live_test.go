package proofpoint

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

// TestLiveRunDeliversEveryEventExactlyOnce polls a tenant every five
// minutes of simulated time for nine hours while events keep appearing,
// up to 30 minutes after they happened, a fifth of the messages to
// several recipients, some clicks with old click times: every event comes
// out exactly once.
func TestLiveRunDeliversEveryEventExactlyOnce(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{Empty: proofpointtest.EmptyMixed})
	n := h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(8 * time.Hour), MessagesPerHour: 40, ClicksPerHour: 25, FalsePositive: 0.02, TimeForms: true})
	sink := &lineSink{}
	end := t0.Add(8*time.Hour + 40*time.Minute) // past the last event's indexing
	firstRun := 0
	for now := t0; !now.After(end); now = h.clock.Advance(5 * time.Minute) {
		if h.runs == 1 {
			firstRun = len(h.sim.Requests())
		}
		res := h.run(context.Background(), sink, h.store, StreamSIEM)
		if !res[0].Success || res[0].Stop != "caught_up" {
			t.Fatalf("run at %v: %+v", now, res[0])
		}
	}
	for _, r := range h.sim.Requests() {
		if r.Status != 200 && r.Status != 204 {
			t.Fatalf("request %s answered %d: every window must follow TAP's rules", r.Query, r.Status)
		}
	}
	got, errs := events(t, sink.lines(t))
	if len(errs) > 0 {
		t.Fatalf("error events %v", errs)
	}
	exactlyOnce(t, got, h.expected())
	// The first run reads the 24 h lookback in windows of 59 minutes;
	// every later run makes one request: the overlap costs none.
	if firstRun != 25 {
		t.Fatalf("first run made %d requests for 24 h, want 25 windows", firstRun)
	}
	if reqs := len(h.sim.Requests()) - firstRun; reqs != h.runs-1 {
		t.Fatalf("%d requests for %d later runs", reqs, h.runs-1)
	}
	t.Logf("%d events generated, %d delivered once over %d runs", n, len(got), h.runs)
	// The windows really overlapped: late events came in re-read windows.
	var late int
	for _, e := range h.sim.Events("acme") {
		if e.Indexed.Sub(e.Created) > 10*time.Minute {
			late++
		}
	}
	if late == 0 {
		t.Fatal("the traffic had no late-indexed events")
	}
}

// TestEveryQueryEndTimeReadingDeliversExactlyOnce: queryEndTime is the
// requested end in the answers seen, with or without milliseconds; a TAP
// that stopped a window at the minute and said so would be read on from
// there. Three hours of live polling in each reading: every event once.
func TestEveryQueryEndTimeReadingDeliversExactlyOnce(t *testing.T) {
	for _, mode := range []proofpointtest.QueryEndMode{proofpointtest.QueryEndRequested, proofpointtest.QueryEndMillis, proofpointtest.QueryEndMinute} {
		t.Run(fmt.Sprint("query-end=", mode), func(t *testing.T) {
			h := newHarness(t, proofpointtest.Options{QueryEnd: mode, Empty: proofpointtest.EmptyArrays})
			h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(3 * time.Hour), MessagesPerHour: 40, ClicksPerHour: 25, TimeForms: true})
			sink := &lineSink{}
			for now := t0; !now.After(t0.Add(3*time.Hour + 40*time.Minute)); now = h.clock.Advance(5 * time.Minute) {
				before := h.sim.RequestCount()
				res := h.run(context.Background(), sink, h.store, StreamSIEM)
				if !res[0].Success || res[0].Stop != "caught_up" {
					t.Fatalf("run at %v: %+v", now, res[0])
				}
				if n := h.sim.RequestCount() - before; h.runs > 1 && n > 2 {
					t.Fatalf("run at %v made %d requests", now, n)
				}
			}
			got, errs := events(t, sink.lines(t))
			if len(errs) > 0 {
				t.Fatalf("error events %v", errs)
			}
			exactlyOnce(t, got, h.expected())
		})
	}
}
