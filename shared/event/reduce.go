package event

import (
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

// Reduction keeps an oversized event and says what was cut, in this order:
//  1. too many fields: the object with the most fields is replaced by its
//     JSON text as one string field, until the count fits;
//  2. too long: every string longer than a common cap is cut to that cap
//     (the largest cap that fits, found by binary search, so the largest
//     fields lose the most and small fields keep everything);
//  3. still too long (huge numbers of small fields): the largest top-level
//     members are dropped.
// The marker lists the paths touched, so an analyst knows the event is not
// whole and can fetch the original from the vendor by its dedup key.

const (
	truncSuffix   = " [truncated]"
	maxPathsShown = 10
	maxPathLen    = 128
	// markerFields counts the marker's own decoded fields: original_bytes,
	// original_fields and the three path lists (arrays are one field each).
	markerFields = 5
)

type node struct {
	kind byte   // '{', '[', '"', or 'v' for numbers and literals
	raw  []byte // 'v': the token as is
	str  string // '"': the decoded string
	keys []string
	vals []*node
}

func parse(raw []byte) (*node, error) {
	switch raw[0] {
	case '{':
		n := &node{kind: '{'}
		_, err := jsonscan.Members(raw, func(name, value []byte) error {
			k, ok := jsonscan.String(name)
			if !ok {
				k = string(name[1 : len(name)-1])
			}
			v, err := parse(value)
			if err != nil {
				return err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
			return nil
		})
		return n, err
	case '[':
		n := &node{kind: '['}
		_, err := jsonscan.Elements(raw, func(value []byte) error {
			v, err := parse(value)
			if err != nil {
				return err
			}
			n.vals = append(n.vals, v)
			return nil
		})
		return n, err
	case '"':
		s, ok := jsonscan.String(raw)
		if !ok {
			// Strip already made strings valid; keep the token's text.
			s = string(raw[1 : len(raw)-1])
		}
		return &node{kind: '"', str: s}, nil
	}
	return &node{kind: 'v', raw: raw}, nil
}

func (n *node) fields() int {
	switch n.kind {
	case '{':
		total := 0
		for _, v := range n.vals {
			total += v.fields()
		}
		return total
	default:
		return 1
	}
}

func (n *node) appendJSON(dst []byte) []byte {
	switch n.kind {
	case '{':
		dst = append(dst, '{')
		for i, k := range n.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = n.vals[i].appendJSON(dst)
		}
		return append(dst, '}')
	case '[':
		dst = append(dst, '[')
		for i, v := range n.vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = v.appendJSON(dst)
		}
		return append(dst, ']')
	case '"':
		return appendString(dst, n.str)
	}
	return append(dst, n.raw...)
}

type marker struct {
	originalBytes, originalFields   int
	stringified, truncated, dropped []string
}

