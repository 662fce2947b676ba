//go:build seedrules

package rules_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules"
)

// TestSeedRulesDropIn shows that wazuh-pull is a drop-in for the seed
// wodles: with the seeds' own rule files loaded instead of ours, every one
// of our case lines gets the same verdict (decoder, rule id, level) as the
// line the seed wodle printed for the same vendor record. That line is
// ours with the differences the README documents undone (seedEquivalent):
// without the wazuh_pull metadata, the run summary's
// <stream>_events/_backlog/_stop, and for Cortex XDR the error events'
// timestamp and error_detail, and with a folded alert's members unfolded.
// Cortex XDR run summaries, which the seed never printed, must stay silent
// (level 0).
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
			compared, folded := 0, 0
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
					if strings.Contains(ln.Event, `"folded_fields":`) {
						folded++
						if n := strings.Count(seedLine, `":`); n <= 256 {
							t.Errorf("%s line %d: the seed's form of a folded line has only %d members", c.Name, i+1, n)
						}
					}
				}
			}
			if compared == 0 {
				t.Fatal("no line compared")
			}
			if name == "cortex_xdr" && folded == 0 {
				t.Error("no folded alert compared: the cases lack the wide alert")
			}
			t.Logf("%d lines compared with the seed's rules, %d of them folded alerts given in the seed's unfolded form", compared, folded)
		})
	}
}

// seedEquivalent returns the line the seed wodle printed for the same
// record, or false for an event the seed never printed. It undoes the
// differences the README documents: our metadata (wazuh_pull), the run
// summary's <stream>_events/_backlog/_stop, and for Cortex XDR the error
// events' timestamp and error_detail and the folding of a record wider
// than Wazuh's 256 fields (the seed sent every member, "type" first).
// Members keep their order, which decides what Wazuh's field limit cuts.
// A reduced event stays reduced: the seed's line for it was longer than
// Wazuh reads.
func seedEquivalent(t *testing.T, v rules.Vendor, line string) (string, bool) {
	t.Helper()
	top, err := orderedMembers([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	var ns []member
	for _, m := range top {
		if m.name == v.Namespace {
			if ns, err = orderedMembers(m.value); err != nil {
				t.Fatal(err)
			}
		}
	}
	if ns == nil {
		t.Fatalf("no %s object in %s", v.Namespace, line)
	}
	typ := ""
	for _, m := range ns {
		if m.name == v.TypeKey {
			_ = json.Unmarshal(m.value, &typ)
		}
	}
	drop := map[string]bool{"wazuh_pull": true}
	switch typ {
	case "run_summary":
		if v.Name == "cortex_xdr" {
			return "", false
		}
		var err error
		if ns, err = dropStreamAdditions(ns); err != nil {
			t.Fatal(err)
		}
	case "error":
		if v.Name == "cortex_xdr" {
			drop["timestamp"], drop["error_detail"] = true, true
		}
	}
	var out []member
	for _, m := range ns {
		switch {
		case drop[m.name]:
		case v.Name == "cortex_xdr" && m.name == "folded_fields":
			var folded string
			if err := json.Unmarshal(m.value, &folded); err != nil {
				t.Fatal(err)
			}
			unfolded, err := orderedMembers([]byte(folded))
			if err != nil {
				t.Fatalf("folded_fields is not a JSON object: %v", err)
			}
			out = append(out, unfolded...)
		case v.Name == "cortex_xdr" && m.name == v.TypeKey:
			out = append([]member{m}, out...)
		default:
			out = append(out, m)
		}
	}
	var b strings.Builder
	b.WriteString(`{"integration":`)
	integration, _ := json.Marshal(v.Name)
	b.Write(integration)
	b.WriteString(`,"` + v.Namespace + `":`)
	writeObject(&b, out)
	b.WriteString("}")
	return b.String(), true
}

// member is one member of a JSON object, in document order.
type member struct {
	name  string
	value json.RawMessage
}

func orderedMembers(obj []byte) ([]member, error) {
	dec := json.NewDecoder(strings.NewReader(string(obj)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %.60s", obj)
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{name: tok.(string), value: v})
	}
	return out, nil
}

func writeObject(b *strings.Builder, ms []member) {
	b.WriteString("{")
	for i, m := range ms {
		if i > 0 {
			b.WriteString(",")
		}
		name, _ := json.Marshal(m.name)
		b.Write(name)
		b.WriteString(":")
		b.Write(m.value)
	}
	b.WriteString("}")
}

// dropStreamAdditions removes <stream>_events, _backlog and _stop, also
// from each tenant of a multi-tenant summary.
func dropStreamAdditions(ms []member) ([]member, error) {
	var out []member
	for _, m := range ms {
		if strings.HasSuffix(m.name, "_events") || strings.HasSuffix(m.name, "_backlog") || strings.HasSuffix(m.name, "_stop") {
			continue
		}
		if m.name == "tenants" {
			tenants, err := orderedMembers(m.value)
			if err != nil {
				return nil, err
			}
			for i, tm := range tenants {
				inner, err := orderedMembers(tm.value)
				if err != nil {
					return nil, err
				}
				if inner, err = dropStreamAdditions(inner); err != nil {
					return nil, err
				}
				var b strings.Builder
				writeObject(&b, inner)
				tenants[i].value = json.RawMessage(b.String())
			}
			var b strings.Builder
			writeObject(&b, tenants)
			m.value = json.RawMessage(b.String())
		}
		out = append(out, m)
	}
	return out, nil
}
