package pipeline

import (
	"slices"
	"sort"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// seenSet is a stream's dedup set: the digests of the keys delivered at
// the cursor's boundary. A page commits a snapshot of it, so it is kept
// ordered by time as keys arrive (vendors serve events nearly in order)
// rather than sorted from scratch on every page.
type seenSet struct {
	// keys indexes order; it is built when a page first has keys to look
	// up or add (index), not when the set is loaded: a run that finds
	// nothing new never needs it, and building it for every stream was a
	// twentieth of such a run's CPU.
	keys   map[state.Digest]struct{}
	order  []state.Seen // by At, then insertion, unless sorted is false
	sorted bool
}

func (s *seenSet) load(stored []state.Seen) {
	s.keys = nil
	s.order = append(s.order[:0], stored...)
	s.sorted = slices.IsSortedFunc(s.order, func(a, b state.Seen) int { return a.At.Compare(b.At) })
}

// index builds keys from order, keeping the first of any digest stored
// twice, as adding them one by one would.
func (s *seenSet) index() {
	if s.keys != nil {
		return
	}
	s.keys = make(map[state.Digest]struct{}, len(s.order))
	kept := s.order[:0]
	for _, k := range s.order {
		n := len(s.keys)
		s.keys[k.Digest] = struct{}{}
		if len(s.keys) > n {
			kept = append(kept, k)
		}
	}
	s.order = kept
}

func (s *seenSet) has(d state.Digest) bool {
	s.index()
	_, ok := s.keys[d]
	return ok
}

func (s *seenSet) add(d state.Digest, at time.Time) {
	s.index()
	n := len(s.keys)
	s.keys[d] = struct{}{}
	if len(s.keys) == n {
		return // already there: one map operation, not a lookup and an insert
	}
	if n := len(s.order); n > 0 && at.Before(s.order[n-1].At) {
		s.sorted = false
	}
	s.order = append(s.order, state.Seen{Digest: d, At: at})
}

// snapshot keeps the keys at or after since (the window a restart may
// overlap), at most limit of them, the newest, and returns a copy to store.
// A zero since forgets every key.
func (s *seenSet) snapshot(since time.Time, limit int) []state.Seen {
	if since.IsZero() {
		clear(s.keys)
		s.order = s.order[:0]
		s.sorted = true
		return nil
	}
	if !s.sorted {
		sort.SliceStable(s.order, func(i, j int) bool { return s.order[i].At.Before(s.order[j].At) })
		s.sorted = true
	}
	cut := sort.Search(len(s.order), func(i int) bool { return !s.order[i].At.Before(since) })
	if over := len(s.order) - cut - limit; over > 0 {
		cut += over
	}
	if cut > 0 {
		for _, k := range s.order[:cut] {
			delete(s.keys, k.Digest)
		}
		s.order = slices.Delete(s.order, 0, cut)
	}
	return slices.Clone(s.order)
}

// sameSeen reports whether two dedup sets would be stored identically
// (times to the second, as stores keep them).
func sameSeen(a, b []state.Seen) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Digest != b[i].Digest || state.SeenSeconds(a[i].At) != state.SeenSeconds(b[i].At) {
			return false
		}
	}
	return true
}
