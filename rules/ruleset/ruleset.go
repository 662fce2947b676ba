// Package ruleset reads Wazuh rule files into a model that tests can check
// against what Wazuh 4.x does with them: load order, parents, field names,
// regular expressions (see OSRegex), frequency and correlation options.
// It reads rules, it does not evaluate them: the real engine
// (shared/wazuhlab) is the judge of what fires.
package ruleset

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Rule is one <rule> of a rule file.
type Rule struct {
	File  string // basename
	Line  int
	ID    int
	Level int
	// Frequency and Timeframe are the attributes (0 when absent).
	Frequency, Timeframe int
	// IfSID lists the parents (<if_sid>, comma or space separated).
	IfSID          []int
	IfMatchedSID   int
	IfGroup        string
	IfMatchedGroup string
	DecodedAs      string
	Fields         []Field
	// Regex holds <regex> and <match> (Kind tells which).
	Regex          []Pattern
	Location       string
	SameField      []string
	DifferentField []string
	Description    string
	// Groups are the rule's groups: those of the enclosing <group name>
	// followed by its own <group> elements.
	Groups    []string
	Mitre     []string
	Options   []string
	Overwrite bool
	// Elements lists every child element name, to refuse unknown ones.
	Elements []string
}

// Field is a <field name="..."> condition.
type Field struct {
	Name    string
	Pattern string
	// Type is the regex flavour: "osregex" (the default), "osmatch" or "pcre2".
	Type   string
	Negate bool
}

// Pattern is a <regex> or <match> condition on the whole log.
type Pattern struct {
	Kind    string // "regex" or "match"
	Pattern string
	Type    string
	Negate  bool
}

// Parents returns every rule this one is attached to by id: its if_sid
// list and, for correlation rules, the if_matched_sid.
func (r *Rule) Parents() []int {
	out := append([]int(nil), r.IfSID...)
	if r.IfMatchedSID != 0 && !containsInt(out, r.IfMatchedSID) {
		out = append(out, r.IfMatchedSID)
	}
	return out
}

// Correlation reports whether the rule counts earlier events.
func (r *Rule) Correlation() bool {
	return r.Frequency > 0 || r.IfMatchedSID != 0 || r.IfMatchedGroup != ""
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// File is a parsed rule file.
type File struct {
	Name  string
	Rules []*Rule
}

type xmlElem struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Content  string     `xml:",chardata"`
	Children []xmlElem  `xml:",any"`
}

func (e *xmlElem) attr(name string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// Parse reads one rule file: a sequence of <group name="..."> elements
// holding <rule> elements, as Wazuh writes them (several top-level
// elements and comments are allowed).
func Parse(name string, data []byte) (*File, error) {
	f := &File{Name: filepath.Base(name)}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "group" {
			return nil, fmt.Errorf("%s:%d: top-level <%s>, want <group>", name, lineAt(data, off), se.Name.Local)
		}
		var g xmlElem
		if err := dec.DecodeElement(&g, &se); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		gname, _ := g.attr("name")
		groupNames := splitList(gname)
		// Rules inside a group: lines are recovered by searching the id.
		for i := range g.Children {
			c := &g.Children[i]
			if c.XMLName.Local != "rule" {
				return nil, fmt.Errorf("%s: <%s> inside <group>, want <rule>", name, c.XMLName.Local)
			}
			r, err := parseRule(c, groupNames)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			r.File = f.Name
			r.Line = lineOfID(data, r.ID)
			f.Rules = append(f.Rules, r)
		}
	}
}

