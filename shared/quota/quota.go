// Package quota counts requests against a vendor's rolling-window limit
// ("1 800 requests in any 24 hours"), compactly enough to travel with a
// stream's cursor and be committed after every page.
//
// Requests are counted in coarse time buckets. A request is assumed to
// have been made at the end of its bucket, so it is counted for up to one
// bucket longer than the vendor counts it: the counter may say a little
// less is left than really is, never more.
package quota

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Rolling counts the requests of one pool over a rolling window. The zero
// value is not usable: make one with New.
type Rolling struct {
	limit  int
	window time.Duration
	bucket time.Duration

	from   int64 // unix seconds at which counts[0]'s bucket starts
	counts []int // requests per bucket, oldest first
}

// New returns an empty counter for limit requests per window, in buckets
// of bucket (which must divide the window into at most 10 000 parts).
func New(limit int, window, bucket time.Duration) (*Rolling, error) {
	switch {
	case limit <= 0:
		return nil, fmt.Errorf("quota: limit %d must be positive", limit)
	case bucket < time.Second || bucket%time.Second != 0:
		return nil, fmt.Errorf("quota: bucket %v must be whole seconds", bucket)
	case window < bucket || window/bucket > 10000:
		return nil, fmt.Errorf("quota: window %v must hold 1 to 10 000 buckets of %v", window, bucket)
	}
	return &Rolling{limit: limit, window: window, bucket: bucket}, nil
}

// Limit is the number of requests allowed per window.
func (r *Rolling) Limit() int { return r.limit }

func (r *Rolling) bucketSecs() int64 { return int64(r.bucket / time.Second) }

// bucketStart is the start (unix seconds) of the bucket holding t.
func (r *Rolling) bucketStart(t time.Time) int64 {
	s := t.Unix()
	b := r.bucketSecs()
	s -= ((s % b) + b) % b
	return s
}

// expired reports whether the bucket starting at start no longer counts at now.
func (r *Rolling) expired(start int64, now time.Time) bool {
	end := time.Unix(start+r.bucketSecs(), 0)
	return !end.Add(r.window).After(now)
}

// prune drops buckets that no longer count.
func (r *Rolling) prune(now time.Time) {
	drop := 0
	for drop < len(r.counts) && r.expired(r.from+int64(drop)*r.bucketSecs(), now) {
		drop++
	}
	if drop == len(r.counts) {
		r.counts, r.from = r.counts[:0], 0
		return
	}
	r.counts = r.counts[drop:]
	r.from += int64(drop) * r.bucketSecs()
	// Leading empty buckets carry no information.
	for len(r.counts) > 0 && r.counts[0] == 0 {
		r.counts = r.counts[1:]
		r.from += r.bucketSecs()
	}
}

// Spend records n requests made at now.
func (r *Rolling) Spend(now time.Time, n int) {
	if n <= 0 {
		return
	}
	r.prune(now)
	b := r.bucketStart(now)
	if len(r.counts) == 0 {
		r.from = b
		r.counts = append(r.counts, n)
		return
	}
	if b < r.from {
		// A clock that went backwards: count it in the oldest bucket,
		// which keeps the request counted for at least as long.
		r.counts[0] += n
		return
	}
	i := int((b - r.from) / r.bucketSecs())
	for len(r.counts) <= i {
		r.counts = append(r.counts, 0)
	}
	r.counts[i] += n
}

// Used is the number of requests still counted at now.
func (r *Rolling) Used(now time.Time) int {
	n := 0
	for i, c := range r.counts {
		if !r.expired(r.from+int64(i)*r.bucketSecs(), now) {
			n += c
		}
	}
	return n
}

// Left is how many requests may still be made at now.
func (r *Rolling) Left(now time.Time) int { return max(r.limit-r.Used(now), 0) }

// AvailableAt is the earliest time, not before now, at which Left is at
// least n. It returns now when that is already the case, and the zero
// time when n exceeds the limit.
func (r *Rolling) AvailableAt(now time.Time, n int) time.Time {
	if n > r.limit {
		return time.Time{}
	}
	used := r.Used(now)
	if r.limit-used >= n {
		return now
	}
	for i, c := range r.counts {
		start := r.from + int64(i)*r.bucketSecs()
		if r.expired(start, now) || c == 0 {
			continue
		}
		used -= c
		if r.limit-used >= n {
			return time.Unix(start+r.bucketSecs(), 0).Add(r.window).UTC()
		}
	}
	return now // not reached: all buckets expired means used is 0
}

// stored is the persisted form: {"b":600,"from":1740000000,"n":[2,2,0,3]}.
type stored struct {
	Bucket int64 `json:"b"`
	From   int64 `json:"from"`
	Counts []int `json:"n"`
}

// MarshalJSON writes the counts.
func (r *Rolling) MarshalJSON() ([]byte, error) {
	counts := r.counts
	if counts == nil {
		counts = []int{}
	}
	return json.Marshal(stored{Bucket: r.bucketSecs(), From: r.from, Counts: counts})
}

// Load replaces the counts with a stored form (as written by MarshalJSON),
// keeping this counter's limit, window and bucket. Counts stored with
// another bucket size are moved to the bucket holding their old bucket's
// last instant, so no request is forgotten early.
func (r *Rolling) Load(raw []byte, now time.Time) error {
	var s stored
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("quota: stored counts: %w", err)
	}
	if s.Bucket <= 0 {
		return errors.New("quota: stored counts have no bucket size")
	}
	if s.Bucket > int64(100*365*24*time.Hour/time.Second) || s.From < -1<<40 || s.From > 1<<40 {
		return errors.New("quota: stored counts have an impossible time range")
	}
	if len(s.Counts) > 100000 {
		return fmt.Errorf("quota: %d stored buckets are more than any window holds", len(s.Counts))
	}
	for _, c := range s.Counts {
		if c < 0 {
			return errors.New("quota: a stored count is negative")
		}
	}
	r.counts, r.from = r.counts[:0], 0
	for i, c := range s.Counts {
		if c == 0 {
			continue
		}
		last := time.Unix(s.From+int64(i+1)*s.Bucket-1, 0)
		if !last.Add(time.Second).Add(r.window).After(now) {
			continue // expired under the stored bucket size already
		}
		if limit := now.Add(r.window); last.After(limit) {
			// Stamped in the future (a clock that went back, or a
			// damaged record): keep it counted for a whole window
			// beyond now, and the counts bounded.
			last = limit
		}
		r.spendAt(last, c)
	}
	r.prune(now)
	return nil
}

// spendAt adds n requests at t without pruning (t may lie in the past).
func (r *Rolling) spendAt(t time.Time, n int) {
	b := r.bucketStart(t)
	if len(r.counts) == 0 {
		r.from = b
		r.counts = append(r.counts, n)
		return
	}
	if b < r.from {
		grow := int((r.from - b) / r.bucketSecs())
		r.counts = append(make([]int, grow), r.counts...)
		r.from = b
	}
	i := int((b - r.from) / r.bucketSecs())
	for len(r.counts) <= i {
		r.counts = append(r.counts, 0)
	}
	r.counts[i] += n
}
