package jsonscan

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// The fast path of Strip. Vendors send compact JSON whose bytes Strip
// mostly copies as they are, so instead of appending token by token, the
// fast path walks the source once and copies it in runs, cutting only what
// Strip changes (null and "" members, null elements, converted times,
// quoted integers, dropped members). It keeps its position in a local
// variable, not in the scanner, which the compiler then keeps in a
// register. Anything it does not handle (whitespace between tokens, a
// string Strip repairs, invalid JSON) makes it give up, and Strip starts
// again on the general path (stripSlow), which also reports the error:
// whatever the fast path returns is what the general path would.

// fastStrip is the state of one fast pass.
type fastStrip struct {
	src    []byte
	dst    []byte
	run    int // src offset of the first byte not yet copied to dst
	opts   *Options
	fields int
	// epochLens and dropLens have bit n set when a name of n bytes (n <
	// 64) is in EpochMillis or DropTopLevel: most names are settled by
	// their length alone. Longer names set bit 63.
	epochLens, dropLens, captureLens uint64
	// topLens is the union of the three: a top-level name of a length
	// outside it needs no decision.
	topLens uint64
	capture bool
	// memo, when set, holds the top-level names of the object the
	// Stripper walked before (see Stripper); caching is false once this
	// object's names have left it.
	memo    *Stripper
	caching bool
	// The run of dropped members (each followed by a comma) being
	// walked: src[openStart:openEnd], from member openK on, openCount of
	// them.
	openStart, openEnd, openK, openCount int
	rc, rcOlder                          int // the next of memo.runs, memo.olderRuns to try
	dates                                dates
	captured                             [2]Span
}

// dates holds the dates ("2006-01-02T") of the last two days (days since
// the epoch) an epoch time fell on: the times of a record mostly fall on
// one or two days (an alert's own and its host's boot), and those of a
// page on the same ones.
type dates struct {
	day  [2]int64
	date [2][11]byte
	set  [2]bool
}

// of returns the date of day.
func (d *dates) of(day int64) *[11]byte {
	if d.set[0] && d.day[0] == day {
		return &d.date[0]
	}
	if !d.set[1] || d.day[1] != day {
		var b [24]byte
		appendMillis(b[:0], day*86400000)
		d.day[1], d.set[1] = day, true
		copy(d.date[1][:], b[:11])
	}
	// The day just used goes first.
	d.day[0], d.day[1] = d.day[1], d.day[0]
	d.date[0], d.date[1] = d.date[1], d.date[0]
	d.set[0], d.set[1] = d.set[1], d.set[0]
	return &d.date[0]
}

func lengthMask(list []string) uint64 {
	var m uint64
	for _, k := range list {
		m |= 1 << min(len(k), 63)
	}
	return m
}

// stripFast is Strip for src[pos:], an object at pos. ok is false when it
// gave up; dst is then to be ignored.
func stripFast(dst, src []byte, pos int, opts *Options, memo *Stripper) (out []byte, end int, res Result, ok bool) {
	f := fastStrip{src: src, dst: dst, run: pos, opts: opts, memo: memo, caching: memo != nil, openStart: -1,
		epochLens: lengthMask(opts.EpochMillis), dropLens: lengthMask(opts.DropTopLevel),
		captureLens: lengthMask(opts.Capture[:]),
		capture:     opts.Capture[0] != "" || opts.Capture[1] != ""}
	f.topLens = f.epochLens | f.dropLens | f.captureLens
	if memo != nil {
		f.dates = memo.dates
	}
	end, ok = f.object(pos, 1)
	if memo != nil {
		memo.dates = f.dates
		f.closeRun()
		memo.olderRuns, memo.runs, memo.nextRuns = memo.runs, memo.nextRuns, memo.olderRuns[:0]
		memo.olderBytes, memo.runBytes, memo.nextBytes = memo.runBytes, memo.nextBytes, memo.olderBytes[:0]
	}
	if !ok {
		return nil, 0, Result{}, false
	}
	f.flush(end)
	return f.dst, end, Result{Fields: f.fields, Captured: f.captured}, true
}

