package cortexxdr

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
)

// seedTimestampFields is the seed's _TIMESTAMP_FIELDS (cortex_xdr_utils.py).
var seedTimestampFields = map[string]bool{
	"creation_time": true, "modification_time": true, "detection_time": true, "resolved_timestamp": true,
	"local_insert_ts": true, "last_modified_ts": true, "detection_timestamp": true, "end_match_attempt_ts": true,
	"event_timestamp": true, "causality_actor_process_execution_time": true,
	"dst_causality_actor_process_execution_time": true, "agent_host_boot_time": true,
}

// seedMsToISO is the seed's _ms_to_iso: a positive integer becomes
// "YYYY-MM-DDTHH:MM:SS.mmmZ"; anything else None.
func seedMsToISO(v any) any {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(n.String(), ".eE") {
		return nil
	}
	ms, err := n.Int64()
	if err != nil || ms <= 0 {
		return nil
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05") + "." + n.String()[len(n.String())-3:] + "Z"
}

// seedConvertTS is the seed's _convert_ts_field: lists keep their
// convertible elements (None when none is left), scalars convert.
func seedConvertTS(v any) any {
	if list, ok := v.([]any); ok {
		var out []any
		for _, e := range list {
			if iso := seedMsToISO(e); iso != nil {
				out = append(out, iso)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return seedMsToISO(v)
}

// seedBuildEvent is the seed's build_event, written from its rules rather
// than from our code: {"type": type} plus every top-level member of the
// record that is not None, timestamp fields converted (and dropped when
// the conversion gives None).
func seedBuildEvent(rec map[string]any, eventType string) map[string]any {
	inner := map[string]any{"type": eventType}
	for k, v := range rec {
		if v == nil {
			continue
		}
		if seedTimestampFields[k] {
			if v = seedConvertTS(v); v == nil {
				continue
			}
		}
		inner[k] = v
	}
	return inner
}

// documented applies the differences from the seed listed in README.md:
// nulls are dropped at any depth and empty strings as members; integers
// beyond 32 bits become strings; our "type" wins over a vendor member of
// that name.
func documented(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e == nil || e == "" {
				continue
			}
			out[k] = documented(e)
		}
		return out
	case []any:
		out := []any{}
		for _, e := range x {
			if e != nil {
				out = append(out, documented(e))
			}
		}
		return out
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := x.Int64(); err != nil || n > 2147483647 || n < -2147483648 {
				return s
			}
		}
	}
	return v
}

func decodeNumbers(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	return v
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEventsAreTheSeedShapeFieldForField(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	ids := someAlerts(e, 300)
	special := []string{
		`{"alert_id":88231,"type":"vendor says","case_id":4294967296,"name":"quote \" back\\slash é ✓ \u0001","severity":"high",` +
			`"host_ip":["10.0.0.1",null,""],"dynamic_fields":{"a":null,"b":"","c":[null],"d":{}},"local_insert_ts":` + itoa(t0.Add(-90*time.Minute).UnixMilli()) +
			`,"event_timestamp":[0,-5,1740916794500],"last_modified_ts":0,"agent_host_boot_time":[0],"end_match_attempt_ts":-1,"tags":[]}`,
		`{"alert_id":"9007199254740993","local_insert_ts":` + itoa(t0.Add(-80*time.Minute).UnixMilli()) + `,"story_id":-3000000000,"score":1.5e3,"empty":""}`,
	}
	for i, raw := range special {
		ids = append(ids, e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Duration(90-10*i) * time.Minute), Raw: []byte(raw)}))
	}
	for i := 0; i < 5; i++ {
		inc := e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: t0.Add(-time.Duration(5-i) * time.Hour)})
		e.sim.ChangeIncident(testFQDN, inc, cortexxdrtest.IncidentChange{At: t0.Add(-time.Duration(4-i)*time.Hour - 10*time.Minute), Status: "resolved_true_positive", ResolveComment: "done"})
	}
	res := e.run(context.Background())
	mustSucceed(t, res)
	for _, r := range res {
		// Reshaped once by the decoder, copied by the builder.
		if r.Unclassified != 0 || r.Copied != r.Events {
			t.Fatalf("%s: %d of %d events copied, %d unclassified", r.Name, r.Copied, r.Events, r.Unclassified)
		}
	}
	got := map[string]map[string]any{}
	for _, l := range e.sink.lines(t) {
		meta := l.meta
		if meta["tenant"] != "default" || meta["run_id"] != "run" || (meta["stream"] != "alerts" && meta["stream"] != "incidents") {
			t.Fatalf("metadata %v", meta)
		}
		delete(l.xdr, "wazuh_pull")
		got[l.typ()+"/"+l.key()] = l.xdr
	}
	n := 0
	for _, id := range ids {
		want := documented(seedBuildEvent(decodeNumbers(t, e.sim.Alert(testFQDN, id)), "alert")).(map[string]any)
		want["type"] = "alert"
		if g := canonical(got["alert/"+id]); g != canonical(want) {
			t.Fatalf("alert %s differs from the seed's build_event\n got  %s\n want %s", id, g, canonical(want))
		}
		n++
	}
	for _, v := range e.sim.IncidentVersions(testFQDN) {
		if v.Status != "resolved_true_positive" {
			continue // replaced before the first run: never visible
		}
		want := documented(seedBuildEvent(decodeNumbers(t, v.Raw), "incident"))
		if g := canonical(got["incident/"+v.Key()]); g != canonical(want) {
			t.Fatalf("incident %s differs from the seed's build_event\n got  %s\n want %s", v.Key(), g, canonical(want))
		}
		n++
	}
	if n != len(got) || n != len(ids)+5 {
		t.Fatalf("compared %d events, received %d", n, len(got))
	}
	// The special alert shows the seed's time rules and ours together.
	sp := got["alert/88231"]
	if canonical(sp["event_timestamp"]) != `["2025-03-02T11:59:54.500Z"]` || sp["last_modified_ts"] != nil || sp["agent_host_boot_time"] != nil ||
		sp["end_match_attempt_ts"] != nil || sp["case_id"] != "4294967296" || sp["type"] != "alert" {
		t.Fatalf("special alert %v", canonical(sp))
	}
}

