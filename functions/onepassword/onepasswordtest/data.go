package onepasswordtest

import (
	"math"
	"sort"
)

// segment is a run of events in ingestion order. A generated run stores
// only its first timestamp and step, so Generate(…, 1_000_000, …) costs one
// segment; an explicit event (Ingest, late, oversized, special) stores its
// bytes. Segments are immutable once appended: requests take a snapshot of
// the slice under the lock and read it without holding the lock.
type segment struct {
	first uint64 // sequence number of the first event
	n     uint64

	// Generated runs: timestamp of event i is trunc(start + i*step).
	start, step int64

	// Explicit events (n == 1).
	raw  []byte
	ts   int64 // filter timestamp (unix ns)
	uuid string
}

func (sg *segment) explicit() bool { return sg.raw != nil }

// tsAt returns the filter timestamp of local index i, truncated to the
// stream's printed precision so that filtering agrees with what the client
// sees in the event.
func (sg *segment) tsAt(i uint64, digits int) int64 {
	if sg.explicit() {
		return sg.ts
	}
	return truncNanos(sg.start+int64(i)*sg.step, digits)
}

// matchRange returns the local index range [a, b) of events whose timestamp
// lies in [lo, hi). Timestamps in a generated run are monotonic (step may be
// zero for bursts, or negative to simulate out-of-order arrival), so the
// matching events are contiguous and found by binary search instead of a
// scan over a million events.
func (sg *segment) matchRange(lo, hi int64, digits int) (uint64, uint64) {
	if sg.explicit() {
		if sg.ts >= lo && sg.ts < hi {
			return 0, 1
		}
		return 0, 0
	}
	n := int(sg.n)
	at := func(i int) int64 { return sg.tsAt(uint64(i), digits) }
	var a, b int
	if sg.step >= 0 {
		a = sort.Search(n, func(i int) bool { return at(i) >= lo })
		b = sort.Search(n, func(i int) bool { return at(i) >= hi })
	} else {
		a = sort.Search(n, func(i int) bool { return at(i) < hi })
		b = sort.Search(n, func(i int) bool { return at(i) < lo })
	}
	if b < a {
		b = a
	}
	return uint64(a), uint64(b)
}

// stream is one account's event log for one endpoint.
type stream struct {
	segs  []segment
	total uint64
}

// span is a contiguous run of selected events inside one segment.
type span struct {
	seg      *segment
	from, to uint64 // local indices [from, to)
}

// selection is the outcome of scanning for a page.
type selection struct {
	spans   []span
	count   int
	next    uint64 // position for the returned cursor
	hasMore bool
}

// noUpperBound marks an open-ended filter (ResetCursor without end_time).
const noUpperBound = math.MaxInt64

// selectPage picks up to limit events with sequence >= pos whose timestamp
// is in [lo, hi), in ingestion order. has_more is exact: it is true only if
// a further matching event exists right now. When the page is not full the
// cursor moves to the end of the log, so events ingested later (including
// late arrivals with old timestamps, if they match the filter) are returned
// by the next poll with the same cursor.
func selectPage(segs []segment, total, pos uint64, limit int, lo, hi int64, digits int) selection {
	var sel selection
	if pos >= total || lo >= hi {
		sel.next = max(pos, total)
		if lo >= hi {
			sel.next = pos // an empty window never matches; keep the position
		}
		return sel
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first+segs[i].n > pos })
	for ; i < len(segs); i++ {
		sg := &segs[i]
		a, b := sg.matchRange(lo, hi, digits)
		if start := pos - min(pos, sg.first); a < start {
			a = start
		}
		if a >= b {
			continue
		}
		if sel.count == limit {
			sel.hasMore = true
			return sel
		}
		take := min(b-a, uint64(limit-sel.count))
		sel.spans = append(sel.spans, span{seg: sg, from: a, to: a + take})
		sel.count += int(take)
		sel.next = sg.first + a + take
		if a+take < b {
			sel.hasMore = true
			return sel
		}
	}
	sel.next = total
	return sel
}
