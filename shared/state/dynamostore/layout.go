package dynamostore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Chunking bounds (see the package documentation).
const (
	// maxChunkBytes bounds the dedup data of one chunk item.
	maxChunkBytes = 64 << 10
	// targetChunks is how many chunks a large set is spread over before
	// new keys are merged into the newest chunk instead of starting one.
	targetChunks = 32
	// minMergeBytes: a newest chunk smaller than this takes new keys in
	// (rewritten) rather than a new chunk being started.
	minMergeBytes = 1 << 10
	// maxChunks bounds the chunks of a record; beyond it chunks are
	// merged. state.MaxSeen entries fit in far fewer.
	maxChunks = 64
	// manifestFormat is the first byte of an encoded manifest.
	manifestFormat = 1
)

// chunkRef is one dedup chunk item as the head's manifest references it.
type chunkRef struct {
	slot    uint64 // the item's key is <stream key>#seen/<slot>
	gen     int64  // version of the commit that wrote the item
	written int64  // hours since the Unix epoch when it was written, rounded down
	skip    int    // leading entries of the item that are not in the set
	n       int    // entries of the item in the set, after skip
}

// manifest lists a record's chunks, oldest keys first.
type manifest struct {
	chunks []chunkRef
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// encode writes the manifest compactly (it lives in the head item, whose
// size every lease operation pays for): per chunk the slot, generation and
// write hour as deltas from the previous chunk, then skip and count.
func (m manifest) encode() []byte {
	b := make([]byte, 0, 4+len(m.chunks)*8)
	b = append(b, manifestFormat)
	b = binary.AppendUvarint(b, uint64(len(m.chunks)))
	var prev chunkRef
	for _, c := range m.chunks {
		b = binary.AppendUvarint(b, zigzag(int64(c.slot-prev.slot)))
		b = binary.AppendUvarint(b, zigzag(c.gen-prev.gen))
		b = binary.AppendUvarint(b, zigzag(c.written-prev.written))
		b = binary.AppendUvarint(b, uint64(c.skip))
		b = binary.AppendUvarint(b, uint64(c.n))
		prev = c
	}
	return b
}

func decodeManifest(b []byte) (manifest, error) {
	var m manifest
	if len(b) == 0 || b[0] != manifestFormat {
		return m, errors.New("unknown manifest format")
	}
	b = b[1:]
	next := func(what string) (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, fmt.Errorf("manifest: bad %s", what)
		}
		b = b[n:]
		return v, nil
	}
	count, err := next("chunk count")
	if err != nil {
		return m, err
	}
	if count > 4*maxChunks {
		return m, fmt.Errorf("manifest: %d chunks", count)
	}
	var prev chunkRef
	total := 0
	seenSlots := make(map[uint64]bool, count)
	for i := uint64(0); i < count; i++ {
		var c chunkRef
		var v [5]uint64
		for j, what := range []string{"slot", "generation", "write time", "skip", "count"} {
			if v[j], err = next(what); err != nil {
				return m, err
			}
		}
		c.slot = prev.slot + uint64(unzigzag(v[0]))
		c.gen = prev.gen + unzigzag(v[1])
		c.written = prev.written + unzigzag(v[2])
		if v[3] > state.MaxSeen || v[4] == 0 || v[4] > state.MaxSeen {
			return m, fmt.Errorf("manifest: chunk %d: skip %d, count %d", i, v[3], v[4])
		}
		c.skip, c.n = int(v[3]), int(v[4])
		if seenSlots[c.slot] || c.gen < 1 {
			return m, fmt.Errorf("manifest: chunk %d: slot %d repeated or generation %d", i, c.slot, c.gen)
		}
		seenSlots[c.slot] = true
		total += c.n
		m.chunks = append(m.chunks, c)
		prev = c
	}
	if total > state.MaxSeen {
		return m, fmt.Errorf("manifest: %d keys", total)
	}
	if len(b) != 0 {
		return m, errors.New("manifest: trailing bytes")
	}
	return m, nil
}

// layout is what a lease knows is stored: the manifest and the entries of
// each referenced chunk (after skip, n of them) and of the inline tail.
type layout struct {
	known   bool  // false: nothing can be reused (not loaded, or a legacy item)
	version int64 // the record version this layout belongs to
	man     manifest
	parts   [][]state.Seen // parts[i] are the set entries of man.chunks[i]
	tail    []state.Seen
}

