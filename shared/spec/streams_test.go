package spec

import (
	"slices"
	"testing"
)

type testStream struct{ name, path string }

func (s testStream) StreamName() string { return s.name }

func TestStreamTables(t *testing.T) {
	defs := []testStream{{"alerts", "/a"}, {"incidents", "/i"}}
	if got := StreamNames(defs); !slices.Equal(got, []string{"alerts", "incidents"}) {
		t.Errorf("StreamNames = %v", got)
	}
	if s, ok := FindStream(defs, "incidents"); !ok || s.path != "/i" {
		t.Errorf("FindStream(incidents) = %v, %v", s, ok)
	}
	if s, ok := FindStream(defs, "audit"); ok || s != (testStream{}) {
		t.Errorf("FindStream(audit) = %v, %v", s, ok)
	}
}
