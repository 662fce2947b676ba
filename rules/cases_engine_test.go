package rules_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/casegen"
	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
	"github.com/wazuh-pull/wazuh-pull/shared/wazuhlab"
)

// TestCasesOnEngine replays every case of rules/tests through the real
// engine's logtest and compares decoder, rule, level and groups with the
// case, line by line.
//
// A case's expectation holds in a fresh logtest session (a new session is
// what an operator's wazuh-logtest starts with). Single-line cases share
// one session per vendor, which is the same unless a correlation rule
// fires on the history: such a case is replayed in a spare session.
// Sequences (correlation cases) get sessions of their own, shared only by
// sequences whose events no rule could correlate with each other's.
// Single-line cases are also replayed behind an RFC 3164 syslog header.
func TestCasesOnEngine(t *testing.T) {
	l := lab.Get(t)
	ctx := engineCtx(t)
	set, err := rules.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range casegen.Vendors() {
		f := vendorCases(t)[v.Name]
		t.Run(v.Name, func(t *testing.T) {
			var singles, sequences []casegen.Case
			for _, c := range f.Cases {
				if len(c.Lines) == 1 {
					singles = append(singles, c)
				} else {
					sequences = append(sequences, c)
				}
			}
			retried := replaySingles(ctx, t, l, set, singles, false)
			retried += replaySingles(ctx, t, l, set, singles, true)
			groups := packSequences(set, sequences)
			for _, group := range groups {
				replaySequences(ctx, t, l, group)
			}
			t.Logf("%d single-line cases (twice: bare and behind a header), %d replayed in a spare session after a correlation fired; %d sequences in %d sessions",
				len(singles), retried, len(sequences), len(groups))
		})
	}
}

func replaySingles(ctx context.Context, t *testing.T, l *wazuhlab.Lab, set *ruleset.Set, cases []casegen.Case, header bool) (retried int) {
	t.Helper()
	s := l.NewLogtestSession("")
	defer s.Close(ctx)
	// Sessions for lines on which the history fired a correlation rule:
	// the verdict of a session where no correlation fires is the verdict
	// of a fresh one, so a line moves on to the next spare only when one
	// fires there too.
	var spares []*wazuhlab.LogtestSession
	defer func() {
		for _, sp := range spares {
			sp.Close(ctx)
		}
	}()
	for _, c := range cases {
		ln := c.Lines[0]
		event := ln.Event
		name := c.Name
		if header {
			event, name = withHeader(event), c.Name+" (syslog header)"
		}
		res, err := s.Process(ctx, event, ln.Location)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, want := verdictOf(res.Output), expected(ln.Expect)
		for k := 0; !got.equal(want) && isCorrelation(set, got.RuleID); k++ {
			if k == len(spares) {
				spares = append(spares, l.NewLogtestSession(""))
			}
			if res, err = spares[k].Process(ctx, event, ln.Location); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = verdictOf(res.Output)
			retried++
		}
		if !got.equal(want) {
			t.Errorf("%s: got %s\n  want %s\n  event %s", name, got, want, short(ln.Event))
			continue
		}
		checkDescription(t, name, ln.Event, res)
	}
	return retried
}

// checkDescription: a description must have been expanded. Wazuh keeps
// the raw text when an expansion reaches 1 024 characters, which only an
// event cut to fit (a field of tens of kilobytes) may cause.
func checkDescription(t *testing.T, name, event string, res *wazuhlab.LogtestResult) {
	t.Helper()
	if res.Output.Rule == nil || strings.Contains(event, `"reduced":{`) {
		return
	}
	if d := res.Output.Rule.Description; strings.Contains(d, "$(") {
		t.Errorf("%s: description not expanded: %s", name, d)
	}
}

func replaySequences(ctx context.Context, t *testing.T, l *wazuhlab.Lab, group []casegen.Case) {
	t.Helper()
	s := l.NewLogtestSession("")
	defer s.Close(ctx)
	for _, c := range group {
		for i, ln := range c.Lines {
			res, err := s.Process(ctx, ln.Event, ln.Location)
			if err != nil {
				t.Fatalf("%s line %d: %v", c.Name, i+1, err)
			}
			if got, want := verdictOf(res.Output), expected(ln.Expect); !got.equal(want) {
				t.Errorf("%s, line %d of %d: got %s\n  want %s\n  event %s", c.Name, i+1, len(c.Lines), got, want, short(ln.Event))
			}
		}
	}
}

func isCorrelation(set *ruleset.Set, id string) bool {
	n, err := strconv.Atoi(id)
	if err != nil {
		return false
	}
	r := set.Rule(n)
	return r != nil && r.Correlation()
}

// packSequences groups correlation cases so that cases in one group end
// on disjoint rules, none of which shares a group that some correlation
// rule counts: no rule can then join events of two cases of a group.
func packSequences(set *ruleset.Set, cases []casegen.Case) [][]casegen.Case {
	counted := map[string]bool{} // groups some if_matched_group counts
	for _, r := range set.Rules {
		if r.IfMatchedGroup != "" {
			counted[r.IfMatchedGroup] = true
		}
	}
	footprint := func(c casegen.Case) map[string]bool {
		fp := map[string]bool{}
		for _, ln := range c.Lines {
			fp["rule:"+ln.Expect.RuleID] = true
			id, _ := strconv.Atoi(ln.Expect.RuleID)
			if r := set.Rule(id); r != nil {
				for _, g := range r.Groups {
					for cg := range counted {
						if strings.Contains(g, cg) {
							fp["group:"+cg] = true
						}
					}
				}
			}
		}
		return fp
	}
	var groups [][]casegen.Case
	var prints []map[string]bool
	for _, c := range cases {
		fp := footprint(c)
		placed := false
		for i := range groups {
			if disjoint(prints[i], fp) {
				groups[i] = append(groups[i], c)
				for k := range fp {
					prints[i][k] = true
				}
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, []casegen.Case{c})
			prints = append(prints, fp)
		}
	}
	return groups
}

func disjoint(a, b map[string]bool) bool {
	for k := range b {
		if a[k] {
			return false
		}
	}
	return true
}

func short(s string) string {
	if len(s) > 400 {
		return s[:400] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

// TestEveryRuleHasACase: each rule of our files is the expected final
// rule of at least one case line, except the level-0 base rules, which
// are the parent of every case and never final.
func TestEveryRuleHasACase(t *testing.T) {
	set, err := rules.Load()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, f := range vendorCases(t) {
		for _, c := range f.Cases {
			for _, ln := range c.Lines {
				covered[ln.Expect.RuleID] = true
			}
		}
	}
	bases := map[int]bool{}
	for _, v := range rules.Vendors() {
		bases[v.BaseID] = true
	}
	var missing []int
	for _, r := range set.Rules {
		if !bases[r.ID] && !covered[strconv.Itoa(r.ID)] {
			missing = append(missing, r.ID)
		}
	}
	sort.Ints(missing)
	if len(missing) > 0 {
		t.Fatalf("rules without a test case: %v", missing)
	}
}
