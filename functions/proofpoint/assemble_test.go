package proofpoint

import (
	"context"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

// TestWindowTooLargeToAssembleIsReadInSmallerWindows: TAP documents an
// error for results it cannot assemble within its timeout, and asking the
// same window again fails the same way. Here two hours of a burst hold
// about 5 000 events an hour and TAP assembles at most 1 500 in one
// answer.
// Each failure ends its run with an error event and halves the window;
// the windows then stay small while they are busy, so the burst is read
// with a handful of failures, not one per run, and every event comes out
// exactly once. Later, quiet windows grow back to the full hour.
func TestWindowTooLargeToAssembleIsReadInSmallerWindows(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{MaxAssembled: 1500})
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-3 * time.Hour), To: t0.Add(-time.Hour), MessagesPerHour: 4200, ClicksPerHour: 800, MultiRecipient: -1, MaxIndexLag: -1, Seed: 7})
	sink := &lineSink{}
	failed := 0
	for range 12 {
		res := h.run(context.Background(), sink, h.store, StreamSIEM)
		if !res[0].Success {
			failed++
		}
		h.clock.Advance(5 * time.Minute)
	}
	got, errs := events(t, sink.lines(t))
	exactlyOnce(t, got, h.expected())
	t.Logf("%d events in %d requests, %d failed runs", len(got), h.sim.RequestCount(), failed)
	for _, e := range errs {
		if e != "API_HTTP_500" {
			t.Fatalf("error events %v", errs)
		}
	}
	if len(errs) != failed || failed == 0 || failed > 4 {
		t.Fatalf("%d failed runs, error events %v: want a few halvings, each reported once", failed, errs)
	}
	// After the burst, an idle day: the windows are back to the full hour.
	h.clock.Advance(24 * time.Hour)
	h.sim.ResetRequests()
	h.run(context.Background(), sink, h.store, StreamSIEM)
	h.sim.ResetRequests()
	h.clock.Advance(5 * time.Minute)
	h.run(context.Background(), sink, h.store, StreamSIEM)
	if n := h.sim.RequestCount(); n != 1 {
		t.Fatalf("%d requests for a quiet 5 minutes after the burst", n)
	}
	if c := h.siemCursor(); c.Span != 0 || c.Limit != 0 {
		t.Fatalf("window settings not restored: %+v", c)
	}
}

// TestWindowsRecoverAfterAServerOutage: two hours of 500s halve the window
// on every failed run, down to 30 seconds. A 500 could be TAP failing to
// assemble the window, so the windows stay bounded afterwards, but by what
// TAP is taken to return in any case, not by the tiny first window: a busy
// tenant is back to a couple of requests a run at once, to one once the
// bound lapses, and loses nothing.
func TestWindowsRecoverAfterAServerOutage(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-time.Hour), To: t0.Add(3 * time.Hour), MessagesPerHour: 1300, ClicksPerHour: 300, MultiRecipient: -1, MaxIndexLag: -1, Seed: 9})
	sink := &lineSink{}
	h.run(context.Background(), sink, h.store, StreamSIEM)
	h.sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: proofpointtest.FaultInternalError, Count: 1000})
	for range 24 {
		h.clock.Advance(5 * time.Minute)
		if res := h.run(context.Background(), sink, h.store, StreamSIEM); res[0].Success {
			t.Fatal("a run succeeded during the outage")
		}
	}
	if c := h.siemCursor(); c.Span != int64(MinWindow/time.Second) {
		t.Fatalf("after the outage: %+v", c)
	}
	h.sim.ClearFaults()
	var perRun []int
	run := func() {
		t.Helper()
		before := h.sim.RequestCount()
		if res := h.run(context.Background(), sink, h.store, StreamSIEM); !res[0].Success {
			t.Fatalf("run after the outage: %+v", res[0])
		}
		perRun = append(perRun, h.sim.RequestCount()-before)
	}
	// The first run catches up the two hours; the next ones read the
	// overlap in a couple of windows.
	for range 12 {
		h.clock.Advance(5 * time.Minute)
		run()
	}
	for i, n := range perRun[1:] {
		if n > 3 {
			t.Fatalf("run %d after the outage made %d requests (%v)", i+2, n, perRun)
		}
	}
	// Once the bound lapsed (6 hours), one request a run again.
	h.clock.Advance(6 * time.Hour)
	run()
	h.clock.Advance(5 * time.Minute)
	run()
	if c := h.siemCursor(); perRun[len(perRun)-1] != 1 || c.Span != 0 || c.Limit != 0 {
		t.Fatalf("requests per run %v, position %+v", perRun, c)
	}
	got, errs := events(t, sink.lines(t))
	if len(errs) != 24 {
		t.Fatalf("%d error events, want one per failed run", len(errs))
	}
	exactlyOnce(t, got, h.expected())
	t.Logf("requests per run after the outage: %v", perRun)
}

// TestAnswersOverTheBodyLimitAreReadInSmallerWindows: TAP has no paging,
// so an hour of a busy tenant is one body, here about 3.5 MB against a
// client that reads at most 1 MB. The window is shortened at once, and
// later windows are sized to answers of half the limit: no error event,
// every event once, a handful of requests a run.
func TestAnswersOverTheBodyLimitAreReadInSmallerWindows(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{})
	h.maxBody = 1 << 20
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-2 * time.Hour), To: t0.Add(2 * time.Hour), MessagesPerHour: 1700, ClicksPerHour: 300, MultiRecipient: -1, Seed: 3})
	sink := &lineSink{}
	var perRun []int
	for now := t0; !now.After(t0.Add(2*time.Hour + 40*time.Minute)); now = h.clock.Advance(5 * time.Minute) {
		before := h.sim.RequestCount()
		if res := h.run(context.Background(), sink, h.store, StreamSIEM); !res[0].Success {
			t.Fatalf("run at %v: %+v", now, res[0])
		}
		perRun = append(perRun, h.sim.RequestCount()-before)
	}
	got, errs := events(t, sink.lines(t))
	if len(errs) > 0 {
		t.Fatalf("error events %v", errs)
	}
	exactlyOnce(t, got, h.expected())
	for i, n := range perRun[1:] {
		if n > 6 {
			t.Fatalf("run %d made %d requests (%v)", i+2, n, perRun)
		}
	}
	t.Logf("%d events; requests per run %v", len(got), perRun)
}