func (m *marker) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"original_bytes":`...)
	dst = strconv.AppendInt(dst, int64(m.originalBytes), 10)
	dst = append(dst, `,"original_fields":`...)
	dst = strconv.AppendInt(dst, int64(m.originalFields), 10)
	for _, l := range []struct {
		name  string
		paths []string
	}{{"stringified", m.stringified}, {"truncated", m.truncated}, {"dropped", m.dropped}} {
		dst = append(dst, ',')
		dst = appendString(dst, l.name)
		dst = append(dst, ':', '[')
		shown := l.paths
		if len(shown) > maxPathsShown {
			shown = shown[:maxPathsShown]
		}
		for i, p := range shown {
			if i > 0 {
				dst = append(dst, ',')
			}
			if len(p) > maxPathLen {
				p = cutUTF8(p, maxPathLen)
			}
			dst = appendString(dst, p)
		}
		if more := len(l.paths) - len(shown); more > 0 {
			dst = append(dst, ',')
			dst = appendString(dst, fmt.Sprintf("and %d more", more))
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// entry is a member of an object somewhere in the tree.
type entry struct {
	path   string
	parent *node
	index  int
}

func (b *Builder) walk(n *node, path string, fn func(entry)) {
	if n.kind != '{' {
		return
	}
	for i, k := range n.keys {
		p := k
		if path != "" {
			p = path + "." + k
		}
		fn(entry{path: p, parent: n, index: i})
		b.walk(n.vals[i], p, fn)
	}
}

func (b *Builder) reduce(dst, vendor []byte, originalBytes, originalFields int, eventType, dedupKey string) ([]byte, error) {
	root, err := parse(vendor)
	if err != nil {
		return dst, fmt.Errorf("event: reduce: %w", err)
	}
	ns := b.cfg.Envelope.Namespace
	m := &marker{originalBytes: originalBytes, originalFields: originalFields}

	// 1. Field count.
	budget := b.cfg.MaxFields - overheadFields - markerFields
	for root.fields() > budget {
		var best *entry
		bestFields := 1
		b.walk(root, "", func(e entry) {
			v := e.parent.vals[e.index]
			if v.kind != '{' {
				return
			}
			if f := v.fields(); f > bestFields || f == bestFields && best != nil && e.path < best.path {
				cp := e
				best, bestFields = &cp, f
			}
		})
		if best == nil {
			// Only scalars and arrays at the top: drop trailing members,
			// as many as the excess needs, at once.
			excess := root.fields() - budget
			for excess > 0 && len(root.keys) > 0 {
				last := len(root.keys) - 1
				excess -= root.vals[last].fields()
				m.dropped = append(m.dropped, ns+"."+root.keys[last])
				root.keys, root.vals = root.keys[:last], root.vals[:last]
			}
			continue
		}
		v := best.parent.vals[best.index]
		best.parent.vals[best.index] = &node{kind: '"', str: string(v.appendJSON(nil))}
		m.stringified = append(m.stringified, ns+"."+best.path)
	}

	build := func(dst []byte) []byte {
		start := len(dst)
		dst = append(dst, b.prefix...)
		objStart := len(dst)
		dst = root.appendJSON(dst)
		_ = start
		return b.appendTail(dst, objStart, eventType, dedupKey, m.appendJSON(nil))
	}
	start := len(dst)
	if line := build(dst); len(line)-start <= b.cfg.MaxLine {
		return line, nil
	}

	// 2. Cut long strings to a common cap.
	var strs []entry
	b.walk(root, "", func(e entry) {
		if e.parent.vals[e.index].kind == '"' {
			strs = append(strs, e)
		}
	})
	originals := make([]string, len(strs))
	maxLen := 0
	for i, e := range strs {
		originals[i] = e.parent.vals[e.index].str
		if len(originals[i]) > maxLen {
			maxLen = len(originals[i])
		}
	}
	apply := func(limit int) {
		m.truncated = m.truncated[:0]
		for i, e := range strs {
			s := originals[i]
			if len(s) > limit {
				s = cutUTF8(s, limit) + truncSuffix
				m.truncated = append(m.truncated, ns+"."+e.path)
			}
			e.parent.vals[e.index].str = s
		}
		sort.Strings(m.truncated)
	}
	fits := func(limit int) bool {
		apply(limit)
		line := build(dst)
		return len(line)-start <= b.cfg.MaxLine
	}
	lo, hi := 0, maxLen // find the largest limit that fits
	if fits(lo) {
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if fits(mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		apply(lo)
		return build(dst), nil
	}

	// 3. Drop the largest top-level members until the line fits. Sizes are
	// measured once; a member costs its key, value, quotes, colon and comma.
	members := make([]member, len(root.keys))
	for i, k := range root.keys {
		members[i] = member{k, root.vals[i], len(root.vals[i].appendJSON(appendString(nil, k))) + 2}
	}
	order := make([]int, len(members))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, c int) bool {
		ma, mc := members[order[a]], members[order[c]]
		if ma.size != mc.size {
			return ma.size > mc.size
		}
		return ma.key < mc.key
	})
	excess := len(build(dst)) - start - b.cfg.MaxLine
	dropped := make([]bool, len(members))
	for _, i := range order {
		if excess <= 0 {
			// Marker paths grow as members go: check the real line.
			rebuild(root, members, dropped)
			if line := build(dst); len(line)-start <= b.cfg.MaxLine {
				return line, nil
			}
			excess = len(build(dst)) - start - b.cfg.MaxLine
		}
		dropped[i] = true
		m.dropped = append(m.dropped, ns+"."+members[i].key)
		excess -= members[i].size
	}
	rebuild(root, members, dropped)
	line := build(dst)
	if len(line)-start > b.cfg.MaxLine {
		return dst, fmt.Errorf("event: cannot reduce event %q below %d bytes", dedupKey, b.cfg.MaxLine)
	}
	return line, nil
}

// member is a top-level member with its encoded size.
type member struct {
	key  string
	val  *node
	size int
}

func rebuild(root *node, members []member, dropped []bool) {
	root.keys, root.vals = root.keys[:0], root.vals[:0]
	for i, mb := range members {
		if !dropped[i] {
			root.keys = append(root.keys, mb.key)
			root.vals = append(root.vals, mb.val)
		}
	}
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
