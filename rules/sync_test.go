package rules_test

import (
	"context"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/casegen"
)

// TestCaseFilesMatchCollectors regenerates every vendor's cases from its
// collector and compares them with rules/tests (see
// casegen.Compare): a change in what a collector writes, or in a rule's
// level or groups, must show up as a regenerated case file (go run
// ./rules/casegen/gencases), so that the engine tests never replay stale
// lines.
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
			if err := casegen.Compare(v.Namespace, committed[v.Name], fresh); err != nil {
				t.Fatalf("%s is stale: %v; regenerate with go run ./rules/casegen/gencases", v.CaseFile, err)
			}
		})
	}
}
