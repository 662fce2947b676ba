package casegen

import (
	"fmt"
	"strings"
)

// Pool is the generated lines cases pick from, in generation order.
type Pool struct {
	Lines []*Line
}

// Pred selects lines.
type Pred func(*Line) bool

// Is matches lines whose decoded field equals value.
func Is(field, value string) Pred {
	return func(l *Line) bool { v, ok := l.Fields().Get(field); return ok && v == value }
}

// In matches lines whose decoded field is one of values.
func In(field string, values ...string) Pred {
	return func(l *Line) bool {
		v, ok := l.Fields().Get(field)
		if !ok {
			return false
		}
		for _, x := range values {
			if v == x {
				return true
			}
		}
		return false
	}
}

// Has matches lines that have the field.
func Has(field string) Pred { return func(l *Line) bool { return l.Fields().Has(field) } }

// Contains matches lines whose field contains s.
func Contains(field, s string) Pred {
	return func(l *Line) bool { v, ok := l.Fields().Get(field); return ok && strings.Contains(v, s) }
}

// Not negates p.
func Not(p Pred) Pred { return func(l *Line) bool { return !p(l) } }

// Scenario matches lines of one generator run.
func Scenario(name string) Pred { return func(l *Line) bool { return l.Scenario == name } }

// All matches lines that satisfy every predicate.
func All(ps ...Pred) Pred {
	return func(l *Line) bool {
		for _, p := range ps {
			if !p(l) {
				return false
			}
		}
		return true
	}
}

// Filter returns the matching lines in order.
func (p *Pool) Filter(ps ...Pred) []*Line {
	all := All(ps...)
	var out []*Line
	for _, l := range p.Lines {
		if all(l) {
			out = append(out, l)
		}
	}
	return out
}

// One selects the first matching line.
func One(ps ...Pred) func(*Pool) ([]*Line, error) {
	return func(p *Pool) ([]*Line, error) {
		m := p.Filter(ps...)
		if len(m) == 0 {
			return nil, fmt.Errorf("no generated line matches")
		}
		return m[:1], nil
	}
}

// Repeat selects the first n matching lines.
func Repeat(n int, ps ...Pred) func(*Pool) ([]*Line, error) {
	return func(p *Pool) ([]*Line, error) {
		m := p.Filter(ps...)
		if len(m) < n {
			return nil, fmt.Errorf("%d generated lines match, want %d", len(m), n)
		}
		return m[:n], nil
	}
}

// Distinct selects n matching lines that differ pairwise in every one of
// the given fields (so that no same_field correlation joins them).
func Distinct(n int, fields []string, ps ...Pred) func(*Pool) ([]*Line, error) {
	return func(p *Pool) ([]*Line, error) {
		seen := map[string]map[string]bool{}
		for _, f := range fields {
			seen[f] = map[string]bool{}
		}
		var out []*Line
		for _, l := range p.Filter(ps...) {
			ok := true
			for _, f := range fields {
				if seen[f][l.Get(f)] {
					ok = false
				}
			}
			if !ok {
				continue
			}
			for _, f := range fields {
				seen[f][l.Get(f)] = true
			}
			out = append(out, l)
			if len(out) == n {
				return out, nil
			}
		}
		return nil, fmt.Errorf("only %d matching lines differ in %v, want %d", len(out), fields, n)
	}
}

// Same selects n matching lines that share the value of key (the first
// value, in generation order, that has n lines) and differ pairwise in
// the distinct fields.
func Same(n int, key string, distinct []string, ps ...Pred) func(*Pool) ([]*Line, error) {
	return func(p *Pool) ([]*Line, error) {
		groups := map[string][]*Line{}
		var order []string
		for _, l := range p.Filter(append(ps, Has(key))...) {
			k := l.Get(key)
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], l)
		}
		for _, k := range order {
			sub := &Pool{Lines: groups[k]}
			if got, err := Distinct(n, distinct)(sub); err == nil {
				return got, nil
			}
		}
		return nil, fmt.Errorf("no value of %s has %d matching lines differing in %v", key, n, distinct)
	}
}

// Then concatenates selections.
func Then(parts ...func(*Pool) ([]*Line, error)) func(*Pool) ([]*Line, error) {
	return func(p *Pool) ([]*Line, error) {
		var out []*Line
		for _, part := range parts {
			got, err := part(p)
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
		}
		return out, nil
	}
}

// Rules repeats rule n times, for the first lines of a sequence.
func Rules(rule, n int, last ...int) []int {
	out := make([]int, 0, n+len(last))
	for range n {
		out = append(out, rule)
	}
	return append(out, last...)
}
