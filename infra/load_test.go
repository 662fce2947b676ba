package infra

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// templatePath is the SAM template, relative to this package (go test
// runs in the package directory).
const templatePath = "template.yaml"

// loadTemplate reads template.yaml into plain Go values: map[string]any,
// []any, string, bool and nil. CloudFormation's short-form tags become
// their long form ({"Ref": x}, {"Fn::GetAtt": [r, a]}, {"Fn::Sub": …}), so
// the assertions see the template as CloudFormation does. Numbers stay
// strings (CloudFormation passes them as strings anyway), which keeps the
// comparisons exact.
func loadTemplate(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := parseTemplate(raw)
	if err != nil {
		t.Fatalf("%s: %v", templatePath, err)
	}
	return tmpl
}

func parseTemplate(raw []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	v, err := fromNode(&doc)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the template is a %T, not a mapping", v)
	}
	return m, nil
}

// yaml11Bools are plain scalars that YAML 1.1 parsers (CloudFormation's
// among them) read as booleans while YAML 1.2 reads them as strings:
// Scheduler's FlexibleTimeWindow Mode "OFF" must be quoted, for example.
var yaml11Bools = map[string]bool{"yes": true, "no": true, "on": true, "off": true, "y": true, "n": true}

func fromNode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("want one YAML document, got %d", len(n.Content))
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		// Not every CloudFormation tool expands aliases; the template
		// does not need them.
		return nil, fmt.Errorf("line %d: YAML aliases are not used in this template", n.Line)
	}
	if tag := n.Tag; strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		return fromTagged(n, tag[1:])
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: %v", n.Line, err)
			}
			return b, nil
		case "!!null":
			return nil, nil
		case "!!str":
			if n.Style == 0 && yaml11Bools[strings.ToLower(n.Value)] {
				return nil, fmt.Errorf("line %d: quote %q: CloudFormation reads it as a YAML 1.1 boolean", n.Line, n.Value)
			}
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			// CloudFormation refuses duplicate keys; a YAML decoder into a
			// Node keeps both, so a copy-paste slip would go unnoticed.
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := fromNode(vn)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

// fromTagged turns !Name x into {"Fn::Name": x} ({"Ref": x} and
// {"Condition": x} for the two that have no Fn:: prefix). !GetAtt r.a
// becomes {"Fn::GetAtt": [r, a]} as CloudFormation splits it.
func fromTagged(n *yaml.Node, name string) (any, error) {
	inner := *n
	inner.Tag = ""
	if n.Kind == yaml.ScalarNode {
		inner.Tag = "!!str"
	}
	v, err := fromNode(&inner)
	if err != nil {
		return nil, err
	}
	key := "Fn::" + name
	switch name {
	case "Ref", "Condition":
		key = name
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{key: v}, nil
}

// expandForEach expands AWS::LanguageExtensions Fn::ForEach blocks in a
// template section (Resources, Conditions, Outputs) the way CloudFormation
// does: for each value of the collection, the output keys get ${Id}
// replaced by the value and &{Id} by the value with every character but
// letters and digits removed; in the values {"Ref": Id} and ${Id} inside
// Fn::Sub become the value. Collections are literal lists or a Ref to a
// parameter, taken from params.
func expandForEach(section map[string]any, params map[string][]string) (map[string]any, error) {
	out := map[string]any{}
	add := func(k string, v any) error {
		if _, dup := out[k]; dup {
			return fmt.Errorf("logical id %q is produced twice", k)
		}
		out[k] = v
		return nil
	}
	keys := sortedKeys(section)
	for _, k := range keys {
		v := section[k]
		if !strings.HasPrefix(k, "Fn::ForEach::") {
			if err := add(k, v); err != nil {
				return nil, err
			}
			continue
		}
		args, ok := v.([]any)
		if !ok || len(args) != 3 {
			return nil, fmt.Errorf("%s: want [Identifier, Collection, OutputTemplate]", k)
		}
		id, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s: identifier is a %T", k, args[0])
		}
		coll, err := collection(args[1], params)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
		tmpl, ok := args[2].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: output template is a %T", k, args[2])
		}
		for _, item := range coll {
			sub, err := expandForEach(substitute(tmpl, id, item).(map[string]any), params)
			if err != nil {
				return nil, fmt.Errorf("%s (%s=%s): %v", k, id, item, err)
			}
			for _, sk := range sortedKeys(sub) {
				if strings.Contains(sk, "${") || strings.Contains(sk, "&{") {
					return nil, fmt.Errorf("%s: logical id %q keeps an unexpanded identifier", k, sk)
				}
				if err := add(sk, sub[sk]); err != nil {
					return nil, fmt.Errorf("%s: %v", k, err)
				}
			}
		}
	}
	return out, nil
}

