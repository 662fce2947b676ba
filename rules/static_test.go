package rules_test

import (
	"bytes"
	"encoding/xml"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/casegen"
	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
)

// The tests in this file check the rule files against what Wazuh 4.x does
// with them (docs/wazuh-rules.md), without an engine: the engine tests
// then show that the cases fire as expected.

func loadSet(t *testing.T) *ruleset.Set {
	t.Helper()
	set, err := rules.Load()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func vendorOfFile(t *testing.T, file string) rules.Vendor {
	t.Helper()
	for _, v := range rules.Vendors() {
		if v.RuleFile == file {
			return v
		}
	}
	t.Fatalf("rule file %s belongs to no vendor", file)
	return rules.Vendor{}
}

// Wazuh's XML reader decodes no entities (&amp; stays "&amp;"), and a raw
// '&' or '<' is not XML: rule text must use neither.
func TestRuleFilesAreWellFormedWithoutEntities(t *testing.T) {
	comment := regexp.MustCompile(`(?s)<!--.*?-->`)
	for _, name := range append(rules.RuleFileNames(), rules.DecoderFileNames()...) {
		b, err := rules.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		dec.Strict = true
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", name, err)
			}
		}
		if i := bytes.IndexByte(comment.ReplaceAll(b, nil), '&'); i >= 0 {
			t.Errorf("%s uses '&' outside comments (Wazuh does not decode XML entities)", name)
		}
	}
}

func TestRuleIDsAreUniqueAndInTheirBlock(t *testing.T) {
	set := loadSet(t) // NewSet refuses duplicates
	for _, r := range set.Rules {
		v := vendorOfFile(t, r.File)
		if r.ID < v.FirstID || r.ID > v.LastID {
			t.Errorf("rule %d in %s is outside %s's block %d-%d", r.ID, r.File, v.Name, v.FirstID, v.LastID)
		}
		if r.Description == "" {
			t.Errorf("rule %d has no description", r.ID)
		}
		if r.Level < 0 || r.Level > 16 {
			t.Errorf("rule %d: level %d", r.ID, r.Level)
		}
	}
	for _, v := range rules.Vendors() {
		base := set.Rule(v.BaseID)
		if base == nil || base.Level != 0 || base.DecodedAs != "json" || len(base.Parents()) != 0 {
			t.Fatalf("%s: base rule %d must be a level-0 root rule on decoded_as json", v.Name, v.BaseID)
		}
		if len(base.Fields) != 1 || base.Fields[0].Name != "integration" || base.Fields[0].Pattern != "^"+v.Name+"$" {
			t.Errorf("%s: base rule %d must match integration ^%s$ exactly, got %+v", v.Name, v.BaseID, v.Name, base.Fields)
		}
		if base.File != v.RuleFile {
			t.Errorf("%s: base rule in %s, want %s", v.Name, base.File, v.RuleFile)
		}
	}
	for _, r := range set.Rules {
		if r.DecodedAs != "" && r.Level != 0 {
			t.Errorf("rule %d: only base rules select a decoder", r.ID)
		}
	}
}

var knownElements = []string{"if_sid", "if_matched_sid", "if_group", "if_matched_group", "decoded_as", "field", "regex", "match",
	"location", "same_field", "different_field", "description", "group", "mitre", "options"}