// flush copies the pending source bytes up to i.
func (f *fastStrip) flush(i int) {
	f.dst = append(f.dst, f.src[f.run:i]...)
	f.run = i
}

// cut leaves src[a:b] out of the output.
func (f *fastStrip) cut(a, b int) {
	f.dst = append(f.dst, f.src[f.run:a]...)
	f.run = b
}

// allLengths is the length prefilter that lets every name through.
const allLengths = ^uint64(0)

// listed is scanner.listed with the length prefilter: esc says the name
// holds a backslash (then it may decode to a shorter name).
func listed(name []byte, esc bool, lens uint64, list []string) bool {
	if esc {
		return nameIn(name, list)
	}
	if lens&(1<<min(len(name), 63)) == 0 {
		return false
	}
	for _, k := range list {
		if string(name) == k {
			return true
		}
	}
	return false
}

// object walks the object at src[i] ('{'), as scanner.object at depth.
func (f *fastStrip) object(i, depth int) (int, bool) {
	if depth > MaxDepth {
		return 0, false
	}
	src := f.src
	i++
	if i >= len(src) {
		return 0, false
	}
	if src[i] == '}' {
		return i + 1, true
	}
	kept := false // a member before this one is in the output
	// The first member at which a remembered run may start: the members
	// before it need no look at the runs. (What the Stripper remembers is
	// read through f.memo where it is used: held in locals, it kept the
	// loop's registers spilled.)
	nextRun := math.MaxInt
	if depth == 1 && f.memo != nil {
		nextRun = f.nextRun()
	}
	for k := 0; ; k++ {
		if i >= len(src) || src[i] != '"' {
			return 0, false
		}
		ns := i
		if k >= nextRun {
			// The cursors are past the runs that start before member k
			// (skipped over, or not matched; see below): matchRun is
			// called only when one starts at k.
			end, r := f.matchRun(k, src[i:])
			if r != nil {
				// Members dropped in the previous object, here byte for
				// byte: all dropped, with their commas.
				end += i // at the comma after the last of them
				if kept {
					f.cut(ns-1, end)
				} else {
					f.cut(ns, end)
					f.run = end + 1
				}
				i = end + 1
				k += r.count - 1
			}
			// So are those at k, matched or not: the next member need
			// not look at them again.
			f.skipRuns(k + 1)
			nextRun = f.nextRun()
			if r != nil {
				continue
			}
		}
		var esc, ok bool
		var nameEnd int // the name is src[ns+1:nameEnd]
		var name []byte // set only when not remembered
		var dropName, epochName, captured bool
		if depth == 1 && f.caching && k < len(f.memo.memo) {
			m := &f.memo.memo[k]
			n := m.end - m.start
			var same bool
			if len(src)-i >= memoWords*8 && n <= memoWords*8 {
				// Written out here: a call cost as much as the compare.
				w := src[i : i+memoWords*8]
				same = (binary.LittleEndian.Uint64(w)^m.words[0])&m.masks[0]|
					(binary.LittleEndian.Uint64(w[8:])^m.words[1])&m.masks[1]|
					(binary.LittleEndian.Uint64(w[16:])^m.words[2])&m.masks[2]|
					(binary.LittleEndian.Uint64(w[24:])^m.words[3])&m.masks[3]|
					(binary.LittleEndian.Uint64(w[32:])^m.words[4])&m.masks[4]|
					(binary.LittleEndian.Uint64(w[40:])^m.words[5])&m.masks[5] == 0
			} else {
				same = m.atLong(src, i, f.memo.names)
			}
			if flags := m.flags; same {
				// The name of the previous object's k-th member: its
				// token `"name":` is checked, its decisions are known.
				i += n
				nameEnd = i - 2
				if i >= len(src) {
					return 0, false
				}
				dropName, epochName, captured = flags&nameDrop != 0, flags&nameEpoch != 0, flags&nameCapture != 0
				goto decided
			}
		}
		if i, esc, ok = f.str(i); !ok {
			return 0, false
		}
		nameEnd = i - 1
		name = src[ns+1 : nameEnd]
		if i+1 >= len(src) || src[i] != ':' {
			return 0, false
		}
		i++
		// What the name decides: most names have a length no listed name
		// has, and decide nothing.
		if bit := uint64(1) << min(len(name), 63); esc || f.topLens&bit != 0 {
			if depth == 1 {
				dropName = f.dropLens&bit != 0 && listed(name, esc, f.dropLens, f.opts.DropTopLevel)
				captured = f.capture && f.isCaptured(name, esc)
			}
			epochName = f.epochLens&bit != 0 && listed(name, esc, f.epochLens, f.opts.EpochMillis)
			if esc {
				dropName = depth == 1 && listed(name, esc, f.dropLens, f.opts.DropTopLevel)
				epochName = listed(name, esc, f.epochLens, f.opts.EpochMillis)
			}
		}
		if depth == 1 && f.caching {
			f.caching = f.memo.remember(k, src[ns:i], esc, dropName, epochName, captured)
		}
	decided:
		vs := i
		// The member, with the comma Strip would not write: the one
		// before it when a member before it is kept, else none.
		ms := ns
		if kept {
			ms = ns - 1
		}
		c := src[i]
		drop := false
		// Where the value lands in dst: the bytes from run on are copied
		// as they are until the value's own edits.
		at := len(f.dst) + vs - f.run
		switch {
		case dropName:
			f.flush(ms)
			mark, fields := len(f.dst), f.fields
			if i, ok = f.value(i, depth); !ok {
				return 0, false
			}
			f.dst, f.fields = f.dst[:mark], fields
			f.run = i
			drop = true
		case c == '"':
			if i+1 < len(src) && src[i+1] == '"' {
				i += 2
				f.cut(ms, i)
				drop = true
				break
			}
			f.fields++
			if i, _, ok = f.str(i); !ok {
				return 0, false
			}
		case c == 'n':
			if len(src)-i < 4 || string(src[i:i+4]) != "null" {
				return 0, false
			}
			i += 4
			f.cut(ms, i)
			drop = true
		case epochName && (c == '-' || c >= '0' && c <= '9'):
			end, integer, ok := scanNum(src, i)
			if !ok {
				return 0, false
			}
			if f.opts.UnsetEpochLists && integer && nonPositive(src[i:end]) {
				i = end
				f.cut(ms, i)
				drop = true
				break
			}
			f.fields++
			i = f.epoch(i, end, integer)
		case epochName && c == '[' && f.opts.UnsetEpochLists:
			f.flush(ms)
			mark, fields := len(f.dst), f.fields
			n := 0
			if i, n, ok = f.epochList(i, depth+1); !ok {
				return 0, false
			}
			if n == 0 {
				f.dst, f.fields = f.dst[:mark], fields
				f.run = i
				drop = true
			}
		case c == '[':
			// A third of an alert's members are lists, most of one string:
			// array's walk, with a first string walked here.
			if i+1 < len(src) && src[i+1] == '"' && depth+1 <= MaxDepth {
				f.fields++ // the list's one field
				end, _, ok := f.str(i + 1)
				switch {
				case !ok || end >= len(src):
					return 0, false
				case src[end] == ']':
					i = end + 1
				case src[end] == ',':
					if i, ok = f.elements(end+1, depth+1, true); !ok {
						return 0, false
					}
				default:
					return 0, false
				}
				break
			}
			if i, ok = f.array(i, depth+1); !ok {
				return 0, false
			}
		default:
			if i, ok = f.value(i, depth); !ok {
				return 0, false
			}
		}
		if depth == 1 && f.memo != nil {
			// A member dropped may recur byte for byte, and be dropped
			// again: its name decides the same.
			switch {
			case i >= len(src) || src[i] != ',':
				f.closeRun()
			case drop:
				f.openRun(k, ns, i+1)
			default:
				f.closeRun()
			}
		}
		if drop {
			if !kept && i < len(src) && src[i] == ',' {
				f.run = i + 1 // the comma after a first member goes with it
			}
		} else {
			if captured {
				f.flush(i)
				f.capt(src[ns+1:nameEnd], esc, at)
			}
			kept = true
		}
		if i >= len(src) {
			return 0, false
		}
		switch src[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// capt records the value that ends dst, from start, for the Capture names
// that name decodes to (the last such member wins, as in Strip).
func (f *fastStrip) capt(name []byte, esc bool, start int) {
	for k, c := range f.opts.Capture {
		if c != "" && (!esc && string(name) == c || esc && nameIs(name, c)) {
			f.captured[k] = Span{start, len(f.dst)}
		}
	}
}

// isCaptured reports whether name decodes to a Capture name.
func (f *fastStrip) isCaptured(name []byte, esc bool) bool {
	if !esc && f.captureLens&(1<<min(len(name), 63)) == 0 {
		return false
	}
	for _, c := range f.opts.Capture {
		if c != "" && (!esc && string(name) == c || esc && nameIs(name, c)) {
			return true
		}
	}
	return false
}

// epoch rewrites the number src[i:end] of an EpochMillis member as
// scanner.epochMillis does (the caller counted its field).
func (f *fastStrip) epoch(i, end int, integer bool) int {
	tok := f.src[i:end]
	ms, ok := parseInt(tok)
	if !integer || !ok || ms < 0 || ms > 253402300799999 {
		f.number(i, end, integer)
		return end
	}
	f.dst = append(f.dst, f.src[f.run:i]...)
	f.dst = append(f.dst, '"')
	f.dst = append(f.dst, f.dates.of(ms / 86400000)[:]...)
	f.dst = appendClock(f.dst, ms)
	f.dst = append(f.dst, '"')
	f.run = end
	return end
}

// number quotes an integer beyond Wazuh's int range, as scanner.number.
func (f *fastStrip) number(i, end int, integer bool) {
	if integer && !f.opts.KeepBigInts && !fitsInt32(f.src[i:end]) {
		f.dst = append(f.dst, f.src[f.run:i]...)
		f.dst = append(f.dst, '"')
		f.dst = append(f.dst, f.src[i:end]...)
		f.dst = append(f.dst, '"')
		f.run = end
	}
}

// value walks the value at src[i], as scanner.value.
func (f *fastStrip) value(i, depth int) (int, bool) {
	src := f.src
	switch c := src[i]; {
	case c == '"':
		f.fields++
		end, _, ok := f.str(i)
		return end, ok
	case c == '{':
		return f.object(i, depth+1)
	case c == '[':
		return f.array(i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		f.fields++
		end, integer, ok := scanNum(src, i)
		if !ok {
			return 0, false
		}
		f.number(i, end, integer)
		return end, true
	case c == 't':
		f.fields++
		if len(src)-i < 4 || string(src[i:i+4]) != "true" {
			return 0, false
		}
		return i + 4, true
	case c == 'n':
		f.fields++
		if len(src)-i < 4 || string(src[i:i+4]) != "null" {
			return 0, false
		}
		return i + 4, true
	case c == 'f':
		f.fields++
		if len(src)-i < 5 || string(src[i:i+5]) != "false" {
			return 0, false
		}
		return i + 5, true
	}
	return 0, false
}

// array walks the array at src[i] ('['), as scanner.array.
func (f *fastStrip) array(i, depth int) (int, bool) {
	if depth > MaxDepth {
		return 0, false
	}
	src := f.src
	f.fields++
	i++
	if i >= len(src) {
		return 0, false
	}
	if src[i] == ']' {
		return i + 1, true
	}
	return f.elements(i, depth, false)
}

// elements walks the elements of an array, whose field is counted, from
// src[i] on, where one starts, to the array's end; kept says that an
// element before is in the output.
func (f *fastStrip) elements(i, depth int, kept bool) (int, bool) {
	src := f.src
	fields := f.fields
	for {
		if i >= len(src) {
			return 0, false
		}
		if src[i] == 'n' {
			if len(src)-i < 4 || string(src[i:i+4]) != "null" {
				return 0, false
			}
			i = f.dropElement(i, i+4, kept)
		} else {
			var ok bool
			if src[i] == '"' {
				i, _, ok = f.str(i) // the usual element, without value's call
			} else {
				i, ok = f.value(i, depth)
			}
			if !ok {
				return 0, false
			}
			kept = true
		}
		if i >= len(src) {
			return 0, false
		}
		switch src[i] {
		case ',':
			i++
		case ']':
			f.fields = fields // elements are part of the array's one field
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// dropElement cuts the element src[a:b] with the comma Strip would not
// write, and returns b.
func (f *fastStrip) dropElement(a, b int, kept bool) int {
	if kept {
		f.cut(a-1, b)
	} else {
		f.cut(a, b)
		if b < len(f.src) && f.src[b] == ',' {
			f.run = b + 1
		}
	}
	return b
}

// epochList walks an EpochMillis array under UnsetEpochLists, as
// scanner.epochList, and returns how many elements it kept.
func (f *fastStrip) epochList(i, depth int) (int, int, bool) {
	if depth > MaxDepth {
		return 0, 0, false
	}
	src := f.src
	i++
	if i >= len(src) {
		return 0, 0, false
	}
	if src[i] == ']' {
		return i + 1, 0, true
	}
	fields := f.fields + 1
	kept := 0
	for {
		if i >= len(src) {
			return 0, 0, false
		}
		switch c := src[i]; {
		case c == 'n':
			if len(src)-i < 4 || string(src[i:i+4]) != "null" {
				return 0, 0, false
			}
			i = f.dropElement(i, i+4, kept > 0)
		case c == '-' || c >= '0' && c <= '9':
			end, integer, ok := scanNum(src, i)
			if !ok {
				return 0, 0, false
			}
			if integer && nonPositive(src[i:end]) {
				i = f.dropElement(i, end, kept > 0)
				break
			}
			i = f.epoch(i, end, integer)
			kept++
		default:
			var ok bool
			if i, ok = f.value(i, depth); !ok {
				return 0, 0, false
			}
			kept++
		}
		if i >= len(src) {
			return 0, 0, false
		}
		switch src[i] {
		case ',':
			i++
		case ']':
			if kept > 0 {
				f.fields = fields
			}
			return i + 1, kept, true
		default:
			return 0, 0, false
		}
	}
}

// str walks the string token at src[i] ('"') and returns the offset past
// it and whether it holds an escape. It gives up on what Strip repairs.
// (plainRun's loop is written out here: most strings are names and ids of
// a few words, where the call would cost as much as the scan.)
func (f *fastStrip) str(i int) (end int, esc, ok bool) {
	src := f.src
	i++
	for {
		if i > len(src) {
			return 0, false, false
		}
		// Eight bytes a step, on a slice of the rest: the compiler then
		// proves the loads in bounds (it does not for src[i:]).
		for rest := src[i:]; len(rest) >= 8; rest = rest[8:] {
			if m := StringStops(binary.LittleEndian.Uint64(rest)); m != 0 {
				i = len(src) - len(rest) + bits.TrailingZeros64(m)>>3
				goto found
			}
		}
		i += (len(src) - i) &^ 7
		for i < len(src) && src[i] != '"' && src[i] != '\\' && src[i] >= 0x20 && src[i] < 0x80 {
			i++
		}
		if i >= len(src) {
			return 0, false, false
		}
	found:
		switch c := src[i]; {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(src) {
				return 0, false, false
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(src) || !isHex4(src[i+2:i+6]) {
					return 0, false, false
				}
				n, repl := uRepair(src[i:])
				if repl {
					return 0, false, false
				}
				i += n
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, false
			}
			i += size
		}
	}
}

// scanNum is scanner.scanNumber on src[i:].
func scanNum(src []byte, i int) (end int, integer, ok bool) {
	if i < len(src) && src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && src[i] >= '1' && src[i] <= '9':
		i++
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	default:
		return 0, false, false
	}
	integer = true
	if i < len(src) && src[i] == '.' {
		integer = false
		i++
		d := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, false
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		integer = false
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		d := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, false
		}
	}
	return i, integer, true
}

// Stripper is Strip with memory: it remembers the top-level member names
// of the object it stripped last and what they decide (dropped, epoch
// milliseconds, captured), so that on a page of records of one shape each
// name is matched as a whole instead of scanned and looked up; and it
// remembers runs of members that were dropped (half the members of a
// Cortex XDR alert are null, in long runs such as fw_* that repeat from
// one alert to the next), those of the object before it as well (a page
// of two shapes in turn), so that a run that recurs byte for byte is
// dropped after one comparison; and the dates its epoch times fell on.
// The zero value is ready; a Stripper is not safe for concurrent use.
type Stripper struct {
	opts  Options // the options the decisions were made under
	set   bool
	names []byte // the names' tokens `"name":`, one after the other
	memo  []memoName
	// runs of members of the previous object (in runBytes), of the one
	// before it (olderBytes), and of the object being stripped.
	runs, olderRuns, nextRuns       []memberRun
	runBytes, olderBytes, nextBytes []byte
	dates                           dates
}

// memberRun is a run of top-level members of the object stripped before,
// each dropped and followed by a comma: their bytes, from member k on.
type memberRun struct{ k, start, end, count int }

// matchRun returns, when rest starts with the bytes of the run at member k
// of the previous object or else of the one before it, the run and its
// length less its last comma. (Two objects back: pages often alternate
// two shapes, such as Cortex XDR's agent and firewall alerts, which differ
// in which members are null.)
func (f *fastStrip) matchRun(k int, rest []byte) (int, *memberRun) {
	st := f.memo
	r, n := runAt(st.runs, st.runBytes, f.rc, k, rest)
	if r == nil {
		r, n = runAt(st.olderRuns, st.olderBytes, f.rcOlder, k, rest)
	}
	if r == nil || f.caching && k+r.count > len(st.memo) {
		return 0, nil // none, or the names after the run would not line up
	}
	f.closeRun()
	f.openK, f.openCount = k, r.count
	f.saveRun(rest[:n])
	return n - 1, r
}

// skipRuns moves the cursors of the remembered runs past those that
// start before member k.
func (f *fastStrip) skipRuns(k int) {
	rc, runs := f.rc, f.memo.runs
	for rc < len(runs) && runs[rc].k < k {
		rc++
	}
	rcOlder, older := f.rcOlder, f.memo.olderRuns
	for rcOlder < len(older) && older[rcOlder].k < k {
		rcOlder++
	}
	f.rc, f.rcOlder = rc, rcOlder
}

// nextRun returns the member at which the next of the remembered runs
// (from f.rc and f.rcOlder on) starts, past any member when none is left.
func (f *fastStrip) nextRun() int {
	runs, older := f.memo.runs, f.memo.olderRuns
	next := math.MaxInt
	if f.rc < len(runs) {
		next = runs[f.rc].k
	}
	if f.rcOlder < len(older) {
		next = min(next, older[f.rcOlder].k)
	}
	return next
}

// runAt returns runs[c] when it is at member k and rest starts with its
// bytes (in data), and its length.
func runAt(runs []memberRun, data []byte, c, k int, rest []byte) (*memberRun, int) {
	if c >= len(runs) || runs[c].k != k {
		return nil, 0
	}
	r := &runs[c]
	b := data[r.start:r.end]
	if len(rest) < len(b) || string(rest[:len(b)]) != string(b) {
		return nil, 0
	}
	return r, len(b)
}

// openRun adds the dropped member src[ns:end] (with its comma) to the run
// being walked, or starts one at member k.
func (f *fastStrip) openRun(k, ns, end int) {
	if f.openStart < 0 || f.openEnd != ns {
		f.closeRun()
		f.openStart, f.openK, f.openCount = ns, k, 0
	}
	f.openEnd = end
	f.openCount++
}

// closeRun remembers the run being walked for the next object.
func (f *fastStrip) closeRun() {
	if f.openStart >= 0 {
		f.saveRun(f.src[f.openStart:f.openEnd])
		f.openStart = -1
	}
}

func (f *fastStrip) saveRun(b []byte) {
	st := f.memo
	start := len(st.nextBytes)
	st.nextBytes = append(st.nextBytes, b...)
	st.nextRuns = append(st.nextRuns, memberRun{k: f.openK, start: start, end: len(st.nextBytes), count: f.openCount})
}

type memoName struct {
	start, end int // the name's token in names
	flags      uint8
	// words holds the token's first memoWords*8 bytes, zero past its
	// end, and masks which of their bytes are the token's.
	words, masks [memoWords]uint64
}

// memoWords is how many words of a name token the masked compare covers:
// 48 bytes, the longest names of a Cortex XDR alert
// ("causality_actor_process_signature_vendor").
const memoWords = 6

// atLong reports whether src holds the remembered token at i, for a token
// longer than memoWords words or near the end of src. (Others are compared
// as masked words, without a branch on their length: the next name's
// length is not predictable.)
func (m *memoName) atLong(src []byte, i int, names []byte) bool {
	n := m.end - m.start
	return len(src)-i >= n && sameBytes(src[i:i+n], names[m.start:m.end])
}

// setWords fills m.words and m.masks from tok.
func (m *memoName) setWords(tok []byte) {
	var buf [memoWords * 8]byte
	copy(buf[:], tok)
	for j := range m.words {
		m.words[j] = binary.LittleEndian.Uint64(buf[8*j:])
		switch n := len(tok) - 8*j; {
		case n >= 8:
			m.masks[j] = ^uint64(0)
		case n > 0:
			m.masks[j] = 1<<(8*n) - 1
		default:
			m.masks[j] = 0
		}
	}
}

const (
	nameDrop = 1 << iota
	nameEpoch
	nameCapture
)

// Strip is the package's Strip.
func (st *Stripper) Strip(dst, src []byte, opts *Options) ([]byte, int, Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	pos := 0
	for pos < len(src) && (src[pos] == ' ' || src[pos] == '\t' || src[pos] == '\n' || src[pos] == '\r') {
		pos++
	}
	if pos < len(src) && src[pos] == '{' {
		if !st.set || st.opts.Capture != opts.Capture || !st.opts.Equal(opts) {
			st.opts = Options{DropTopLevel: slices.Clone(opts.DropTopLevel), EpochMillis: slices.Clone(opts.EpochMillis),
				KeepBigInts: opts.KeepBigInts, UnsetEpochLists: opts.UnsetEpochLists, Capture: opts.Capture}
			st.names, st.memo, st.runs, st.olderRuns, st.set = st.names[:0], st.memo[:0], st.runs[:0], st.olderRuns[:0], true
		}
		if out, n, res, ok := stripFast(dst, src, pos, opts, st); ok {
			return out, n, res, nil
		}
	}
	return stripSlow(dst, src, opts)
}

// sameBytes is bytes.Equal for a and b of one length, word by word: names
// are a few words long, where the general comparison costs more than the
// compare.
func sameBytes(a, b []byte) bool {
	n := len(a)
	if n < 8 || len(b) != n {
		return string(a) == string(b)
	}
	var diff uint64
	for i := 0; i+8 < n; i += 8 {
		diff |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	// The last word, which may overlap the one before.
	diff |= binary.LittleEndian.Uint64(a[n-8:]) ^ binary.LittleEndian.Uint64(b[n-8:])
	return diff == 0
}

// remember makes tok (`"name":`) the k-th remembered token, forgetting
// those after it. It reports whether the names after it may be
// remembered: a name with an escape is not (match compares bytes).
func (st *Stripper) remember(k int, tok []byte, esc, drop, epoch, capture bool) bool {
	k = min(k, len(st.memo))
	start := 0
	if k > 0 {
		start = st.memo[k-1].end
	}
	st.names, st.memo = st.names[:start], st.memo[:k]
	if esc {
		return false
	}
	var flags uint8
	if drop {
		flags |= nameDrop
	}
	if epoch {
		flags |= nameEpoch
	}
	if capture {
		flags |= nameCapture
	}
	st.names = append(st.names, tok...)
	st.memo = append(st.memo, memoName{start: start, end: len(st.names), flags: flags})
	st.memo[len(st.memo)-1].setWords(tok)
	return true
}
