package ruleset

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestOSRegex(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{`^error$`, []string{"error", "ERROR"}, []string{"errors", "an error", ""}},
		{`^API_HTTP_401$|^CONFIG_MISSING_CREDENTIAL$`, []string{"API_HTTP_401", "config_missing_credential"}, []string{"API_HTTP_4011", "API_HTTP_400"}},
		{`\.+`, []string{"x", "a b"}, []string{""}},
		{`\.`, []string{"x"}, []string{""}},
		{`^\d\d+$`, []string{"12", "1234"}, []string{"1", "12a", ""}},
		{`TA\d\d\d\d`, []string{`["TA0003 - Persistence"]`}, []string{"[]", "TA003"}},
		{`a.b`, []string{"a.b", "xa.by"}, []string{"axb"}},
		{`Credential Access`, []string{`["TA0006 - Credential Access"]`}, []string{"CredentialAccess"}},
		{`^\w+@\w+$`, []string{"a-b@c_d"}, []string{"a b@c"}},
		{`^a\sb$`, []string{"a b"}, []string{"a\tb"}},
		{`^x\$$`, []string{"x$"}, []string{"x"}},
		{`^resolved`, []string{"resolved_duplicate"}, []string{"unresolved"}},
	} {
		re, err := OSRegex(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		for _, v := range tc.yes {
			if !re.MatchString(v) {
				t.Errorf("%q should match %q (as %s)", tc.pattern, v, re)
			}
		}
		for _, v := range tc.no {
			if re.MatchString(v) {
				t.Errorf("%q should not match %q (as %s)", tc.pattern, v, re)
			}
		}
	}
	for _, bad := range []string{`\q`, `((a))`, `a)`, `+a`, `a^b`, `trailing\`, `^(ab)+$`} {
		if _, err := OSRegex(bad); err == nil {
			t.Errorf("%q: accepted, want an error", bad)
		}
	}
}

func TestDecodeLikeTheJSONDecoder(t *testing.T) {
	d, err := Decode([]byte(`{"integration":"x","op":{"a":{"b":"c"},"n":7,"big":1700000000000,"f":43.6532,"neg":-2,` +
		`"t":true,"z":null,"empty":{},"arr":["x",1,null],"s":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"integration": "x", "op.a.b": "c", "op.n": "7", "op.big": "1700000000000.000000", "op.f": "43.653200",
		"op.neg": "-2", "op.t": "true", "op.z": "null", "op.arr": `["x",1,null]`, "op.s": "",
	}
	for k, v := range want {
		if got, ok := d.Get(k); !ok || got != v {
			t.Errorf("%s = %q, %v; want %q", k, got, ok, v)
		}
	}
	if d.Has("op.empty") || len(d.Names) != len(want) {
		t.Errorf("fields %v: an empty object yields no field", d.Names)
	}
	if strings.Join(d.Names[:3], ",") != "integration,op.a.b,op.n" {
		t.Errorf("fields not in document order: %v", d.Names)
	}
	// Names are looked up without regard to ASCII case, first field first.
	c, err := Decode([]byte(`{"pp":{"threatId":"a","ThreatID":"b","Ünï":"c"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get("pp.threatID"); !ok || v != "a" {
		t.Errorf("pp.threatID = %q, %v; want the first field of that name in any case", v, ok)
	}
	if c.Has("pp.ünï") || !c.Has("pp.Ünï") {
		t.Error("only ASCII letters are folded, as strcasecmp folds them")
	}
	for _, bad := range []string{`[1]`, `{"a":1} x`, `{"a":`, ``} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

func TestParseRuleFile(t *testing.T) {
	f, err := Parse("x_rules.xml", []byte(`<!-- c -->
<group name="v,">
  <rule id="100900" level="0">
    <decoded_as>json</decoded_as>
    <field name="integration">^v$</field>
    <description>base</description>
  </rule>
  <rule id="100901" level="10" frequency="3" timeframe="600">
    <if_sid>100900, 100902</if_sid>
    <if_matched_sid>100900</if_matched_sid>
    <same_field>v.user</same_field>
    <regex type="pcre2">"a":1</regex>
    <description>x $(v.user)</description>
    <mitre><id>T1110</id></mitre>
    <group>g1,pci_dss_10.2.4,</group>
  </rule>
</group>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules) != 2 {
		t.Fatalf("%d rules", len(f.Rules))
	}
	r := f.Rules[1]
	if r.ID != 100901 || r.Level != 10 || r.Frequency != 3 || r.Timeframe != 600 || r.IfMatchedSID != 100900 ||
		len(r.IfSID) != 2 || r.IfSID[1] != 100902 || r.SameField[0] != "v.user" || r.Regex[0].Type != "pcre2" ||
		r.Mitre[0] != "T1110" || strings.Join(r.Groups, ",") != "v,g1,pci_dss_10.2.4" || r.Line != 8 || !r.Correlation() {
		t.Fatalf("parsed %+v", r)
	}
	s, err := NewSet([]*File{f})
	if err != nil {
		t.Fatal(err)
	}
	if kids := s.Children(100900); len(kids) != 1 || kids[0].ID != 100901 {
		t.Fatalf("children of 100900: %v", kids)
	}
	if _, err := NewSet([]*File{f, f}); err == nil {
		t.Fatal("duplicate ids accepted")
	}
	for _, bad := range []string{`<rule id="1" level="0"/>`, `<group><decoder/></group>`, `<group><rule id="x" level="1"><description>d</description></rule></group>`,
		`<group><rule id="1"><description>d</description></rule></group>`, `<group><rule id="1" level="1" bogus="1"/></group>`} {
		if _, err := Parse("bad.xml", []byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func FuzzOSRegex(f *testing.F) {
	for _, p := range []string{`^error$`, `\.+`, `^\d\d+$|x`, `(a)+\w*`, `\q`, `((`} {
		f.Add(p, "value")
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		re, err := OSRegex(pattern)
		if err != nil {
			return
		}
		re.MatchString(value)
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"integration":"x","op":{"a":[1,{"b":null}],"n":1.5e300}}`))
	f.Add([]byte(`{"a":{"b":{"c":{}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		var v map[string]any
		if json.Unmarshal(b, &v) != nil {
			t.Fatalf("Decode accepted what encoding/json refuses: %q", b)
		}
		if len(d.Names) != len(d.Values) {
			t.Fatalf("%d names, %d values", len(d.Names), len(d.Values))
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`<group name="a,"><rule id="1" level="2"><if_sid>3</if_sid><field name="x">y</field><description>d</description></rule></group>`))
	f.Add([]byte(`<!-- x --><group name="a"><rule id="1" level="2" frequency="2" timeframe="1"><mitre><id>T1</id></mitre><description>d</description></rule></group>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := Parse("f.xml", b)
		if err != nil {
			return
		}
		if _, err := NewSet([]*File{fl}); err != nil && !strings.Contains(err.Error(), "defined twice") {
			t.Fatal(err)
		}
	})
}
