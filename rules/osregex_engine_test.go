package rules_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
	"github.com/wazuh-pull/wazuh-pull/shared/wazuhlab"
)

// TestOSRegexAgreesWithEngine checks ruleset.OSRegex, the translation of
// Wazuh's OS_Regex the static tests rely on, against analysisd itself:
// every OS_Regex pattern of our rules, plus tricky ones, is put in a rule
// of its own and tried on values taken from the generated events and made
// up around the pattern's edges; the engine's verdict and the translation
// must agree on every pair.
func TestOSRegexAgreesWithEngine(t *testing.T) {
	set := loadSet(t)
	_, byVendor := caseLinesByRule(t)
	values := map[string]map[string]bool{} // pattern -> values
	addValue := func(p, v string) {
		if values[p] == nil {
			values[p] = map[string]bool{}
		}
		values[p][v] = true
	}
	for _, r := range set.Rules {
		for _, f := range r.Fields {
			if f.Type != "osregex" {
				continue
			}
			for _, lines := range byVendor {
				n := 0
				for _, d := range lines {
					if v, ok := d.Get(f.Name); ok && !values[f.Pattern][v] && n < 6 {
						addValue(f.Pattern, v)
						n++
					}
				}
			}
			for _, v := range []string{"", "x", "error", "ERROR", "errors", "12", "1", "[]", `["TA0006 - Credential Access"]`, "success", "resolved_other"} {
				addValue(f.Pattern, v)
			}
		}
	}
	for p, vs := range map[string][]string{
		`a.b`:      {"a.b", "axb"},
		`^a\sb$`:   {"a b", "a\tb"},
		`^\w+@\w$`: {"a-b@c", "a b@c"},
		`^x\$$`:    {"x$", "x"},
		`\d\d\d`:   {"a123", "12"},
	} {
		for _, v := range vs {
			addValue(p, v)
		}
	}
	patterns := make([]string, 0, len(values))
	for p := range values {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)

	var xml strings.Builder
	xml.WriteString(`<group name="osregex_check,">` + "\n")
	xml.WriteString(`<rule id="119000" level="0"><decoded_as>json</decoded_as><field name="integration">^osregex_check$</field><description>base</description></rule>` + "\n")
	for i, p := range patterns {
		fmt.Fprintf(&xml, `<rule id="%d" level="3"><if_sid>119000</if_sid><field name="p">^%d$</field><field name="v">%s</field><description>pattern %d</description></rule>`+"\n", 119001+i, i, p, i)
	}
	xml.WriteString("</group>\n")
	l := wazuhlab.Open(t, wazuhlab.Options{RuleData: map[string][]byte{"zz_osregex_check_rules.xml": []byte(xml.String())}})
	ctx := engineCtx(t)
	s := l.NewLogtestSession("osregex-check")
	defer s.Close(ctx)
	checked := 0
	for i, p := range patterns {
		re, err := ruleset.OSRegex(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		for v := range values[p] {
			ev, _ := json.Marshal(map[string]string{"integration": "osregex_check", "p": strconv.Itoa(i), "v": v})
			res, err := s.Process(ctx, string(ev), "")
			if err != nil {
				t.Fatal(err)
			}
			engine := res.Output.Rule != nil && res.Output.Rule.ID == strconv.Itoa(119001+i)
			if engine != re.MatchString(v) {
				t.Errorf("OS_Regex %q on %q: engine %v, translation %s says %v", p, v, engine, re, !engine)
			}
			checked++
		}
	}
	t.Logf("%d patterns, %d values checked", len(patterns), checked)
}