// Parents must be loaded before their children: Wazuh loads rule files
// sorted by basename (ours sort after the stock 0xxx- files) and each file
// top to bottom, and skips a child whose parent is not loaded yet (7617).
func TestParentsComeFirstInLoadOrder(t *testing.T) {
	set := loadSet(t)
	for i, r := range set.Rules {
		for _, el := range r.Elements {
			if !slices.Contains(knownElements, el) {
				t.Errorf("rule %d: element <%s> is not used in these rules", r.ID, el)
			}
		}
		for _, p := range r.Parents() {
			j := set.Index(p)
			if j < 0 {
				t.Errorf("rule %d (%s:%d): parent %d is not defined in our rule files", r.ID, r.File, r.Line, p)
			} else if j >= i {
				t.Errorf("rule %d (%s:%d): parent %d is loaded after it", r.ID, r.File, r.Line, p)
			}
		}
		if g := r.IfMatchedGroup; g != "" {
			found := false
			for _, e := range set.Rules[:i] {
				for _, eg := range e.Groups {
					found = found || strings.Contains(eg, g)
				}
			}
			if !found {
				t.Errorf("rule %d: no rule loaded before it has group %s", r.ID, g)
			}
		}
		if r.Frequency > 0 && (r.Timeframe == 0 || (r.IfMatchedSID == 0 && r.IfMatchedGroup == "")) {
			t.Errorf("rule %d: frequency needs a timeframe and if_matched_sid or if_matched_group", r.ID)
		}
		if r.IfGroup != "" {
			t.Errorf("rule %d: if_group attaches to every rule of a group, including future ones; name parents by id", r.ID)
		}
	}
}

// analysisd stores an event for correlation in its final rule's
// if_matched_sid list or else in its group lists, never both: a rule that
// is an if_matched_sid target must not carry a group that an
// if_matched_group rule counts, or those events are never counted there.
func TestCorrelationTargetsAreCountedOnce(t *testing.T) {
	set := loadSet(t)
	sidTargets := map[int]bool{}
	var counted []string
	for _, r := range set.Rules {
		if r.IfMatchedSID != 0 {
			sidTargets[r.IfMatchedSID] = true
		}
		if r.IfMatchedGroup != "" {
			counted = append(counted, r.IfMatchedGroup)
		}
	}
	for _, r := range set.Rules {
		if !sidTargets[r.ID] {
			continue
		}
		for _, g := range r.Groups {
			for _, c := range counted {
				if strings.Contains(g, c) {
					t.Errorf("rule %d is counted by if_matched_sid and carries group %s counted by if_matched_group %s", r.ID, g, c)
				}
			}
		}
	}
}

func TestNoRuleNamesAStaticField(t *testing.T) {
	set := loadSet(t)
	for _, r := range set.Rules {
		names := append([]string(nil), r.SameField...)
		names = append(names, r.DifferentField...)
		for _, f := range r.Fields {
			names = append(names, f.Name)
		}
		for _, n := range names {
			if slices.Contains(ruleset.StaticFields, n) {
				t.Errorf("rule %d names static field %q (analysisd refuses to load it)", r.ID, n)
			}
		}
	}
}

var descriptionVar = regexp.MustCompile(`\$\(([^)]+)\)`)

// referencedFields lists the decoded fields a rule reads.
func referencedFields(r *ruleset.Rule) []string {
	var out []string
	for _, f := range r.Fields {
		out = append(out, f.Name)
	}
	out = append(out, r.SameField...)
	out = append(out, r.DifferentField...)
	for _, m := range descriptionVar.FindAllStringSubmatch(r.Description, -1) {
		out = append(out, m[1])
	}
	return out
}

// caseLinesByRule indexes every case line by the rule it ends on.
func caseLinesByRule(t *testing.T) (map[string][]*ruleset.Decoded, map[string][]*ruleset.Decoded) {
	t.Helper()
	byRule := map[string][]*ruleset.Decoded{}
	byVendor := map[string][]*ruleset.Decoded{}
	for name, f := range vendorCases(t) {
		for _, c := range f.Cases {
			for _, ln := range c.Lines {
				d, err := ruleset.Decode([]byte(ln.Event))
				if err != nil {
					t.Fatalf("case %q: %v", c.Name, err)
				}
				byRule[ln.Expect.RuleID] = append(byRule[ln.Expect.RuleID], d)
				byVendor[name] = append(byVendor[name], d)
			}
		}
	}
	return byRule, byVendor
}

