//go:build seedrules

package rules_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules"
)

// TestSeedRulesDropIn shows that wazuh-pull is a drop-in for the seed
// wodles: with the seeds' own rule files loaded instead of ours, every one
// of our case lines gets the same verdict (decoder, rule id, level) as the
// line the seed wodle printed for the same vendor record. That line is
// ours without what we add (documented in the README): the wazuh_pull
// metadata, the run summary's <stream>_events/_backlog/_stop, and for
// Cortex XDR the error events' timestamp and error_detail. Cortex XDR run
// summaries, which the seed never printed, must stay silent (level 0).
//
// Both forms run through two logtest sessions fed in the same order, so
// that the seeds' correlation rules see the same history in both.
// Proofpoint has no public seed and is not part of this test.
func TestSeedRulesDropIn(t *testing.T) {
	l := getSeedLab(t)
	ctx := engineCtx(t)
	cases := vendorCases(t)
	for _, name := range []string{"1password", "cortex_xdr"} {
		v, err := rules.VendorByName(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			ours, seed := l.NewLogtestSession(""), l.NewLogtestSession("")
			defer ours.Close(ctx)
			defer seed.Close(ctx)
			compared := 0
			for _, c := range cases[name].Cases {
				for i, ln := range c.Lines {
					got, err := ours.Process(ctx, ln.Event, ln.Location)
					if err != nil {
						t.Fatalf("%s line %d: %v", c.Name, i+1, err)
					}
					g := verdictOf(got.Output)
					id, _ := strconv.Atoi(g.RuleID)
					if g.Decoder != "json" || id < v.FirstID || id > v.LastID {
						t.Errorf("%s line %d: the seed rules do not claim our line: %s", c.Name, i+1, g)
						continue
					}
					seedLine, emitted := seedEquivalent(t, v, ln.Event)
					if !emitted {
						if g.Level != 0 {
							t.Errorf("%s line %d: an event the seed never printed alerts with the seed's rules: %s", c.Name, i+1, g)
						}
						continue
					}
					want, err := seed.Process(ctx, seedLine, ln.Location)
					if err != nil {
						t.Fatalf("%s line %d (seed form): %v", c.Name, i+1, err)
					}
					w := verdictOf(want.Output)
					if g.Decoder != w.Decoder || g.RuleID != w.RuleID || g.Level != w.Level {
						t.Errorf("%s line %d: seed rules give our line %s, the seed's line %s\n  ours %s\n  seed %s", c.Name, i+1, g, w, short(ln.Event), short(seedLine))
					}
					compared++
				}
			}
			if compared == 0 {
				t.Fatal("no line compared")
			}
			t.Logf("%d lines compared with the seed's rules", compared)
		})
	}
}

// seedEquivalent returns the line the seed wodle printed for the same
// record, or false for an event the seed never printed.
func seedEquivalent(t *testing.T, v rules.Vendor, line string) (string, bool) {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	ns, _ := ev[v.Namespace].(map[string]any)
	if ns == nil {
		t.Fatalf("no %s object in %s", v.Namespace, line)
	}
	delete(ns, "wazuh_pull")
	switch ns[v.TypeKey] {
	case "run_summary":
		if v.Name == "cortex_xdr" {
			return "", false
		}
		dropStreamAdditions(ns)
		if tenants, ok := ns["tenants"].(map[string]any); ok {
			for _, tv := range tenants {
				if m, ok := tv.(map[string]any); ok {
					dropStreamAdditions(m)
				}
			}
		}
	case "error":
		if v.Name == "cortex_xdr" {
			delete(ns, "timestamp")
			delete(ns, "error_detail")
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func dropStreamAdditions(m map[string]any) {
	for k := range m {
		if strings.HasSuffix(k, "_events") || strings.HasSuffix(k, "_backlog") || strings.HasSuffix(k, "_stop") {
			delete(m, k)
		}
	}
}
