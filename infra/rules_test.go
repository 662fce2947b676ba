package infra

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// evaluator computes the template's Rules and Conditions for given
// parameter values the way CloudFormation does before it creates
// anything: the functions those sections may use, parameters as strings
// (a CommaDelimitedList is split at commas, so "" is one empty member).
type evaluator struct {
	params map[string]any // declarations
	values map[string]string
	conds  map[string]any
}

func (e *evaluator) value(name string) any {
	v, ok := e.values[name]
	if !ok {
		d, _ := lookup(e.params, name, "Default")
		v, _ = d.(string)
	}
	if typ, _ := lookup(e.params, name, "Type"); typ == "CommaDelimitedList" {
		var out []any
		for _, s := range strings.Split(v, ",") {
			out = append(out, s)
		}
		return out
	}
	return v
}

func (e *evaluator) eval(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			r, err := e.eval(el)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("not a function: %v", x)
		}
		for name, arg := range x {
			if name == "Ref" {
				return e.value(arg.(string)), nil
			}
			if name == "Condition" {
				return e.eval(e.conds[arg.(string)])
			}
			args, err := e.eval(arg)
			if err != nil {
				return nil, err
			}
			l, _ := args.([]any)
			switch name {
			case "Fn::Not":
				return !l[0].(bool), nil
			case "Fn::And", "Fn::Or":
				acc := name == "Fn::And"
				for _, b := range l {
					if name == "Fn::And" {
						acc = acc && b.(bool)
					} else {
						acc = acc || b.(bool)
					}
				}
				return acc, nil
			case "Fn::Equals":
				return fmt.Sprint(l[0]) == fmt.Sprint(l[1]), nil
			case "Fn::Contains":
				return slices.Contains(l[0].([]any), l[1]), nil
			case "Fn::EachMemberEquals":
				for _, m := range l[0].([]any) {
					if m != l[1] {
						return false, nil
					}
				}
				return true, nil
			case "Fn::Join":
				var parts []string
				for _, p := range l[1].([]any) {
					parts = append(parts, p.(string))
				}
				return strings.Join(parts, l[0].(string)), nil
			case "Fn::If":
				c, err := e.eval(e.conds[l[0].(string)])
				if err != nil {
					return nil, err
				}
				if c.(bool) {
					return l[1], nil
				}
				return l[2], nil
			case "Fn::Split":
				var out []any
				for _, p := range strings.Split(l[1].(string), l[0].(string)) {
					out = append(out, p)
				}
				return out, nil
			case "Fn::Length":
				// AWS::LanguageExtensions resolves it to a number before
				// CloudFormation reads the template.
				return strconv.Itoa(len(l)), nil
			}
			return nil, fmt.Errorf("function %s is not evaluated here", name)
		}
	}
	return nil, fmt.Errorf("cannot evaluate %T", v)
}

func (e *evaluator) truth(t *testing.T, v any) bool {
	t.Helper()
	r, err := e.eval(v)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := r.(bool)
	if !ok {
		t.Fatalf("%v is not a condition", v)
	}
	return b
}

// refusals returns the AssertDescription of every failed assertion.
func (e *evaluator) refusals(t *testing.T, rules map[string]any) []string {
	t.Helper()
	var out []string
	for _, name := range sortedKeys(rules) {
		rule := rules[name].(map[string]any)
		if c, ok := rule["RuleCondition"]; ok && !e.truth(t, c) {
			continue
		}
		for _, a := range rule["Assertions"].([]any) {
			if !e.truth(t, a.(map[string]any)["Assert"]) {
				out = append(out, name+": "+a.(map[string]any)["AssertDescription"].(string))
			}
		}
	}
	return out
}

func evalCondition(t *testing.T, f *fixture, cond any, values map[string]string) bool {
	t.Helper()
	conds, _ := f.tmpl["Conditions"].(map[string]any)
	e := &evaluator{params: f.params, values: values, conds: conds}
	return e.truth(t, cond)
}

// TestRules: the deployment is refused, before anything is created,
// when it would send over the internet without a client certificate, in
// clear text outside a VPC, or deploy no vendor at all.
func TestRules(t *testing.T) {
	tmpl := loadTemplate(t)
	rules := tmpl["Rules"].(map[string]any)
	const tlsSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wazuh-pull/syslog-tls-AbCdEf"
	base := map[string]string{"SyslogAddress": "relay.example.org:6515", "OnepasswordTenants": "acme,globex"}
	cases := []struct {
		name string
		set  map[string]string
		want string // "" accepted, else a word of the refusal
	}{
		{"tls with a client certificate", map[string]string{"SyslogTlsSecretArn": tlsSecret}, ""},
		{"tls without a client certificate", nil, "TlsNeedsClientCertificate: SyslogScheme tls needs SyslogTlsSecretArn"},
		{"tcp over the internet", map[string]string{"SyslogScheme": "tcp"}, "TcpOnlyInsideAVpc: SyslogScheme tcp sends in clear text"},
		{"tcp in a VPC", map[string]string{"SyslogScheme": "tcp", "SubnetIds": "subnet-0a", "SecurityGroupIds": "sg-0a"}, ""},
		{"tcp with a TLS secret", map[string]string{"SyslogScheme": "tcp", "SubnetIds": "subnet-0a", "SecurityGroupIds": "sg-0a", "SyslogTlsSecretArn": tlsSecret}, "makes no sense with SyslogScheme tcp"},
		{"tls in a VPC", map[string]string{"SyslogTlsSecretArn": tlsSecret, "SubnetIds": "subnet-0a", "SecurityGroupIds": "sg-0a"}, ""},
		{"VPC without security groups", map[string]string{"SyslogTlsSecretArn": tlsSecret, "SubnetIds": "subnet-0a"}, "SecurityGroupIds is required"},
		{"no vendor", map[string]string{"SyslogTlsSecretArn": tlsSecret, "OnepasswordTenants": ""}, "AtLeastOneVendor"},
		{"an empty tenant name", map[string]string{"SyslogTlsSecretArn": tlsSecret, "OnepasswordTenants": "acme,,globex"}, "OnepasswordTenants has an empty name"},
	}
	for _, c := range cases {
		values := map[string]string{}
		for k, v := range base {
			values[k] = v
		}
		for k, v := range c.set {
			values[k] = v
		}
		e := &evaluator{params: tmpl["Parameters"].(map[string]any), values: values}
		got := e.refusals(t, rules)
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s: refused: %v", c.name, got)
		case c.want != "" && !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, c.want) }):
			t.Errorf("%s: refusals %v, want one saying %q", c.name, got, c.want)
		}
	}
}
