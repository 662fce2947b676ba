package onepasswordbench

import (
	"encoding/json"
	"testing"
	"time"
)

// The generator is deterministic, its events are valid JSON objects with
// increasing times, and its sizes are those the package documents.
func TestDistribution(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := NewGen(7, start, 300*time.Millisecond, 30000)
	h := NewGen(7, start, 300*time.Millisecond, 30000)
	var sizes [3]int
	for s := 0; s < 3; s++ {
		prev := time.Time{}
		for i := 0; i < g.Len(); i++ {
			ev := g.Append(nil, s, i)
			if string(ev) != string(h.Append(nil, s, i)) {
				t.Fatalf("stream %d event %d differs between two generators", s, i)
			}
			var m map[string]any
			if err := json.Unmarshal(ev, &m); err != nil {
				t.Fatalf("stream %d event %d: %v: %s", s, i, err, ev)
			}
			ts, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
			if err != nil || ts.Before(prev) || !ts.Equal(g.Time(s, i)) {
				t.Fatalf("stream %d event %d: time %v after %v (%v)", s, i, ts, prev, err)
			}
			prev = ts
			sizes[s] += len(ev)
		}
	}
	st := Measure(g, 30000)
	t.Logf("%+v", st)
	for s, want := range [3][2]int{{900, 1000}, {680, 740}, {680, 740}} {
		mean := sizes[s] / g.Len()
		if mean < want[0] || mean > want[1] {
			t.Errorf("stream %d: mean %d bytes, documented %d–%d", s, mean, want[0], want[1])
		}
	}
	if st.Mean < 760 || st.Mean > 810 || st.NullDetails < 9000 || st.LongTail < 300 || st.LongTail > 700 {
		t.Errorf("%+v: not the documented distribution", st)
	}
	if i := g.Index(1, g.Time(1, 500)); g.Time(1, i) != g.Time(1, 500) || (i > 0 && !g.Time(1, i-1).Before(g.Time(1, 500))) {
		t.Errorf("Index found %d for the time of event 500", i)
	}
}
