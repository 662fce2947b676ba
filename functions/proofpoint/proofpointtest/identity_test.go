package proofpointtest

import (
	"encoding/json"
	"testing"
	"time"
)

func TestLineIdentityRecomputesTheEventIdentity(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Generate("acme", Traffic{From: t0.Add(-2 * time.Hour), To: t0, MessagesPerHour: 40, ClicksPerHour: 20})
	events := f.srv.Events("acme")
	if len(events) == 0 {
		t.Fatal("no events generated")
	}
	for _, e := range events {
		var pp map[string]any
		if err := json.Unmarshal(e.Raw, &pp); err != nil {
			t.Fatalf("event %s: %v", e.Identity, err)
		}
		pp["event_type"] = e.Type // what the collector adds
		if got := LineIdentity(pp); got != e.Identity {
			t.Fatalf("identity %q, the simulator says %q (%s)", got, e.Identity, e.Raw)
		}
	}
	if got := LineIdentity(map[string]any{"event_type": "run_summary", "id": "x"}); got != "" {
		t.Fatalf("a run summary has identity %q", got)
	}
}
