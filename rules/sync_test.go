package rules_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/casegen"
	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
)

// TestCaseFilesMatchCollectors regenerates every vendor's cases from its
// collector (or stand-in) and compares them with rules/tests: a change in
// what a collector writes, or in a rule's level or groups, must show up as
// a regenerated case file (go run ./rules/casegen/gencases), so that the
// engine tests never replay stale lines.
//
// Lines are compared field by field as Wazuh decodes them. The one field
// allowed to differ is an error event's error_detail, whose transport
// error text names ephemeral loopback ports and varies with timing
// ("context deadline exceeded" or "timeout awaiting response headers");
// it must be present in both.
func TestCaseFilesMatchCollectors(t *testing.T) {
	set, err := rules.Load()
	if err != nil {
		t.Fatal(err)
	}
	committed := vendorCases(t)
	for _, v := range casegen.Vendors() {
		t.Run(v.Name, func(t *testing.T) {
			fresh, err := casegen.Build(context.Background(), v, set)
			if err != nil {
				t.Fatal(err)
			}
			old := committed[v.Name]
			if old.Origin != fresh.Origin || old.Generator != fresh.Generator {
				t.Errorf("generator %q (%s), case file says %q (%s)", fresh.Generator, fresh.Origin, old.Generator, old.Origin)
			}
			if len(old.Cases) != len(fresh.Cases) {
				t.Fatalf("%d cases generated, %d in %s: regenerate with go run ./rules/casegen/gencases", len(fresh.Cases), len(old.Cases), v.CaseFile)
			}
			for i := range fresh.Cases {
				if msg := diffCase(v.Namespace, old.Cases[i], fresh.Cases[i]); msg != "" {
					t.Errorf("case %q differs from the generator's: %s; regenerate with go run ./rules/casegen/gencases", fresh.Cases[i].Name, msg)
				}
			}
		})
	}
}

func diffCase(ns string, a, b casegen.Case) string {
	if a.Name != b.Name || a.Rule != b.Rule || a.Origin != b.Origin || len(a.Lines) != len(b.Lines) {
		return fmt.Sprintf("name/rule/origin/lines %q %s %s %d vs %q %s %s %d", a.Name, a.Rule, a.Origin, len(a.Lines), b.Name, b.Rule, b.Origin, len(b.Lines))
	}
	for i := range a.Lines {
		la, lb := a.Lines[i], b.Lines[i]
		if la.Location != lb.Location || !expected(la.Expect).equal(expected(lb.Expect)) {
			return fmt.Sprintf("line %d: location or expectation %s %v vs %s %v", i+1, la.Location, la.Expect, lb.Location, lb.Expect)
		}
		if msg := diffEvent(ns, la.Event, lb.Event); msg != "" {
			return fmt.Sprintf("line %d: %s", i+1, msg)
		}
	}
	return ""
}

func diffEvent(ns, a, b string) string {
	da, err := ruleset.Decode([]byte(a))
	if err != nil {
		return err.Error()
	}
	db, err := ruleset.Decode([]byte(b))
	if err != nil {
		return err.Error()
	}
	if strings.Join(da.Names, ",") != strings.Join(db.Names, ",") {
		return fmt.Sprintf("fields %v vs %v", da.Names, db.Names)
	}
	for _, name := range da.Names {
		if name == ns+".error_detail" {
			continue
		}
		if da.Values[name] != db.Values[name] {
			return fmt.Sprintf("%s = %q vs %q", name, da.Values[name], db.Values[name])
		}
	}
	return ""
}
