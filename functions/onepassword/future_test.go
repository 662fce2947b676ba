package onepassword

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// TestFarFutureEventDoesNotMoveTheRestartPoint: last_ts, where a refused
// cursor restarts, never goes past now plus a small skew, however far in
// the future an event's timestamp is; a stored far-future last_ts (written
// before this was enforced) is clamped on start.
func TestFarFutureEventDoesNotMoveTheRestartPoint(t *testing.T) {
	now := time.Now().UTC()
	sim := onepasswordtest.New(onepasswordtest.Options{})
	defer sim.Close()
	tok := sim.AddAccount("a", onepasswordtest.Account{Seed: 7})
	sim.Generate("a", onepasswordtest.StreamAuditEvents, 3, now.Add(-time.Hour), time.Minute)
	future := sim.GenerateOne("a", onepasswordtest.StreamAuditEvents, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newCollector(t, sim, tok, func() time.Time { return now })
	src := c.NewSource(Streams()[0], Legacy{})
	if err := src.Start(context.Background(), state.Record{}); err != nil {
		t.Fatal(err)
	}
	page, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 4 || page.Items[3].Key != future {
		t.Fatalf("got %d items; the far-future event must still be delivered", len(page.Items))
	}
	var cur Cursor
	if err := json.Unmarshal(page.Cursor, &cur); err != nil {
		t.Fatal(err)
	}
	limit := now.Add(pipeline.MaxFutureSkew)
	if !cur.LastTS.Equal(limit) {
		t.Fatalf("last_ts = %s, want it clamped to now + %s = %s", cur.LastTS, pipeline.MaxFutureSkew, limit)
	}
	if !page.SeenSince.Equal(limit.Add(-c.cfg.Overlap)) {
		t.Fatalf("SeenSince = %s", page.SeenSince)
	}

	src = c.NewSource(Streams()[0], Legacy{})
	if err := src.Start(context.Background(), state.Record{Version: 3, Cursor: json.RawMessage(`{"cursor":"x","last_ts":"2999-01-01T00:00:00Z"}`)}); err != nil {
		t.Fatal(err)
	}
	if at, _ := src.restartPoint(); !at.Equal(limit.Add(-c.cfg.Overlap)) {
		t.Fatalf("a stored far-future last_ts restarts at %s, want %s", at, limit.Add(-c.cfg.Overlap))
	}
}
