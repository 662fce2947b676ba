// Package casegen produces the rule test cases in rules/tests: event lines
// written by the collectors themselves (run against their simulators and
// recorded at the sink), each paired with the rule it must end on in
// Wazuh. Nothing in a case is typed by hand except the choice of line and
// rule; the expected level and groups come from the rule files.
//
// Each vendor registers one Generator, which runs the vendor's real
// collector against its simulator through the shared pipeline. Where a
// case needs a record the simulator does not make by itself, the generator
// drives the simulator's documented options and ingestion API; lines are
// never typed. Error codes a collector cannot produce against its
// simulator are written by the shared pipeline's error writer with the
// vendor's envelope (OriginPipeline).
//
//	go run ./rules/casegen/gencases   # rewrites rules/tests/*.json
package casegen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
)

// Origins of event lines.
const (
	// OriginCollector: written by the vendor's collector run against its
	// simulator.
	OriginCollector = "collector"
	// OriginPipeline: written by the shared pipeline's error writer with
	// the vendor's envelope, for error codes the collector does not emit
	// (the rules must know them all the same).
	OriginPipeline = "pipeline"
)

// Line is one event line as a sink received it.
type Line struct {
	// Event is the JSON line without its '\n'.
	Event string
	// Origin tells who wrote it (OriginCollector, ...).
	Origin string
	// Scenario names the generator run that produced it.
	Scenario string

	decoded *ruleset.Decoded
}

// Fields returns the line decoded as Wazuh's JSON decoder does.
func (l *Line) Fields() *ruleset.Decoded {
	if l.decoded == nil {
		d, err := ruleset.Decode([]byte(l.Event))
		if err != nil {
			d = &ruleset.Decoded{Values: map[string]string{}}
		}
		l.decoded = d
	}
	return l.decoded
}

// Get returns a decoded field ("" when absent).
func (l *Line) Get(name string) string {
	v, _ := l.Fields().Get(name)
	return v
}

// Generator produces a vendor's event lines.
type Generator struct {
	// Origin is OriginCollector.
	Origin string
	// Describe says what runs, for the case file.
	Describe string
	// Run produces every line the cases may pick from.
	Run func(ctx context.Context) ([]*Line, error)
}

// CaseSpec defines one case: how to pick its lines from the generated
// ones and which rule each line must end on.
type CaseSpec struct {
	Name string
	// Select returns the case's lines: one, or a sequence for a
	// correlation rule.
	Select func(p *Pool) ([]*Line, error)
	// Rules are the expected rules, one per selected line.
	Rules []int
}

// Vendor is one integration whose rules are tested.
type Vendor struct {
	rules.Vendor
	// EventTypes lists every event type the collector can emit.
	EventTypes []string
	// ExtraErrorCodes lists codes the collector emits besides the shared
	// pipeline's (shared/pipeline/errors.go).
	ExtraErrorCodes []string
	Generator       Generator
	Cases           []CaseSpec
}

// Location is the wodle location of the vendor's events.
func (v *Vendor) Location() string { return "command_" + v.Tag }

// File is a case file (rules/tests/<vendor>.json).
type File struct {
	Vendor    string `json:"vendor"`
	Generator string `json:"generator"`
	// Origin is the generator's: "collector".
	Origin string `json:"origin"`
	Cases  []Case `json:"cases"`
}

// Case is one test case.
type Case struct {
	Name   string     `json:"name"`
	Rule   string     `json:"rule"`
	Origin string     `json:"origin"`
	Lines  []CaseLine `json:"lines"`
}

// CaseLine is one event as logtest takes it and what Wazuh must make of it.
type CaseLine struct {
	Location string `json:"location"`
	Event    string `json:"event"`
	Expect   Expect `json:"expect"`
}

// Expect is the expected verdict.
type Expect struct {
	Decoder string   `json:"decoder"`
	RuleID  string   `json:"rule_id"`
	Level   int      `json:"level"`
	Groups  []string `json:"groups"`
}

// Build runs the vendor's generator and turns its case specs into a case
// file, taking levels and groups from the rule set.
func Build(ctx context.Context, v *Vendor, set *ruleset.Set) (*File, error) {
	lines, err := v.Generator.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s generator: %w", v.Name, err)
	}
	return Select(v, set, lines)
}

// Select picks the cases' lines from generated lines.
func Select(v *Vendor, set *ruleset.Set, lines []*Line) (*File, error) {
	f := &File{Vendor: v.Name, Generator: v.Generator.Describe, Origin: v.Generator.Origin}
	pool := &Pool{Lines: lines}
	var errs []error
	for _, spec := range v.Cases {
		picked, err := spec.Select(pool)
		if err == nil && len(picked) != len(spec.Rules) {
			err = fmt.Errorf("selected %d lines for %d expected rules", len(picked), len(spec.Rules))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s case %q: %w", v.Name, spec.Name, err))
			continue
		}
		c := Case{Name: spec.Name, Rule: strconv.Itoa(spec.Rules[len(spec.Rules)-1])}
		for i, ln := range picked {
			r := set.Rule(spec.Rules[i])
			if r == nil {
				errs = append(errs, fmt.Errorf("%s case %q: no rule %d in the rule files", v.Name, spec.Name, spec.Rules[i]))
				continue
			}
			c.Lines = append(c.Lines, CaseLine{
				Location: v.Location(),
				Event:    ln.Event,
				Expect:   Expect{Decoder: "json", RuleID: strconv.Itoa(r.ID), Level: r.Level, Groups: r.Groups},
			})
			c.Origin = mergeOrigin(c.Origin, ln.Origin)
		}
		f.Cases = append(f.Cases, c)
	}
	return f, errors.Join(errs...)
}

// mergeOrigin names a case's origin: its lines' common origin, or the
// least direct one when they differ.
func mergeOrigin(a, b string) string {
	rank := map[string]int{"": 0, OriginCollector: 1, OriginPipeline: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Marshal renders a case file: indented, one event per line, no HTML
// escaping (events keep their exact text).
func (f *File) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReadFile reads a case file.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Path is where a vendor's case file lives below the repository's rules
// directory.
func Path(rulesDir string, v *Vendor) string {
	return filepath.Join(rulesDir, "tests", v.CaseFile)
}
