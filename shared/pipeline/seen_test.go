package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

func TestSeenSetKeepsTheOverlapWindowNewestFirst(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s seenSet
	d := state.KeyDigest
	names := map[state.Digest]string{}
	add := func(k string, at time.Time) {
		names[d(k)] = k
		s.add(d(k), at)
	}
	s.load([]state.Seen{{Digest: d("old"), At: t0}})
	for i := 1; i <= 10; i++ {
		add(fmt.Sprint("k", i), t0.Add(time.Duration(i)*time.Minute))
	}
	add("late", t0.Add(90*time.Second)) // out of order
	add("k3", t0)                       // already there: ignored
	snap := s.snapshot(t0.Add(90*time.Second), 5)
	var keys []string
	for _, k := range snap {
		keys = append(keys, names[k.Digest])
	}
	if fmt.Sprint(keys) != "[k6 k7 k8 k9 k10]" {
		t.Fatalf("snapshot %v", keys)
	}
	if s.has(d("old")) || s.has(d("late")) || !s.has(d("k6")) {
		t.Fatal("in-memory set not trimmed like the snapshot")
	}
	snap = s.snapshot(t0.Add(9*time.Minute), 100)
	if len(snap) != 2 || snap[0].Digest != d("k9") {
		t.Fatalf("snapshot %v", snap)
	}
	if s.snapshot(time.Time{}, 100) != nil || s.has(d("k9")) {
		t.Fatal("a zero since must forget everything")
	}
}
