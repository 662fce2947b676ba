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
// what an operator's wazuh-logtest starts with). A new session loads the
// whole ruleset, which costs about a second, so sessions are shared
// wherever that cannot change a verdict: single-line cases of every vendor
// share one session, which is the same as a fresh one unless a
// correlation rule fires on the history (no rule correlates events of two
// vendors): such a line is replayed in a spare session. Sequences
// (correlation cases) share sessions only with sequences whose events no
// rule could correlate with theirs. Single-line cases are also replayed
// behind an RFC 3164 syslog header, in a session of their own.
func TestCasesOnEngine(t *testing.T) {
	l := lab.Get(t)
	ctx := engineCtx(t)
	set, err := rules.Load()
	if err != nil {
		t.Fatal(err)
	}
	ss := &sessions{lab: l}
	defer ss.close(ctx)
	bare, header := ss.fresh(), ss.fresh()
	cases := vendorCases(t)
	var sequences []casegen.Case
	for _, v := range casegen.Vendors() {
		for _, c := range cases[v.Name].Cases {
			if len(c.Lines) > 1 {
				sequences = append(sequences, c)
			}
		}
	}
	groups := packSequences(set, sequences)
	groupOf := map[string]int{}
	for i, g := range groups {
		for _, c := range g {
			groupOf[c.Lines[0].Location+"/"+c.Name] = i
		}
	}
	seqSessions := make([]*wazuhlab.LogtestSession, len(groups))
	for _, v := range casegen.Vendors() {
		t.Run(v.Name, func(t *testing.T) {
			var singles, seqs []casegen.Case
			for _, c := range cases[v.Name].Cases {
				if len(c.Lines) == 1 {
					singles = append(singles, c)
				} else {
					seqs = append(seqs, c)
				}
			}
			retried := replaySingles(ctx, t, ss, bare, set, singles, false)
			retried += replaySingles(ctx, t, ss, header, set, singles, true)
			for _, c := range seqs {
				i := groupOf[c.Lines[0].Location+"/"+c.Name]
				if seqSessions[i] == nil {
					seqSessions[i] = ss.fresh()
				}
				replaySequence(ctx, t, seqSessions[i], c)
			}
			t.Logf("%d single-line cases (twice: bare and behind a header), %d replayed in a spare session after a correlation fired; %d sequences",
				len(singles), retried, len(seqs))
		})
	}
	t.Logf("%d logtest sessions; sequences of all vendors packed into %d", len(ss.all), len(groups))
}

// sessions are the logtest sessions of a test, closed together.
type sessions struct {
	lab *wazuhlab.Lab
	all []*wazuhlab.LogtestSession
	// spares take the lines on which the history fired a correlation
	// rule.
	spares []*wazuhlab.LogtestSession
}

func (s *sessions) fresh() *wazuhlab.LogtestSession {
	ls := s.lab.NewLogtestSession("")
	s.all = append(s.all, ls)
	return ls
}

func (s *sessions) spare(k int) *wazuhlab.LogtestSession {
	if k == len(s.spares) {
		s.spares = append(s.spares, s.fresh())
	}
	return s.spares[k]
}

func (s *sessions) close(ctx context.Context) {
	for _, ls := range s.all {
		ls.Close(ctx)
	}
}

func replaySingles(ctx context.Context, t *testing.T, ss *sessions, s *wazuhlab.LogtestSession, set *ruleset.Set, cases []casegen.Case, header bool) (retried int) {
	t.Helper()
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
		// The verdict of a session where no correlation fires is the
		// verdict of a fresh one, so a line moves on to the next spare
		// only when one fires there too.
		for k := 0; !got.equal(want) && isCorrelation(set, got.RuleID); k++ {
			if res, err = ss.spare(k).Process(ctx, event, ln.Location); err != nil {
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

func replaySequence(ctx context.Context, t *testing.T, s *wazuhlab.LogtestSession, c casegen.Case) {
	t.Helper()
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