// Every field a rule reads must be one the collector writes: a rule on a
// field nobody produces never fires, and a description variable nobody
// produces prints nothing. Fields are checked against every generated
// case line of the vendor; description variables against the lines that
// end on the rule itself, where the analyst reads them (the vendors leave
// some fields out of some events, e.g. a user without an email, so one
// such line is enough).
func TestRulesReadOnlyFieldsTheCollectorsWrite(t *testing.T) {
	set := loadSet(t)
	byRule, byVendor := caseLinesByRule(t)
	for _, r := range set.Rules {
		v := vendorOfFile(t, r.File)
		for _, f := range referencedFields(r) {
			if f != "integration" && !strings.HasPrefix(f, v.FieldPrefix()) {
				t.Errorf("rule %d reads %s, outside the %s namespace", r.ID, f, v.Namespace)
			}
			if !anyHas(byVendor[v.Name], f) {
				t.Errorf("rule %d reads %s, which no %s line has", r.ID, f, v.Name)
			}
		}
		for _, m := range descriptionVar.FindAllStringSubmatch(r.Description, -1) {
			if !anyHas(byRule[strconv.Itoa(r.ID)], m[1]) {
				t.Errorf("rule %d describes $(%s), which no line it fires on has", r.ID, m[1])
			}
		}
	}
}

func anyHas(lines []*ruleset.Decoded, field string) bool {
	for _, d := range lines {
		if d.Has(field) {
			return true
		}
	}
	return false
}

// matches evaluates a rule's own conditions (fields, regex) on a line, as
// analysisd does: a missing field fails even a negated condition.
func matches(t *testing.T, r *ruleset.Rule, d *ruleset.Decoded, raw string) bool {
	t.Helper()
	for _, f := range r.Fields {
		v, ok := d.Get(f.Name)
		if !ok {
			return false
		}
		m, err := f.Matcher()
		if err != nil {
			t.Fatalf("rule %d: %v", r.ID, err)
		}
		if m(v) == f.Negate {
			return false
		}
	}
	for _, p := range r.Regex {
		if p.Type != "pcre2" {
			t.Fatalf("rule %d: <%s> of type %s is not checked here", r.ID, p.Kind, p.Type)
		}
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			t.Fatalf("rule %d: %v", r.ID, err)
		}
		if re.MatchString(raw) == p.Negate {
			return false
		}
	}
	return true
}

// isCatchAll: the rule for event types the rules do not know yet.
func isCatchAll(r *ruleset.Rule, typeField string) bool {
	return len(r.Fields) == 1 && r.Fields[0].Name == typeField && (r.Fields[0].Pattern == `\.` || r.Fields[0].Pattern == `\.+`)
}

// errorCodes reads the error codes of the shared taxonomy from
// shared/pipeline/errors.go, so that a code added there fails this test
// until a rule handles it.
func errorCodes(t *testing.T) []string {
	t.Helper()
	fs := token.NewFileSet()
	f, err := parser.ParseFile(fs, "../shared/pipeline/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if strings.HasPrefix(name.Name, "Code") && i < len(vs.Values) {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, s)
				}
			}
		}
		return true
	})
	if len(out) < 10 {
		t.Fatalf("read only %d error codes from shared/pipeline/errors.go", len(out))
	}
	return out
}