func collection(v any, params map[string][]string) ([]string, error) {
	if name, ok := refName(v); ok {
		vals, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("collection refers to parameter %q, which the test gave no value", name)
		}
		return vals, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("collection is a %T, want a list or a Ref", v)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("collection item is a %T", x)
		}
		out = append(out, s)
	}
	return out, nil
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

func substitute(v any, id, val string) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if r, ok := x["Ref"].(string); ok && r == id {
				return val
			}
			if s, ok := x["Fn::Sub"].(string); ok {
				return map[string]any{"Fn::Sub": strings.ReplaceAll(s, "${"+id+"}", val)}
			}
			if l, ok := x["Fn::Sub"].([]any); ok && len(l) == 2 {
				if s, ok := l[0].(string); ok {
					return map[string]any{"Fn::Sub": []any{strings.ReplaceAll(s, "${"+id+"}", val), substitute(l[1], id, val)}}
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			k = strings.ReplaceAll(k, "${"+id+"}", val)
			k = strings.ReplaceAll(k, "&{"+id+"}", nonAlnum.ReplaceAllString(val, ""))
			out[k] = substitute(e, id, val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substitute(e, id, val)
		}
		return out
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lookup follows a path of mapping keys.
func lookup(v any, path ...string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// dig is lookup that fails the test when the path is missing.
func dig(t testing.TB, v any, path ...string) any {
	t.Helper()
	got, ok := lookup(v, path...)
	if !ok {
		t.Fatalf("template: %s is missing", strings.Join(path, "."))
	}
	return got
}

func refName(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["Ref"].(string)
	return s, ok
}

func isRef(v any, name string) bool {
	got, ok := refName(v)
	return ok && got == name
}

func isGetAtt(v any, resource, attr string) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	l, ok := m["Fn::GetAtt"].([]any)
	return ok && len(l) == 2 && l[0] == resource && l[1] == attr
}

// subString returns the string of a one-argument Fn::Sub.
func subString(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["Fn::Sub"].(string)
	return s, ok
}

// fnIf returns the condition and branches of an Fn::If.
func fnIf(v any) (cond string, yes, no any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, nil, false
	}
	l, isList := m["Fn::If"].([]any)
	if !isList || len(l) != 3 {
		return "", nil, nil, false
	}
	cond, ok = l[0].(string)
	return cond, l[1], l[2], ok
}

func isNoValue(v any) bool { return isRef(v, "AWS::NoValue") }

// strings of a value that is a string or a list of strings.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// walkStrings calls f with every mapping key and string value in v.
func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case map[string]any:
		for k, e := range x {
			f(k)
			walkStrings(e, f)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

// globMatch matches s against an IAM-style pattern: * is any run of
// characters (including '/'), ? one character.
func globMatch(pattern, s string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}

func TestLoaderHandlesShortForms(t *testing.T) {
	tmpl, err := parseTemplate([]byte(`
A: !Ref X
B: !GetAtt Res.Arn
C: !Sub "x-${Y}"
D: !If [Cond, !Ref AWS::NoValue, [!Split [",", !Ref Z]]]
E: !GetAtt [Res, Endpoint.Address]
F: "OFF"
G: 300
Resources:
  Fn::ForEach::L:
    - T
    - !Ref Ts
    - R&{T}:
        P: !Sub '{"t":"${T}"}'
        Q: !Ref T
`))
	if err != nil {
		t.Fatal(err)
	}
	if !isRef(tmpl["A"], "X") || !isGetAtt(tmpl["B"], "Res", "Arn") || !isGetAtt(tmpl["E"], "Res", "Endpoint.Address") {
		t.Errorf("Ref/GetAtt: %#v %#v %#v", tmpl["A"], tmpl["B"], tmpl["E"])
	}
	if s, ok := subString(tmpl["C"]); !ok || s != "x-${Y}" {
		t.Errorf("Sub: %#v", tmpl["C"])
	}
	if cond, yes, _, ok := fnIf(tmpl["D"]); !ok || cond != "Cond" || !isNoValue(yes) {
		t.Errorf("If: %#v", tmpl["D"])
	}
	if tmpl["F"] != "OFF" || tmpl["G"] != "300" {
		t.Errorf("scalars: %#v %#v", tmpl["F"], tmpl["G"])
	}
	res, err := expandForEach(tmpl["Resources"].(map[string]any), map[string][]string{"Ts": {"a-b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := subString(dig(t, res, "Rab", "P")); s != `{"t":"a-b"}` || dig(t, res, "Rc", "Q") != "c" || len(res) != 2 {
		t.Errorf("ForEach: %#v", res)
	}
	if _, err := expandForEach(tmpl["Resources"].(map[string]any), map[string][]string{"Ts": {"a-b", "ab"}}); err == nil {
		t.Error("ForEach: colliding logical ids not reported")
	}
	for _, bad := range []string{"A: off\n", "A: 1\nA: 2\n", "A: &x 1\nB: *x\n"} {
		if _, err := parseTemplate([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
