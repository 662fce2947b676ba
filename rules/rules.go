// Package rules holds the Wazuh rules and dashboards that ship with
// wazuh-pull (see README.md), embedded so that tools and tests use exactly
// the files an operator installs.
package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
)

// Files holds the rule and decoder files (*.xml) and the dashboards
// (dashboards/*.ndjson).
//
//go:embed *.xml dashboards/*.ndjson
var Files embed.FS

// Vendor describes one integration's envelope and rule files.
type Vendor struct {
	// Name is the "integration" value.
	Name string
	// Namespace is the object holding the vendor's fields ("op").
	Namespace string
	// TypeKey is the member naming the event type ("event_type"; the
	// Cortex XDR seed used "type").
	TypeKey string
	// SourceKey names the stream in error and run_summary events
	// ("source"; Proofpoint and the Cortex XDR seed use "error_source").
	SourceKey string
	// Tag is the wodle tag the README installs (location command_<Tag>).
	Tag string
	// RuleFile is the vendor's rule file; CaseFile its test cases in tests/.
	RuleFile, CaseFile string
	// FirstID and LastID bound the vendor's rule ids.
	FirstID, LastID int
	// BaseID is the level-0 rule that claims every event of the vendor.
	BaseID int
	// ErrorID is the rule of error events; Dashboard the saved objects.
	ErrorID   int
	Dashboard string
}

// Vendors returns the three integrations.
func Vendors() []Vendor {
	return []Vendor{
		{Name: "1password", Namespace: "op", TypeKey: "event_type", SourceKey: "source", Tag: "onepassword",
			RuleFile: "onepassword_rules.xml", CaseFile: "onepassword.json", FirstID: 100700, LastID: 100799,
			BaseID: 100700, ErrorID: 100701, Dashboard: "dashboards/onepassword.ndjson"},
		{Name: "proofpoint", Namespace: "pp", TypeKey: "event_type", SourceKey: "error_source", Tag: "proofpoint",
			RuleFile: "proofpoint_rules.xml", CaseFile: "proofpoint.json", FirstID: 100600, LastID: 100699,
			BaseID: 100600, ErrorID: 100670, Dashboard: "dashboards/proofpoint.ndjson"},
		{Name: "cortex_xdr", Namespace: "xdr", TypeKey: "type", SourceKey: "error_source", Tag: "cortex_xdr",
			RuleFile: "cortex_xdr_rules.xml", CaseFile: "cortex_xdr.json", FirstID: 100500, LastID: 100599,
			BaseID: 100500, ErrorID: 100599, Dashboard: "dashboards/cortex_xdr.ndjson"},
	}
}

// RuleFileNames lists the embedded rule files in Wazuh's load order.
func RuleFileNames() []string {
	var out []string
	for _, n := range xmlFiles() {
		if !IsDecoderFile(n) {
			out = append(out, n)
		}
	}
	return out
}

// DecoderFileNames lists the embedded decoder files.
func DecoderFileNames() []string {
	var out []string
	for _, n := range xmlFiles() {
		if IsDecoderFile(n) {
			out = append(out, n)
		}
	}
	return out
}

// IsDecoderFile tells decoder files from rule files by name, as an
// installer (and the test labs) do: decoders go to etc/decoders.
func IsDecoderFile(name string) bool { return strings.Contains(name, "decoder") }

func xmlFiles() []string {
	names, _ := fs.Glob(Files, "*.xml")
	sort.Strings(names)
	return names
}

// Load parses the embedded rule files into a rule set.
func Load() (*ruleset.Set, error) {
	var files []*ruleset.File
	for _, name := range RuleFileNames() {
		b, err := Files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := ruleset.Parse(name, b)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return ruleset.NewSet(files)
}

// Dashboards lists the embedded dashboard files.
func Dashboards() []string {
	names, _ := fs.Glob(Files, "dashboards/*.ndjson")
	sort.Strings(names)
	return names
}

// VendorByName finds a vendor by its integration name.
func VendorByName(name string) (Vendor, error) {
	for _, v := range Vendors() {
		if v.Name == name {
			return v, nil
		}
	}
	return Vendor{}, fmt.Errorf("rules: no vendor %q", name)
}

// FieldPrefix is the prefix of the vendor's fields in rules ("op.").
func (v Vendor) FieldPrefix() string { return v.Namespace + "." }