func lineAt(data []byte, off int64) int {
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

func lineOfID(data []byte, id int) int {
	i := bytes.Index(data, []byte(`id="`+strconv.Itoa(id)+`"`))
	if i < 0 {
		return 0
	}
	return lineAt(data, int64(i))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func atoi(s, what string, id string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("rule %s: %s %q is not a number", id, what, s)
	}
	return n, nil
}

func parseRule(e *xmlElem, groups []string) (*Rule, error) {
	r := &Rule{Groups: append([]string(nil), groups...)}
	idAttr, _ := e.attr("id")
	var err error
	if r.ID, err = atoi(idAttr, "id", idAttr); err != nil {
		return nil, err
	}
	lv, ok := e.attr("level")
	if !ok {
		return nil, fmt.Errorf("rule %d: no level", r.ID)
	}
	if r.Level, err = atoi(lv, "level", idAttr); err != nil {
		return nil, err
	}
	if v, ok := e.attr("frequency"); ok {
		if r.Frequency, err = atoi(v, "frequency", idAttr); err != nil {
			return nil, err
		}
	}
	if v, ok := e.attr("timeframe"); ok {
		if r.Timeframe, err = atoi(v, "timeframe", idAttr); err != nil {
			return nil, err
		}
	}
	for _, a := range e.Attrs {
		switch a.Name.Local {
		case "id", "level", "frequency", "timeframe":
		case "overwrite":
			r.Overwrite = a.Value == "yes"
		default:
			return nil, fmt.Errorf("rule %d: unknown attribute %s", r.ID, a.Name.Local)
		}
	}
	for i := range e.Children {
		c := &e.Children[i]
		text := strings.TrimSpace(c.Content)
		r.Elements = append(r.Elements, c.XMLName.Local)
		typ, _ := c.attr("type")
		neg, _ := c.attr("negate")
		switch c.XMLName.Local {
		case "if_sid":
			for _, s := range splitList(text) {
				n, err := atoi(s, "if_sid", idAttr)
				if err != nil {
					return nil, err
				}
				r.IfSID = append(r.IfSID, n)
			}
		case "if_matched_sid":
			if r.IfMatchedSID, err = atoi(text, "if_matched_sid", idAttr); err != nil {
				return nil, err
			}
		case "if_group":
			r.IfGroup = text
		case "if_matched_group":
			r.IfMatchedGroup = text
		case "decoded_as":
			r.DecodedAs = text
		case "field":
			name, _ := c.attr("name")
			if typ == "" {
				typ = "osregex"
			}
			r.Fields = append(r.Fields, Field{Name: name, Pattern: text, Type: typ, Negate: neg == "yes"})
		case "regex", "match":
			if typ == "" {
				typ = map[string]string{"regex": "osregex", "match": "osmatch"}[c.XMLName.Local]
			}
			r.Regex = append(r.Regex, Pattern{Kind: c.XMLName.Local, Pattern: text, Type: typ, Negate: neg == "yes"})
		case "location":
			r.Location = text
		case "same_field":
			r.SameField = append(r.SameField, text)
		case "different_field":
			r.DifferentField = append(r.DifferentField, text)
		case "description":
			r.Description = text
		case "group":
			r.Groups = append(r.Groups, splitList(text)...)
		case "mitre":
			for _, id := range c.Children {
				if id.XMLName.Local != "id" {
					return nil, fmt.Errorf("rule %d: <mitre> holds <%s>, want <id>", r.ID, id.XMLName.Local)
				}
				r.Mitre = append(r.Mitre, strings.TrimSpace(id.Content))
			}
		case "options":
			r.Options = append(r.Options, splitList(text)...)
		}
	}
	return r, nil
}

// Set is the rules of several files in Wazuh's load order.
type Set struct {
	Files []*File
	// Rules in load order.
	Rules []*Rule
	byID  map[int]*Rule
}

// NewSet orders files by basename and indexes their rules. A duplicate id
// is an error (Wazuh would skip the later rule with a warning).
func NewSet(files []*File) (*Set, error) {
	s := &Set{byID: map[int]*Rule{}}
	s.Files = append(s.Files, files...)
	sort.SliceStable(s.Files, func(i, j int) bool { return s.Files[i].Name < s.Files[j].Name })
	for _, f := range s.Files {
		for _, r := range f.Rules {
			if prev, dup := s.byID[r.ID]; dup && !r.Overwrite {
				return nil, fmt.Errorf("rule %d defined twice: %s:%d and %s:%d", r.ID, prev.File, prev.Line, r.File, r.Line)
			}
			s.byID[r.ID] = r
			s.Rules = append(s.Rules, r)
		}
	}
	return s, nil
}

// Rule returns the rule with id, or nil.
func (s *Set) Rule(id int) *Rule { return s.byID[id] }

// Index returns the position of a rule in load order (-1 if absent).
func (s *Set) Index(id int) int {
	for i, r := range s.Rules {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// Children returns the rules attached to id through if_sid or
// if_matched_sid, in load order.
func (s *Set) Children(id int) []*Rule {
	var out []*Rule
	for _, r := range s.Rules {
		if containsInt(r.Parents(), id) {
			out = append(out, r)
		}
	}
	return out
}
