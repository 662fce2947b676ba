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

// TestSnapshotIsNotChangedByTheSet: a snapshot waits for its commit while
// the next page's keys are added and trimmed; whatever the set does next
// (grow, drop keys from the front, compact, sort late keys, forget every
// key), the snapshot reads what it was given, and appending to it does
// not reach the set.
func TestSnapshotIsNotChangedByTheSet(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	d := func(i int) state.Digest { return state.KeyDigest(fmt.Sprint("k", i)) }
	var s seenSet
	s.load(nil)
	var snaps [][]state.Seen
	var copies [][]state.Seen
	for page := 0; page < 40; page++ {
		for i := page * 100; i < page*100+100; i++ {
			s.add(d(i), at(i))
		}
		if page%7 == 3 {
			s.add(d(100000+page), at(page*100-250)) // late: the set sorts itself
		}
		snap := s.snapshot(at(page*100-150), 1000) // keeps about 250 keys
		snaps = append(snaps, snap)
		copies = append(copies, append([]state.Seen(nil), snap...))
		_ = append(snap, state.Seen{Digest: d(-1), At: at(0)}) // a consumer's append
	}
	s.snapshot(time.Time{}, 1000)
	s.add(d(-2), at(0))
	for i := 5000; i < 9000; i++ { // over every slot the arrays had
		s.add(d(i), at(i))
	}
	for p := range snaps {
		if len(snaps[p]) != len(copies[p]) {
			t.Fatalf("snapshot %d: length %d, was %d", p, len(snaps[p]), len(copies[p]))
		}
		for i := range snaps[p] {
			if snaps[p][i] != copies[p][i] {
				t.Fatalf("snapshot %d changed at %d: %v, was %v", p, i, snaps[p][i], copies[p][i])
			}
		}
	}
	if s.has(d(-1)) || !s.has(d(-2)) || s.has(d(3999)) {
		t.Fatal("the set after forgetting everything holds the wrong keys")
	}
}

// TestSeenSetIndexesOnlyWhenKeysAreLookedUp: loading and trimming a set
// builds no index (a run that finds nothing new never needs one), and
// once it is built the set behaves as if its keys had been added one by
// one: a digest stored twice is kept once, out-of-order times are sorted.
func TestSeenSetIndexesOnlyWhenKeysAreLookedUp(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := state.KeyDigest
	stored := []state.Seen{{Digest: d("a"), At: t0.Add(time.Minute)}, {Digest: d("b"), At: t0}, {Digest: d("a"), At: t0.Add(2 * time.Minute)}, {Digest: d("c"), At: t0.Add(3 * time.Minute)}}
	var idle seenSet
	idle.load(stored)
	snap := idle.snapshot(t0.Add(30*time.Second), 100)
	if idle.keys != nil {
		t.Fatal("a load and a snapshot built the index")
	}
	if len(snap) != 3 || snap[0].Digest != d("a") || snap[2].Digest != d("c") {
		t.Fatalf("idle snapshot %v", snap)
	}
	var busy seenSet
	busy.load(stored)
	if !busy.has(d("a")) || !busy.has(d("b")) || busy.has(d("z")) {
		t.Fatal("lookups after load")
	}
	busy.add(d("z"), t0.Add(4*time.Minute))
	snap = busy.snapshot(t0, 100)
	var got []string
	for _, k := range snap {
		for _, n := range []string{"a", "b", "c", "z"} {
			if k.Digest == d(n) {
				got = append(got, n)
			}
		}
	}
	if fmt.Sprint(got) != "[b a c z]" {
		t.Fatalf("snapshot after lookups holds %v, want [b a c z]: a once, at its first time", got)
	}
	if stored[0].Digest != d("a") || stored[1].Digest != d("b") || len(stored) != 4 {
		t.Fatal("the loaded record's own slice was changed")
	}
}