// Every event type and every error code a collector can emit has a rule:
// an event type is claimed by a child of the vendor's base rule (not the
// catch-all for unknown types) on a generated line of that type, and an
// error code by a rule below the vendor's error rule whose error_code
// pattern accepts it.
func TestEveryEventTypeAndErrorCodeHasARule(t *testing.T) {
	set := loadSet(t)
	codes := errorCodes(t)
	cases := vendorCases(t)
	for _, v := range casegen.Vendors() {
		typeField := v.FieldPrefix() + v.TypeKey
		children := set.Children(v.BaseID)
		for _, et := range v.EventTypes {
			claimed, seen := false, false
			for _, c := range cases[v.Name].Cases {
				for _, ln := range c.Lines {
					d, _ := ruleset.Decode([]byte(ln.Event))
					if got, _ := d.Get(typeField); got != et {
						continue
					}
					seen = true
					for _, r := range children {
						if !isCatchAll(r, typeField) && !r.Correlation() && matches(t, r, d, ln.Event) {
							claimed = true
						}
					}
				}
			}
			if !seen {
				t.Errorf("%s: no case line of event type %s", v.Name, et)
			} else if !claimed {
				t.Errorf("%s: no rule below %d claims event type %s", v.Name, v.BaseID, et)
			}
		}
		errRule := set.Rule(v.ErrorID)
		if errRule == nil {
			t.Fatalf("%s: no error rule %d", v.Name, v.ErrorID)
		}
		for _, code := range append(codes, v.ExtraErrorCodes...) {
			handled := false
			for _, r := range set.Children(v.ErrorID) {
				for _, f := range r.Fields {
					if f.Name != v.FieldPrefix()+"error_code" {
						continue
					}
					m, err := f.Matcher()
					if err != nil {
						t.Fatal(err)
					}
					handled = handled || m(code)
				}
			}
			if !handled {
				t.Errorf("%s: no rule below %d handles error code %s", v.Name, v.ErrorID, code)
			}
		}
	}
}

var mitreID = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)

func TestMitreIDsAreTechniques(t *testing.T) {
	for _, r := range loadSet(t).Rules {
		for _, id := range r.Mitre {
			if !mitreID.MatchString(id) {
				t.Errorf("rule %d: MITRE id %q is not a technique id (Txxxx or Txxxx.yyy)", r.ID, id)
			}
		}
	}
}

// Every pattern compiles as Wazuh will read it (OS_Regex or PCRE2).
func TestPatternsCompile(t *testing.T) {
	for _, r := range loadSet(t).Rules {
		for _, f := range r.Fields {
			if _, err := f.Matcher(); err != nil {
				t.Errorf("rule %d: %v", r.ID, err)
			}
		}
	}
}

// TestReadmeReferenceIsCurrent: the rules reference in README.md is the
// one the rule files give (go run ./rules/casegen/gencases rewrites it).
func TestReadmeReferenceIsCurrent(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), rules.ReferenceMarkdown(loadSet(t))) {
		t.Fatal("rules/README.md's rules reference is out of date: run go run ./rules/casegen/gencases")
	}
}

// appearances counts how often each rule occurs in analysisd's rule tree:
// once below each occurrence of each parent (if_sid; an if_matched_sid
// rule hangs below its counted rule).
func appearances(set *ruleset.Set) map[int]int {
	n := map[int]int{}
	for _, r := range set.Rules { // parents are loaded first
		ps := r.Parents()
		if len(ps) == 0 {
			n[r.ID] = 1
			continue
		}
		for _, p := range ps {
			n[r.ID] += n[p]
		}
	}
	return n
}

// analysisd stores an event in the if_matched_group list of a group once
// per occurrence of its final rule in the rule tree (OS_MarkGroup walks
// the tree), so an event ending on a rule with two parents counts twice:
// a rule carrying a counted group must occur once.
func TestCountedRulesOccurOnceInTheTree(t *testing.T) {
	set := loadSet(t)
	n := appearances(set)
	for _, c := range set.Rules {
		if c.IfMatchedGroup == "" {
			continue
		}
		for _, r := range set.Rules {
			if r.ID == c.ID || n[r.ID] < 2 {
				continue
			}
			for _, g := range r.Groups {
				if strings.Contains(g, c.IfMatchedGroup) {
					t.Errorf("rule %d occurs %d times in the rule tree and carries group %s, which %d counts: each event on it would count %d times", r.ID, n[r.ID], g, c.ID, n[r.ID])
					break
				}
			}
		}
	}
}
