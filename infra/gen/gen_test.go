package gen

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
)

func toy(name, command string) spec.Descriptor {
	d := spectest.Descriptor()
	d.Name, d.Command, d.EnvPrefix, d.HostDir = name, command, strings.ToUpper(command), command
	d.Credentials = []spec.Credential{{Field: "api_key", Env: strings.ToUpper(command) + "_API_KEY", Required: true, Help: "key"}}
	d.TenantsFileEnv = ""
	for i := range d.Settings {
		d.Settings[i].Env = strings.ToUpper(command) + "_PAGE_SIZE"
	}
	return d
}

// TestTemplateIsYAML: the output parses, and each vendor's parameters
// and resources are there.
func TestTemplateIsYAML(t *testing.T) {
	out, err := Template([]spec.Descriptor{toy("toy", "toy"), toy("other_toy", "othertoy")})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	params := doc["Parameters"].(map[string]any)
	res := doc["Resources"].(map[string]any)
	for _, id := range []string{"Toy", "Othertoy"} {
		for _, p := range []string{"Tenants", "Schedule", "BetaSchedule", "BetaLagAlarmThresholdSeconds", "BetaStaleAlarmSeconds", "LookbackHours", "RateLimit", "PageSize"} {
			if _, ok := params[id+p]; !ok {
				t.Errorf("parameter %s%s missing", id, p)
			}
		}
		for _, r := range []string{"Function", "Role", "LogGroup", "EventInvokeConfig", "LagAlarm", "BetaLagAlarm", "RunsRule", "BetaRunsRule", "Fn::ForEach::" + id + "AlphaSchedules"} {
			key := id + r
			if strings.HasPrefix(r, "Fn::") {
				key = r
			}
			if _, ok := res[key]; !ok {
				t.Errorf("resource %s missing", key)
			}
		}
	}
	// The toy allows 600 a minute over two streams.
	if d := params["ToyRateLimit"].(map[string]any)["Default"]; d != "300" {
		t.Errorf("ToyRateLimit default %v, want 300", d)
	}
	if !strings.Contains(string(out), `{"Fn::Not": [{"Fn::And": [{"Fn::EachMemberEquals": [{"Ref": "ToyTenants"}, ""]}, {"Fn::EachMemberEquals": [{"Ref": "OthertoyTenants"}, ""]}]}]}`) {
		t.Errorf("the at-least-one-vendor rule does not cover both vendors")
	}
}

func TestTemplateRefusesBadVendors(t *testing.T) {
	broken := toy("toy", "toy")
	broken.New = nil
	noDefault := toy("toy", "toy")
	noDefault.Settings[0].Default = ""
	tenants := toy("tenants", "tenants")
	for name, c := range map[string]struct {
		vendors []spec.Descriptor
		want    string
	}{
		"none":             {nil, "no vendors"},
		"invalid":          {[]spec.Descriptor{broken}, "no constructor"},
		"same prefix":      {[]spec.Descriptor{toy("toy", "toy"), toy("toy2", "toy")}, "both get the logical id prefix Toy"},
		"tenants path":     {[]spec.Descriptor{tenants}, `vendor name "tenants" is the path of per-tenant secrets`},
		"setting default":  {[]spec.Descriptor{noDefault}, "needs a default for the template"},
		"colliding stream": {[]spec.Descriptor{withStreams("a_b", "a-b")}, "streams a_b and a-b both become AB"},
	} {
		_, err := Template(c.vendors)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
}

func withStreams(names ...string) spec.Descriptor {
	d := toy("toy", "toy")
	d.Streams = nil
	for _, n := range names {
		d.Streams = append(d.Streams, spec.Stream{Name: n, Help: n})
	}
	return d
}

// TestAnyVendorNests: Fn::And takes at most 10 conditions.
func TestAnyVendorNests(t *testing.T) {
	var conds []string
	for i := 0; i < 23; i++ {
		conds = append(conds, fmt.Sprintf(`{"c": %d}`, i))
	}
	var v any
	if err := json.Unmarshal([]byte(anyOf(conds)), &v); err != nil {
		t.Fatal(err)
	}
	var check func(any) int
	check = func(x any) int {
		m, ok := x.(map[string]any)
		if !ok {
			return 0
		}
		if _, leaf := m["c"]; leaf {
			return 1
		}
		n := 0
		for k, args := range m {
			l := args.([]any)
			if k == "Fn::And" && (len(l) < 2 || len(l) > 10) {
				t.Errorf("Fn::And with %d conditions", len(l))
			}
			for _, a := range l {
				n += check(a)
			}
		}
		return n
	}
	if n := check(v); n != 23 {
		t.Errorf("%d conditions kept, want 23", n)
	}
}

func TestScheduleIntervalAndWindow(t *testing.T) {
	for expr, want := range map[string]time.Duration{
		"rate(5 minutes)": 5 * time.Minute, "rate(1 minute)": time.Minute, "rate(1 hour)": time.Hour,
		"rate(2 hours)": 2 * time.Hour, "rate(1 day)": 24 * time.Hour, "cron(0 3 * * ? *)": 24 * time.Hour,
	} {
		if got := scheduleInterval(expr); got != want {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
	for interval, want := range map[time.Duration]int{time.Minute: 600, 5 * time.Minute: 600, 10 * time.Minute: 1800, time.Hour: 7200, 24 * time.Hour: 86400} {
		if got := staleWindow(interval); got != want {
			t.Errorf("window for %v: %d, want %d", interval, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	for in, want := range map[string]string{"onepassword": "Onepassword", "item_usage": "ItemUsage", "a-b_c": "ABC", "cortexxdr": "Cortexxdr"} {
		if got := camel(in); got != want {
			t.Errorf("camel(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzQuote: any text (a descriptor's help, a title) becomes a YAML
// scalar that reads back as the same text.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "plain", `a "quoted" \ back`, "line\nbreak", "tab\t", "#comment", "key: value", "- dash", "ü ☃", "\x00\x1f", "{x}", "'single'", "@at"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8Valid(s) {
			return // descriptors are Go source text: valid UTF-8
		}
		var m map[string]string
		if err := yaml.Unmarshal([]byte("k: "+quote(s)), &m); err != nil {
			t.Fatalf("%q quoted as %s: %v", s, quote(s), err)
		}
		if m["k"] != s {
			t.Fatalf("%q read back as %q", s, m["k"])
		}
	})
}

// FuzzScheduleInterval: any expression gets a positive interval and a
// window the alarms accept.
func FuzzScheduleInterval(f *testing.F) {
	for _, s := range []string{"rate(5 minutes)", "rate(0 minutes)", "rate(99999999999 days)", "cron(x)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		d := scheduleInterval(expr)
		w := staleWindow(d)
		found := false
		for _, v := range StaleWindows {
			found = found || v == w
		}
		if !found {
			t.Fatalf("%q: window %d is not an allowed value", expr, w)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