// chunkWrite is a chunk item a commit writes: plan.man.chunks[idx].
type chunkWrite struct {
	idx  int
	data []byte
}

// plan is the outcome of planCommit.
type plan struct {
	man    manifest
	parts  [][]state.Seen
	tail   []state.Seen
	tailB  []byte // encoded tail
	writes []chunkWrite
}

// segment is a chunk of the new layout: kept as stored (ref set, entries
// nil until needed) or to be written (entries).
type segment struct {
	ref     *chunkRef
	entries []state.Seen
}

func sameEntry(a, b state.Seen) bool {
	return a.Digest == b.Digest && state.SeenSeconds(a.At) == state.SeenSeconds(b.At)
}

// estBytes estimates the encoded size of n entries (keys written close
// together in time take a 1-byte time delta).
func estBytes(n int) int { return n * (state.DigestSize + 1) }

// planCommit decides how to store seen, given the stored layout: chunks
// whose entries are still in the set, in the same order, are kept as they
// are (only their skip and count in the manifest change); the new entries
// go to the head's inline tail while headRoom bytes suffice for it and the
// manifest, and otherwise to new chunk items, whose slots alloc hands out.
// It writes chunks older than refreshHours again so that none outlives its
// retention while in use. gen is the version the commit creates; nowHours
// the current hour.
func planCommit(old *layout, seen []state.Seen, gen, nowHours, refreshHours int64, headRoom int, alloc func() uint64) plan {
	var segs []segment
	covered := 0
	if old.known {
		segs, covered = keptSegments(old, seen)
		for i := range segs {
			if segs[i].ref.written+refreshHours <= nowHours {
				segs[i].ref = nil // written again, with the same entries
			}
		}
	}
	pending := seen[covered:]

	p := plan{}
	if room := headRoom - manifestSize(segs); len(pending) > 0 && room > 0 {
		if enc := state.EncodeSeen(pending); len(enc) <= room {
			p.tail, p.tailB = pending, enc
			pending = nil
		}
	}
	if len(pending) > 0 {
		segs = appendPending(segs, pending)
	}
	segs = splitNew(segs)
	if len(segs) > maxChunks {
		segs = compact(segs)
	}
	for _, s := range segs {
		if s.ref != nil {
			p.man.chunks = append(p.man.chunks, *s.ref)
			p.parts = append(p.parts, s.entries)
			continue
		}
		ref := chunkRef{slot: alloc(), gen: gen, written: nowHours, n: len(s.entries)}
		p.man.chunks = append(p.man.chunks, ref)
		p.parts = append(p.parts, s.entries)
		p.writes = append(p.writes, chunkWrite{idx: len(p.man.chunks) - 1, data: state.EncodeSeen(s.entries)})
	}
	return p
}

// keptSegments finds where seen starts in the stored entries and keeps the
// chunks that hold the following common run, trimmed to it. It returns
// them and how many entries of seen they cover (a prefix of seen).
func keptSegments(old *layout, seen []state.Seen) ([]segment, int) {
	if len(seen) == 0 {
		return nil, 0
	}
	// Position of seen[0] among the chunks' entries.
	start, ci := -1, 0
	for i, part := range old.parts {
		for j := range part {
			if sameEntry(part[j], seen[0]) {
				start, ci = j, i
				break
			}
		}
		if start >= 0 {
			break
		}
	}
	if start < 0 {
		return nil, 0
	}
	var segs []segment
	covered := 0
	for i := ci; i < len(old.parts); i++ {
		part := old.parts[i]
		from := 0
		if i == ci {
			from = start
		}
		to := from
		for to < len(part) && covered+(to-from) < len(seen) && sameEntry(part[to], seen[covered+(to-from)]) {
			to++
		}
		if to == from {
			break
		}
		ref := old.man.chunks[i]
		ref.skip += from
		ref.n = to - from
		segs = append(segs, segment{ref: &ref, entries: part[from:to]})
		covered += to - from
		if to < len(part) {
			break // the common run ends inside this chunk
		}
	}
	return segs, covered
}