// A timestamp field whose value is not an integer is kept as it came:
// the seed dropped it, losing what the API said.
func TestUninterpretableTimestampIsKept(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	e.sim.AddAlert(testFQDN, cortexxdrtest.AlertSpec{Inserted: t0.Add(-time.Hour), Raw: []byte(
		`{"alert_id":"1","local_insert_ts":` + itoa(t0.Add(-time.Hour).UnixMilli()) + `,"detection_timestamp":"2025-03-02T11:59:54Z","event_timestamp":[1.5,"x",7]}`)})
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	x := e.sink.lines(t)[0].xdr
	if x["detection_timestamp"] != "2025-03-02T11:59:54Z" || canonical(x["event_timestamp"]) != `[1.5,"x","1970-01-01T00:00:00.007Z"]` {
		t.Fatalf("got %s", e.sink.lines(t)[0].raw)
	}
}

func TestErrorEventHasTheSeedFields(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Unlicensed: []string{"incidents"}}, cortexxdrtest.Key{})
	e.run(context.Background(), StreamIncidents)
	errs := errorLines(t, e.sink)
	if len(errs) != 1 {
		t.Fatalf("%d error events", len(errs))
	}
	x := errs[0].xdr
	delete(x, "wazuh_pull")
	// The seed's: type, error_source, error_message, error_code. Ours add
	// timestamp and error_detail.
	want := map[string]bool{"type": true, "error_source": true, "error_message": true, "error_code": true, "timestamp": true, "error_detail": true}
	for k := range x {
		if !want[k] {
			t.Fatalf("unexpected member %q in %s", k, errs[0].raw)
		}
		delete(want, k)
	}
	if len(want) != 0 || x["type"] != "error" || x["error_source"] != "incidents" {
		t.Fatalf("error event %s lacks %v", errs[0].raw, want)
	}
}
