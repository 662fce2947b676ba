package cortexxdr

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

func TestParseLegacy(t *testing.T) {
	for in, want := range map[string]int64{
		`1740916801235`: 1740916801235, `"1740916801235"`: 1740916801235, `1.740916801235e12`: 1740916801235,
		`null`: 0, ``: 0,
	} {
		l, err := ParseLegacy(json.RawMessage(in))
		if err != nil || l.CursorMillis != want {
			t.Errorf("ParseLegacy(%s) = %v, %v", in, l, err)
		}
	}
	// Epoch seconds, or a value within AdoptOverlap of 1970, is not a
	// cursor the seed wrote: taking it would start before 1970.
	for _, bad := range []string{`"soon"`, `-5`, `0`, `{}`, `1.5`, `[1]`, `1740916801`, `3600000`} {
		if _, err := ParseLegacy(json.RawMessage(bad)); err == nil {
			t.Errorf("ParseLegacy(%s) accepted", bad)
		}
	}
}

// The seed ran until the outage: its state file holds alerts_cursor, the
// newest creation_time it delivered + 1 ms, and incidents_cursor, the
// newest modification_time + 1 ms. Alerts it never saw (detected later,
// or uploaded late by an endpoint that was offline) must all arrive once
// the state file is adopted.
func TestSeedStateFileIsAdoptedWithoutLoss(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	seedLast := t0.Add(-6 * time.Hour) // the seed's last run
	// Delivered by the seed: detected and inserted before its last run.
	var before []cortexxdrtest.AlertSpec
	for i := 0; i < 200; i++ {
		at := seedLast.Add(-time.Duration(200-i) * time.Minute)
		before = append(before, cortexxdrtest.AlertSpec{Inserted: at, Detected: at.Add(-3 * time.Second)})
	}
	seedDelivered := e.sim.AddAlerts(testFQDN, before)
	alertsCursor := before[len(before)-1].Detected.UnixMilli() + 1
	// Not delivered: an alert inserted while the seed's last run paged
	// (detected before the cursor), newer alerts, and late uploads.
	missed := e.sim.AddAlerts(testFQDN, []cortexxdrtest.AlertSpec{{Inserted: seedLast.Add(-20 * time.Second), Detected: seedLast.Add(-2 * time.Minute), Lag: 50 * time.Second}})
	var after []cortexxdrtest.AlertSpec
	for i := 0; i < 300; i++ {
		at := seedLast.Add(time.Duration(i) * time.Minute)
		sp := cortexxdrtest.AlertSpec{Inserted: at}
		if i%10 == 0 {
			sp.Detected = seedLast.Add(-4 * time.Hour) // older than the seed's cursor
		}
		after = append(after, sp)
	}
	missed = append(missed, e.sim.AddAlerts(testFQDN, after)...)
	// Incidents: one the seed saw last, one changed after its run.
	old := e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: seedLast.Add(-time.Hour)})
	incidentsCursor := seedLast.Add(-time.Hour).UnixMilli() + 1
	changed := e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: seedLast.Add(-2 * time.Hour)})
	e.sim.ChangeIncident(testFQDN, changed, cortexxdrtest.IncidentChange{At: seedLast.Add(time.Hour), Status: "resolved_false_positive"})

	// The seed's state file, as its save_state wrote it.
	doc := map[string]any{"alerts_cursor": alertsCursor, "incidents_cursor": incidentsCursor}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(e.path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	store, err := filestore.New(e.path)
	if err != nil {
		t.Fatal(err)
	}
	legacy := map[string]Legacy{}
	var top map[string]json.RawMessage
	raw, _ := os.ReadFile(e.path)
	json.Unmarshal(raw, &top)
	for _, s := range StreamNames() {
		if legacy[s], err = ParseLegacy(top[s+"_cursor"]); err != nil {
			t.Fatal(err)
		}
	}
	mustSucceed(t, e.runWith(context.Background(), store, pipeline.Budget{}, legacy))
	d := delivered(t, e.sink)
	for _, id := range missed {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s the seed never delivered arrived %d times", id, d["alert"][id])
		}
	}
	// Re-sent: only what the seed delivered in the hour before its cursor.
	resent := 0
	for i, id := range seedDelivered {
		if d["alert"][id] > 0 {
			resent++
			if before[i].Inserted.UnixMilli() < alertsCursor-time.Hour.Milliseconds() {
				t.Fatalf("alert %s from long before the seed's cursor was re-sent", id)
			}
		}
	}
	if resent == 0 || resent > 61 {
		t.Fatalf("%d alerts re-sent from the adoption overlap", resent)
	}
	if d["incident"][changed+":"+itoa(seedLast.Add(time.Hour).UnixMilli())] != 1 || d["incident"][old+":"+itoa(seedLast.Add(-time.Hour).UnixMilli())] != 1 {
		t.Fatalf("incidents %v", d["incident"])
	}
	// The seed's keys stay in the file beside ours; a second run resumes
	// from our own cursor, not from the seed's again.
	after2, _ := os.ReadFile(e.path)
	if json.Unmarshal(after2, &top); string(top["alerts_cursor"]) != itoa(alertsCursor) {
		t.Fatalf("seed key changed: %s", after2)
	}
	e.sink = &recordingSink{}
	mustSucceed(t, e.runWith(context.Background(), store, pipeline.Budget{}, legacy))
	if d := delivered(t, e.sink); len(d["alert"])+len(d["incident"]) != 0 {
		t.Fatalf("second run re-sent %d alerts", len(d["alert"]))
	}
}

func TestBackfillReadsTheLookbackAndTouchesNoState(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	ids := someAlerts(e, 120)
	// A normal run first, so a cursor exists.
	mustSucceed(t, e.run(context.Background()))
	before, _ := os.ReadFile(e.path)
	e.sink = &recordingSink{}
	e.clock.Advance(time.Minute) // an alert of the last minute: a backfill reads up to now
	recent := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: e.clock.Now().Add(-10 * time.Second)})
	c := e.collector()
	var streams []pipeline.Stream
	for _, def := range Streams() {
		streams = append(streams, pipeline.Stream{Key: e.streams(c, nil, def.Name)[0].Key, Name: def.Name, Source: c.NewBackfill(def)})
	}
	r, _ := pipeline.New(pipeline.Config{Envelope: Envelope(), EpochMillis: EpochMillis(), RunID: "all", Sink: e.sink, Now: e.clock.Now})
	mustSucceed(t, r.Run(context.Background(), streams))
	d := delivered(t, e.sink)
	if len(d["alert"]) != len(ids)+1 || d["alert"][recent] != 1 {
		t.Fatalf("backfill delivered %d of %d alerts", len(d["alert"]), len(ids)+1)
	}
	if after, _ := os.ReadFile(e.path); string(after) != string(before) {
		t.Fatal("backfill changed the state file")
	}
}