// appendPending stores new entries after the kept chunks: merged into the
// newest chunk while that one is small relative to the whole set (so a
// trickle of keys does not leave a long tail of tiny chunks), otherwise in
// new chunks of at most maxChunkBytes.
func appendPending(segs []segment, pending []state.Seen) []segment {
	total := estBytes(len(pending))
	for _, s := range segs {
		total += estBytes(len(s.entries))
	}
	threshold := max(total/targetChunks, minMergeBytes)
	if n := len(segs); n > 0 {
		last := segs[n-1]
		if lb := estBytes(len(last.entries)); lb < threshold && lb+estBytes(len(pending)) <= maxChunkBytes*9/10 {
			merged := make([]state.Seen, 0, len(last.entries)+len(pending))
			merged = append(append(merged, last.entries...), pending...)
			segs[n-1] = segment{entries: merged}
			return segs
		}
	}
	return append(segs, split(pending)...)
}

// split cuts entries into new segments of at most maxChunkBytes encoded,
// of about equal size.
func split(entries []state.Seen) []segment {
	var e state.SeenEncoder
	for _, s := range entries {
		e.Add(s)
	}
	pieces := (e.Len() + maxChunkBytes - 1) / maxChunkBytes
	if pieces <= 1 {
		return []segment{{entries: entries}}
	}
	limit := min(maxChunkBytes, (e.Len()+pieces-1)/pieces+state.MaxSeenEntryBytes)
	var out []segment
	e.Reset()
	from := 0
	for i, s := range entries {
		if e.Count() > 0 && e.Len()+e.SizeOf(s) > limit {
			out = append(out, segment{entries: entries[from:i]})
			from = i
			e.Reset()
		}
		e.Add(s)
	}
	return append(out, segment{entries: entries[from:]})
}

// splitNew cuts the segments to be written into pieces of at most
// maxChunkBytes, measured exactly (the merge rule above only estimates).
func splitNew(segs []segment) []segment {
	out := segs[:0:0]
	for _, s := range segs {
		if s.ref != nil {
			out = append(out, s)
			continue
		}
		out = append(out, split(s.entries)...)
	}
	return out
}

func exactBytes(entries []state.Seen) int {
	var e state.SeenEncoder
	for _, s := range entries {
		e.Add(s)
	}
	return e.Len()
}

// compact merges neighbouring chunks, smallest pairs first, until at most
// maxChunks remain; if no pair fits in one chunk, everything is written
// again in full chunks. Merging never grows the encoding: only the first
// entry of the second chunk changes, to a smaller time delta.
func compact(segs []segment) []segment {
	sizes := make([]int, len(segs))
	for i, s := range segs {
		sizes[i] = exactBytes(s.entries)
	}
	for len(segs) > maxChunks {
		best := -1
		for i := 0; i+1 < len(segs); i++ {
			if size := sizes[i] + sizes[i+1]; size <= maxChunkBytes && (best < 0 || size < sizes[best]+sizes[best+1]) {
				best = i
			}
		}
		if best < 0 {
			var all []state.Seen
			for _, s := range segs {
				all = append(all, s.entries...)
			}
			return split(all)
		}
		merged := append(append([]state.Seen{}, segs[best].entries...), segs[best+1].entries...)
		segs[best] = segment{entries: merged}
		sizes[best] = exactBytes(merged)
		segs = append(segs[:best+1], segs[best+2:]...)
		sizes = append(sizes[:best+1], sizes[best+2:]...)
	}
	return segs
}

// manifestSize is the encoded size of a manifest for segs (new segments
// counted with the widest fields they will get).
func manifestSize(segs []segment) int {
	if len(segs) == 0 {
		return 0
	}
	var m manifest
	for _, s := range segs {
		if s.ref != nil {
			m.chunks = append(m.chunks, *s.ref)
		} else {
			m.chunks = append(m.chunks, chunkRef{slot: 1 << 62, gen: 1 << 40, written: 1 << 30, n: len(s.entries)})
		}
	}
	return len(m.encode())
}

// flatten returns the entries of a layout or plan in order.
func flatten(parts [][]state.Seen, tail []state.Seen) []state.Seen {
	n := len(tail)
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return nil
	}
	out := make([]state.Seen, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return append(out, tail...)
}
