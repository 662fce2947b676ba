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
// about 1 800 events an hour and TAP assembles at most 400 in one answer.
// Each failure ends its run with an error event and halves the window;
// the windows then stay small while they are busy, so the burst is read
// with a handful of failures, not one per run, and every event comes out
// exactly once. Later, quiet windows grow back to the full hour.
func TestWindowTooLargeToAssembleIsReadInSmallerWindows(t *testing.T) {
	h := newHarness(t, proofpointtest.Options{MaxAssembled: 400})
	h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-3 * time.Hour), To: t0.Add(-time.Hour), MessagesPerHour: 1500, ClicksPerHour: 300, MultiRecipient: -1, MaxIndexLag: -1, Seed: 7})
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
