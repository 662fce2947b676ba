package cortexxdr

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// wazuhFields counts what Wazuh's JSON decoder makes of a decoded line:
// one field per scalar and per array, objects flattened.
func wazuhFields(v any) int {
	if m, ok := v.(map[string]any); ok {
		n := 0
		for _, e := range m {
			n += wazuhFields(e)
		}
		return n
	}
	return 1
}

func TestWideAlertIsFoldedDeterministicallyWithinWazuhsFieldLimit(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	wide := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour), Wide: 240, Severity: "critical"})
	normal := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour)})
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	lines := e.sink.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	byKey := map[string]line{lines[0].key(): lines[0], lines[1].key(): lines[1]}
	w, n := byKey[wide], byKey[normal]
	var full map[string]any
	json.Unmarshal(lines[0].raw, &full)
	if f := wazuhFields(decodeNumbers(t, w.raw)); f > event.MaxFields {
		t.Fatalf("wide alert decodes to %d fields", f)
	}
	if _, folded := n.xdr[FoldedKey]; folded {
		t.Fatal("an alert within the limit was folded")
	}
	folded, ok := w.xdr[FoldedKey].(string)
	if !ok {
		t.Fatalf("no %s in %s", FoldedKey, w.raw)
	}
	// Nothing is lost: the kept members and the folded ones together are
	// the alert as the seed's rules shape it, and the members the rules
	// use stay fields.
	var moved map[string]any
	if err := json.Unmarshal([]byte(folded), &moved); err != nil {
		t.Fatalf("folded members are not a JSON object: %v", err)
	}
	whole := maps.Clone(w.xdr)
	delete(whole, FoldedKey)
	delete(whole, "wazuh_pull")
	for k, v := range moved {
		if _, dup := whole[k]; dup || keptWhenFolding[k] {
			t.Fatalf("member %q both kept and folded, or must not move", k)
		}
		whole[k] = v
	}
	want := documented(seedBuildEvent(decodeNumbers(t, e.sim.Alert(testFQDN, wide)), "alert"))
	if canonical(whole) != canonical(want) {
		t.Fatalf("kept and folded members differ from the alert\n got  %s\n want %s", canonical(whole), canonical(want))
	}
	for _, k := range []string{"severity", "name", "host_name", "alert_id", "mitre_tactic_id_and_name", "event_timestamp"} {
		if _, ok := w.xdr[k]; !ok {
			t.Fatalf("%s was folded", k)
		}
	}
	// Per-event lists go before alert-level scalars.
	scalarMoved := false
	for _, v := range moved {
		switch v.(type) {
		case []any, map[string]any:
		default:
			scalarMoved = true
		}
	}
	for k, v := range w.xdr {
		if _, list := v.([]any); list && scalarMoved && !keptWhenFolding[k] {
			t.Fatalf("list %s kept while scalars were folded", k)
		}
	}
	// Deterministic: the same record folds the same way in another run.
	d := newDecoder(Streams()[0])
	page := []byte(`{"reply":{"total_count":1,"alerts":[` + string(e.sim.Alert(testFQDN, wide)) + `]}}`)
	r1, err := d.decode(page)
	if err != nil {
		t.Fatal(err)
	}
	first := string(r1.items[0].Raw)
	r2, _ := newDecoder(Streams()[0]).decode(page)
	if string(r2.items[0].Raw) != first || r2.items[0].Scan.Fields != r1.items[0].Scan.Fields {
		t.Fatal("folding is not deterministic")
	}
	keys := slices.Sorted(maps.Keys(moved))
	t.Logf("folded %d members: %v…", len(keys), keys[:5])
}

func TestOversizedAlertIsReducedNotDropped(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	big := e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour), Oversize: 100 << 10})
	res := e.run(context.Background(), StreamAlerts)
	mustSucceed(t, res)
	lines := e.sink.lines(t)
	if len(lines) != 1 || res[0].Reduced != 1 || len(lines[0].raw)-1 > sink.DefaultMaxLine {
		t.Fatalf("%d lines, reduced %d, %d bytes", len(lines), res[0].Reduced, len(lines[0].raw))
	}
	x := lines[0].xdr
	if x["alert_id"] != big || x["wazuh_pull"].(map[string]any)["reduced"] == nil || x["severity"] == nil {
		t.Fatalf("reduced line %.300s", lines[0].raw)
	}
}
