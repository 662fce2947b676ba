package rules_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/dashgen"
	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
)

// TestDashboardsMatchGenerator: rules/dashboards is what rules/dashgen
// writes (go run ./rules/dashgen/gendash), and nothing else.
func TestDashboardsMatchGenerator(t *testing.T) {
	var want []string
	for _, d := range dashgen.All() {
		b, err := d.NDJSON()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "dashboards/"+d.File)
		got, err := rules.Files.ReadFile("dashboards/" + d.File)
		if err != nil {
			t.Fatalf("%v (run go run ./rules/dashgen/gendash)", err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("dashboards/%s differs from rules/dashgen: run go run ./rules/dashgen/gendash", d.File)
		}
	}
	if got := rules.Dashboards(); !slices.Equal(got, want) && !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("dashboard files %v, generator writes %v", got, want)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// savedObject is the part of a saved object the checks read.
type savedObject struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Attributes map[string]any `json:"attributes"`
	References []struct {
		ID, Name, Type string
	} `json:"references"`
}

// fieldUse is one field a saved object reads, with the value it compares
// the field to ("" for a bucket, a column or a numeric comparison).
type fieldUse struct {
	object, field, value string
}

var kqlTerm = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|>|<|:)\s*(\([^)]*\)|[^\s()]+)`)

func kqlUses(object, q string) []fieldUse {
	var out []fieldUse
	for _, m := range kqlTerm.FindAllStringSubmatch(q, -1) {
		field, op, val := m[1], m[2], m[3]
		if op != ":" {
			if _, err := strconv.ParseFloat(val, 64); err != nil {
				out = append(out, fieldUse{object, field, "not a number: " + val})
				continue
			}
			out = append(out, fieldUse{object, field, ""})
			continue
		}
		for _, v := range strings.Split(strings.Trim(val, "()"), " or ") {
			out = append(out, fieldUse{object, field, strings.TrimSpace(v)})
		}
	}
	return out
}

// objectUses lists every field a saved object reads: aggregation fields,
// KQL queries of its search source, filters and visualization inputs, and
// a saved search's columns.
func objectUses(t *testing.T, o savedObject) []fieldUse {
	t.Helper()
	title, _ := o.Attributes["title"].(string)
	var out []fieldUse
	if meta, ok := o.Attributes["kibanaSavedObjectMeta"].(map[string]any); ok {
		var ss struct {
			Query struct {
				Query string `json:"query"`
			} `json:"query"`
			IndexRefName string `json:"indexRefName"`
		}
		if err := json.Unmarshal([]byte(meta["searchSourceJSON"].(string)), &ss); err != nil {
			t.Fatalf("%s: searchSourceJSON: %v", title, err)
		}
		out = append(out, kqlUses(title, ss.Query.Query)...)
		if ss.IndexRefName != "" && !slices.ContainsFunc(o.References, func(r struct{ ID, Name, Type string }) bool {
			return r.Name == ss.IndexRefName && r.Type == "index-pattern" && r.ID == dashgen.IndexPattern
		}) {
			t.Errorf("%s: no index-pattern reference %s to %s", title, ss.IndexRefName, dashgen.IndexPattern)
		}
	}
	if vs, ok := o.Attributes["visState"].(string); ok {
		var v struct {
			Aggs []struct {
				Type   string         `json:"type"`
				Params map[string]any `json:"params"`
			} `json:"aggs"`
		}
		if err := json.Unmarshal([]byte(vs), &v); err != nil {
			t.Fatalf("%s: visState: %v", title, err)
		}
		for _, a := range v.Aggs {
			if f, ok := a.Params["field"].(string); ok {
				out = append(out, fieldUse{title, f, ""})
			}
			if fs, ok := a.Params["filters"].([]any); ok {
				for _, f := range fs {
					q := f.(map[string]any)["input"].(map[string]any)["query"].(string)
					out = append(out, kqlUses(title, q)...)
				}
			}
		}
	}
	if cols, ok := o.Attributes["columns"].([]any); ok {
		for _, c := range cols {
			out = append(out, fieldUse{title, c.(string), ""})
		}
	}
	return out
}

// alertFields are the alert fields Wazuh itself writes that the
// dashboards read.
var alertFields = []string{"timestamp", "rule.id", "rule.level", "rule.description", "rule.groups"}

// TestDashboardFieldsExistInTheEvents: every field a saved object reads is
// in the alerts our rules raise: a data.* field is one the collectors write
// (in some case line of that vendor), with the value the panel compares it
// to; a rule field is one Wazuh writes, and a group one our rules carry.
func TestDashboardFieldsExistInTheEvents(t *testing.T) {
	set := loadSet(t)
	groups := map[string]bool{}
	for _, r := range set.Rules {
		for _, g := range r.Groups {
			groups[g] = true
		}
	}
	_, byVendor := caseLinesByRule(t)
	prefixes := map[string]string{}
	for _, v := range rules.Vendors() {
		prefixes["data."+v.Namespace+"."] = v.Name
	}
	ids := map[string]bool{}
	for _, name := range rules.Dashboards() {
		b, err := rules.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var objs []savedObject
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var o savedObject
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if ids[o.ID] {
				t.Errorf("%s: saved object id %s used twice", name, o.ID)
			}
			ids[o.ID] = true
			objs = append(objs, o)
		}
		for _, o := range objs {
			if o.Type == "dashboard" {
				for _, r := range o.References {
					if !slices.ContainsFunc(objs, func(x savedObject) bool { return x.ID == r.ID && x.Type == r.Type }) {
						t.Errorf("%s: dashboard panel %s refers to missing %s %s", name, r.Name, r.Type, r.ID)
					}
				}
			}
			for _, u := range objectUses(t, o) {
				checkFieldUse(t, name, u, prefixes, byVendor, groups)
			}
		}
	}
}

func checkFieldUse(t *testing.T, file string, u fieldUse, prefixes map[string]string, byVendor map[string][]*ruleset.Decoded, groups map[string]bool) {
	t.Helper()
	if strings.HasPrefix(u.value, "not a number") {
		t.Errorf("%s %q: %s compared with %s", file, u.object, u.field, u.value)
		return
	}
	switch {
	case u.field == "data.integration":
		if u.value != "" {
			if _, err := rules.VendorByName(u.value); err != nil {
				t.Errorf("%s %q: data.integration:%s is no integration", file, u.object, u.value)
			}
		}
		return
	case u.field == "rule.groups":
		if u.value != "" && !groups[u.value] {
			t.Errorf("%s %q: rule.groups:%s, a group no rule has", file, u.object, u.value)
		}
		return
	case slices.Contains(alertFields, u.field):
		return
	}
	for prefix, vendor := range prefixes {
		if !strings.HasPrefix(u.field, prefix) {
			continue
		}
		field := strings.TrimPrefix(u.field, "data.")
		has, hasValue := false, u.value == ""
		for _, d := range byVendor[vendor] {
			if v, ok := d.Get(field); ok {
				has = true
				hasValue = hasValue || v == u.value
			}
		}
		if !has {
			t.Errorf("%s %q: %s is in no %s event", file, u.object, u.field, vendor)
		} else if !hasValue {
			t.Errorf("%s %q: %s is never %q in the %s events", file, u.object, u.field, u.value, vendor)
		}
		return
	}
	t.Errorf("%s %q: %s is neither an event field nor an alert field the dashboards may use", file, u.object, u.field)
}
