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
	s.load([]state.Seen{{Key: "old", At: t0}})
	for i := 1; i <= 10; i++ {
		s.add(fmt.Sprint("k", i), t0.Add(time.Duration(i)*time.Minute))
	}
	s.add("late", t0.Add(90*time.Second)) // out of order
	s.add("k3", t0)                       // already there: ignored
	snap := s.snapshot(t0.Add(90*time.Second), 5)
	var keys []string
	for _, k := range snap {
		keys = append(keys, k.Key)
	}
	if fmt.Sprint(keys) != "[k6 k7 k8 k9 k10]" {
		t.Fatalf("snapshot %v", keys)
	}
	if s.has("old") || s.has("late") || !s.has("k6") {
		t.Fatal("in-memory set not trimmed like the snapshot")
	}
	snap = s.snapshot(t0.Add(9*time.Minute), 100)
	if len(snap) != 2 || snap[0].Key != "k9" {
		t.Fatalf("snapshot %v", snap)
	}
	if s.snapshot(time.Time{}, 100) != nil || s.has("k9") {
		t.Fatal("a zero since must forget everything")
	}
}
