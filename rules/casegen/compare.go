package casegen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
)

// Compare reports how a case file differs from a freshly generated one,
// or nil when they are the same cases. Lines are compared field by field
// as Wazuh decodes them; an error event's error_detail may differ (its
// transport error text names ephemeral loopback ports and varies with
// timing, "context deadline exceeded" or "timeout awaiting response
// headers") but must be present in both. ns is the vendor's namespace.
func Compare(ns string, old, fresh *File) error {
	if old.Vendor != fresh.Vendor || old.Origin != fresh.Origin || old.Generator != fresh.Generator {
		return fmt.Errorf("generator %q (%s) for %s, the file says %q (%s) for %s", fresh.Generator, fresh.Origin, fresh.Vendor, old.Generator, old.Origin, old.Vendor)
	}
	if len(old.Cases) != len(fresh.Cases) {
		return fmt.Errorf("%d cases generated, %d in the file", len(fresh.Cases), len(old.Cases))
	}
	for i := range fresh.Cases {
		if err := compareCase(ns, old.Cases[i], fresh.Cases[i]); err != nil {
			return fmt.Errorf("case %q: %w", fresh.Cases[i].Name, err)
		}
	}
	return nil
}

func compareCase(ns string, a, b Case) error {
	if a.Name != b.Name || a.Rule != b.Rule || a.Origin != b.Origin || len(a.Lines) != len(b.Lines) {
		return fmt.Errorf("name, rule, origin or length: %q %s %s %d lines vs %q %s %s %d lines", a.Name, a.Rule, a.Origin, len(a.Lines), b.Name, b.Rule, b.Origin, len(b.Lines))
	}
	for i := range a.Lines {
		la, lb := a.Lines[i], b.Lines[i]
		ea, eb := la.Expect, lb.Expect
		if la.Location != lb.Location || ea.Decoder != eb.Decoder || ea.RuleID != eb.RuleID || ea.Level != eb.Level || !slices.Equal(ea.Groups, eb.Groups) {
			return fmt.Errorf("line %d: location or expectation %s %+v vs %s %+v", i+1, la.Location, ea, lb.Location, eb)
		}
		if err := compareEvent(ns, la.Event, lb.Event); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	return nil
}

func compareEvent(ns, a, b string) error {
	da, err := ruleset.Decode([]byte(a))
	if err != nil {
		return err
	}
	db, err := ruleset.Decode([]byte(b))
	if err != nil {
		return err
	}
	if strings.Join(da.Names, ",") != strings.Join(db.Names, ",") {
		return fmt.Errorf("fields %v vs %v", da.Names, db.Names)
	}
	for _, name := range da.Names {
		if name != ns+".error_detail" && da.Values[name] != db.Values[name] {
			return fmt.Errorf("%s = %q vs %q", name, da.Values[name], db.Values[name])
		}
	}
	return nil
}
