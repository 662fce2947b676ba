package infra

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/registry"
	"github.com/wazuh-pull/wazuh-pull/infra/gen"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets/awssm"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Logical ids of the shared resources the assertions rely on.
const (
	schedulerRoleID = "SchedulerRole"
	tableID         = "StateTable"
	scheduleDLQID   = "ScheduleDeadLetterQueue"
	failureQueueID  = "FunctionFailureQueue"
	makefilePath    = "../Makefile"
)

// testTenants stand in for every vendor's tenants parameter when
// Fn::ForEach is expanded: with '-' and '_', which logical ids cannot hold.
var testTenants = []string{"acme", "globex-eu", "t_3"}

// vendorsUnderTest are the registered vendors and the toy vendor: the
// toy proves that a descriptor alone gets a vendor its resources.
func vendorsUnderTest() []spec.Descriptor {
	return append(registry.Vendors(), spectest.Descriptor())
}

// vendorIDs are a vendor's logical ids.
type vendorIDs struct {
	spec.Descriptor
	id string
}

func ids(d spec.Descriptor) vendorIDs { return vendorIDs{d, gen.VendorID(d)} }
func (v vendorIDs) function() string  { return v.id + "Function" }
func (v vendorIDs) role() string      { return v.id + "Role" }
func (v vendorIDs) logGroup() string  { return v.id + "LogGroup" }
func (v vendorIDs) tenants() string   { return v.id + "Tenants" }
func (v vendorIDs) enabled() string   { return v.id + "Enabled" }
func (v vendorIDs) schedule(s spec.Stream) string {
	if s.Schedule != "" {
		return v.id + gen.StreamID(s.Name) + "Schedule"
	}
	return v.id + "Schedule"
}

// refused are the variables a vendor's function refuses in Lambda:
// credentials and key material belong in Secrets Manager.
func refused(d spec.Descriptor) []string {
	return append(d.HostEnv(), "WAZUH_PULL_SYSLOG_CA", "WAZUH_PULL_SYSLOG_CERT", "WAZUH_PULL_SYSLOG_KEY")
}

// fixture is a template with Fn::ForEach expanded for testTenants.
type fixture struct {
	vendors   []vendorIDs
	tmpl      map[string]any
	params    map[string]any
	resources map[string]any
}

// load generates the template for the registered vendors and the toy.
// The checked-in template.yaml is the same generator's output for the
// registered vendors (TestTemplateUpToDate), so what holds here holds
// there.
func load(t *testing.T) *fixture {
	t.Helper()
	descs := vendorsUnderTest()
	raw, err := gen.Template(descs)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureOf(t, raw, descs)
}

func fixtureOf(t *testing.T, raw []byte, descs []spec.Descriptor) *fixture {
	t.Helper()
	tmpl, err := parseTemplate(raw)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{tmpl: tmpl}
	lists := map[string][]string{}
	for _, d := range descs {
		f.vendors = append(f.vendors, ids(d))
		lists[ids(d).tenants()] = testTenants
	}
	resources, ok := tmpl["Resources"].(map[string]any)
	if !ok {
		t.Fatal("template has no Resources mapping")
	}
	if f.resources, err = expandForEach(resources, lists); err != nil {
		t.Fatal(err)
	}
	f.params, _ = tmpl["Parameters"].(map[string]any)
	return f
}

func (f *fixture) resource(t *testing.T, id, typ string) map[string]any {
	t.Helper()
	r, ok := f.resources[id].(map[string]any)
	if !ok {
		t.Fatalf("resource %s is missing", id)
	}
	if r["Type"] != typ {
		t.Fatalf("resource %s is a %v, want %s", id, r["Type"], typ)
	}
	return r
}

func (f *fixture) ofType(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range f.resources {
		if m, ok := r.(map[string]any); ok && m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

// paramDefault returns the Default of a parameter ("" when it has none).
func (f *fixture) paramDefault(t *testing.T, name string) (string, bool) {
	t.Helper()
	p, ok := f.params[name].(map[string]any)
	if !ok {
		t.Fatalf("parameter %s is missing", name)
	}
	d, ok := p["Default"]
	if !ok {
		return "", false
	}
	s, _ := d.(string)
	return s, true
}

// resolve turns a Ref to a parameter into the parameter's default, so
// that checks on values work whether they are literal or parameterised.
func (f *fixture) resolve(t *testing.T, v any) any {
	t.Helper()
	if name, ok := refName(v); ok {
		if _, isParam := f.params[name]; isParam {
			d, _ := f.paramDefault(t, name)
			return d
		}
	}
	return v
}

func TestTransforms(t *testing.T) {
	tmpl := loadTemplate(t)
	got := stringList(tmpl["Transform"])
	// LanguageExtensions must run before SAM: Fn::ForEach has to be expanded
	// before the SAM transform reads the resources.
	want := []string{"AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"}
	if !slices.Equal(got, want) {
		t.Fatalf("Transform = %v, want %v", got, want)
	}
}

// TestTemplateUpToDate: the checked-in template is exactly what the
// generator writes for the registered vendors.
func TestTemplateUpToDate(t *testing.T) {
	want, err := gen.Template(registry.Vendors())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("infra/template.yaml is not what the generator writes for the registered vendors; regenerate it with:\n\tgo generate ./infra\n(or: go run ./infra/cmd/gentemplate -o infra/template.yaml)")
	}
}

// TestEveryVendorIsDeployed: each vendor has its function, role, log
// group, invocation config and alarms, all present only when its tenants
// parameter is not empty; the toy vendor's come from its descriptor alone.
func TestEveryVendorIsDeployed(t *testing.T) {
	f := load(t)
	if len(f.vendors) < 2 || f.vendors[len(f.vendors)-1].Name != "toy" {
		t.Fatalf("vendors under test: %v", f.vendors)
	}
	conds, _ := f.tmpl["Conditions"].(map[string]any)
	for _, v := range f.vendors {
		for id, typ := range map[string]string{
			v.function(): "AWS::Serverless::Function", v.role(): "AWS::IAM::Role", v.logGroup(): "AWS::Logs::LogGroup",
			v.id + "EventInvokeConfig": "AWS::Lambda::EventInvokeConfig", v.id + "ErrorsAlarm": "AWS::CloudWatch::Alarm",
			v.id + "ThrottlesAlarm": "AWS::CloudWatch::Alarm", v.id + "FailingStreamsAlarm": "AWS::CloudWatch::Alarm",
			v.id + "NoEventsAlarm": "AWS::CloudWatch::Alarm", v.id + "LagAlarm": "AWS::CloudWatch::Alarm",
			v.id + "StaleStreamsAlarm": "AWS::CloudWatch::Alarm", v.id + "RunsRule": "AWS::CloudWatch::InsightRule",
		} {
			f.resource(t, id, typ)
		}
		// The enabling condition: the tenants list is not empty.
		want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Fn::Join": []any{"", map[string]any{"Ref": v.tenants()}}}, ""}}}}
		if got, _ := json.Marshal(conds[v.enabled()]); string(got) != mustJSON(want) {
			t.Errorf("condition %s = %s, want %s", v.enabled(), got, mustJSON(want))
		}
		for _, tenants := range []struct {
			value string
			on    bool
		}{{"", false}, {"acme", true}, {"acme,globex", true}} {
			if got := evalCondition(t, f, conds[v.enabled()], map[string]string{v.tenants(): tenants.value}); got != tenants.on {
				t.Errorf("%s with %s=%q is %v", v.enabled(), v.tenants(), tenants.value, got)
			}
		}
	}
	// Every per-vendor resource carries its vendor's condition; the shared
	// ones are never conditional on a vendor.
	for id, r := range f.resources {
		cond, _ := r.(map[string]any)["Condition"].(string)
		var owner *vendorIDs
		for i, v := range f.vendors {
			if strings.HasPrefix(id, v.id) {
				owner = &f.vendors[i]
			}
		}
		switch {
		case owner != nil && cond != owner.enabled():
			t.Errorf("%s has condition %q, want %s", id, cond, owner.enabled())
		case owner == nil && strings.HasSuffix(cond, "Enabled"):
			t.Errorf("shared resource %s depends on %s", id, cond)
		}
	}
	// The toy vendor: its beta stream has its own default schedule, with
	// its own parameter and alarms, and its Lambda setting is a parameter.
	if d, _ := f.paramDefault(t, "ToyBetaSchedule"); d != "rate(1 hour)" {
		t.Errorf("ToyBetaSchedule default %q, want the descriptor's rate(1 hour)", d)
	}
	if d, _ := f.paramDefault(t, "ToyBetaStaleAlarmSeconds"); d != "7200" {
		t.Errorf("ToyBetaStaleAlarmSeconds default %q, want two hours for an hourly stream", d)
	}
	for _, id := range []string{"ToyBetaLagAlarm", "ToyBetaStaleStreamsAlarm", "ToyLagAlarm", "ToyStaleStreamsAlarm"} {
		f.resource(t, id, "AWS::CloudWatch::Alarm")
	}
	if d, _ := f.paramDefault(t, "ToyPageSize"); d != "10" {
		t.Errorf("ToyPageSize default %q, want the setting's 10", d)
	}
	if desc := dig(t, f.params, "ToyPageSize", "Description"); !strings.Contains(desc.(string), "events per request") || !strings.Contains(desc.(string), "TOY_PAGE_SIZE") {
		t.Errorf("ToyPageSize description %q lacks the setting's help", desc)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFunction(t *testing.T) {
	f := load(t)
	fns := f.ofType("AWS::Serverless::Function")
	if len(fns) != len(f.vendors) || len(f.ofType("AWS::Lambda::Function")) != 0 {
		t.Fatalf("want one SAM function per vendor (%d), got %d SAM and %d plain", len(f.vendors), len(fns), len(f.ofType("AWS::Lambda::Function")))
	}
	mk, err := os.ReadFile(makefilePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.vendors {
		fn := f.resource(t, v.function(), "AWS::Serverless::Function")
		props := dig(t, fn, "Properties")
		packaged := "../dist/" + v.Command + ".zip"
		for key, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap", "CodeUri": packaged} {
			if got := dig(t, props, key); got != want {
				t.Errorf("%s: %s = %v, want %s", v.Name, key, got, want)
			}
		}
		if got := stringList(dig(t, props, "Architectures")); !slices.Equal(got, []string{"arm64"}) {
			t.Errorf("%s: Architectures = %v, want [arm64]", v.Name, got)
		}
		if !isGetAtt(dig(t, props, "Role"), v.role(), "Arn") {
			t.Errorf("%s: Role = %v, want its own least-privilege role", v.Name, props.(map[string]any)["Role"])
		}
		// SAM would attach managed policies (with wildcards) for these.
		for _, key := range []string{"Policies", "Events", "EventInvokeConfig", "DeadLetterQueue"} {
			if _, ok := lookup(props, key); ok {
				t.Errorf("%s: function sets %s; the template wires these explicitly", v.Name, key)
			}
		}
		if !isRef(dig(t, props, "MemorySize"), "MemorySize") || !isRef(dig(t, props, "Timeout"), "Timeout") {
			t.Errorf("%s: MemorySize and Timeout must come from their parameters", v.Name)
		}
		// The zip is what `make package` builds: every functions/<command>/lambda.
		if v.Name != "toy" {
			if _, err := os.Stat("../functions/" + v.Command + "/lambda/main.go"); err != nil {
				t.Errorf("%s: no functions/%s/lambda/main.go for make package to build %s", v.Name, v.Command, packaged)
			}
		}

		// Structured logs in its own group with a retention; Lambda must
		// not filter what the function writes (the EMF line has no "level"
		// key and counts as INFO).
		lc := dig(t, props, "LoggingConfig")
		if dig(t, lc, "LogFormat") != "JSON" {
			t.Errorf("%s: LoggingConfig.LogFormat must be JSON", v.Name)
		}
		if lvl := dig(t, lc, "ApplicationLogLevel"); lvl != "DEBUG" && lvl != "TRACE" {
			t.Errorf("%s: ApplicationLogLevel = %v: above DEBUG Lambda drops debug logs, above INFO the EMF metrics", v.Name, lvl)
		}
		if !isRef(dig(t, lc, "LogGroup"), v.logGroup()) {
			t.Errorf("%s: LoggingConfig.LogGroup must be its log group", v.Name)
		}
		lg := f.resource(t, v.logGroup(), "AWS::Logs::LogGroup")
		if ret := f.resolve(t, dig(t, lg, "Properties", "RetentionInDays")); ret == "" || ret == nil {
			t.Errorf("%s: the log group has no retention", v.Name)
		}

		// VPC placement only under its Condition.
		cond, yes, no, ok := fnIf(dig(t, props, "VpcConfig"))
		if !ok || cond != "UseVpc" || !isNoValue(no) {
			t.Fatalf("%s: VpcConfig must be Fn::If [UseVpc, {...}, AWS::NoValue]", v.Name)
		}
		for _, key := range []string{"SubnetIds", "SecurityGroupIds"} {
			if _, ok := lookup(yes, key); !ok {
				t.Errorf("%s: VpcConfig lacks %s", v.Name, key)
			}
		}
		if rc, ok := lookup(props, "ReservedConcurrentExecutions"); ok {
			if c, _, no, ok := fnIf(rc); !ok || c != "HasReservedConcurrency" || !isNoValue(no) {
				t.Errorf("%s: ReservedConcurrentExecutions must be optional (Fn::If with AWS::NoValue)", v.Name)
			}
		}
	}
	if !bytes.Contains(mk, []byte("-o dist/$$f.zip")) || !bytes.Contains(mk, []byte("$(wildcard functions/*/lambda/main.go)")) {
		t.Errorf("the Makefile's package target no longer builds dist/<command>.zip for every functions/<command>/lambda; update CodeUri in infra/gen")
	}

	// Sane defaults, and the deadline margin well inside the timeout.
	if d, _ := f.paramDefault(t, "MemorySize"); d != "256" {
		t.Errorf("MemorySize default = %q, want 256", d)
	}
	if d, _ := f.paramDefault(t, "Timeout"); d != "300" {
		t.Errorf("Timeout default = %q, want 300", d)
	}
	marginRaw, _ := f.paramDefault(t, "DeadlineMargin")
	margin, err := time.ParseDuration(marginRaw)
	if err != nil || margin > lambdarun.MaxDeadlineMargin || margin*2 >= 300*time.Second {
		t.Errorf("DeadlineMargin default %q: want a duration well under the timeout (%v)", marginRaw, err)
	}
}

// sharedVariables are the shared/lambdarun variables every function gets
// (AWS_LAMBDA_LOG_LEVEL is Lambda's own).
var sharedVariables = []string{lambdarun.EnvStateTable, lambdarun.EnvSecretPrefix, lambdarun.EnvSecretTTL, lambdarun.EnvSecretLayout,
	lambdarun.EnvSyslogURL, lambdarun.EnvSyslogTLSSecret, lambdarun.EnvSyslogClientCert, lambdarun.EnvDeadlineMargin, lambdarun.EnvRateLimit,
	lambdarun.EnvLogLevel, lambdarun.EnvMetricsNamespace, lambdarun.EnvTenantMetrics, lambdarun.EnvSyslogBudget, lambdarun.EnvSyslogShares}

// readmeVariables reads the Configuration table of a function's README:
// variable name → default column; nil when the vendor has no README.
func readmeVariables(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]+)` \\| ([^|]+) \\|")
	vars := map[string]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Configuration"
			continue
		}
		if m := row.FindStringSubmatch(line); in && m != nil {
			vars[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if len(vars) < 5 {
		t.Fatalf("%s: found only %d variables in the Configuration table; has its layout changed?", path, len(vars))
	}
	return vars
}

func TestEnvironment(t *testing.T) {
	f := load(t)
	for _, v := range f.vendors {
		vars, ok := dig(t, f.resources[v.function()], "Properties", "Environment", "Variables").(map[string]any)
		if !ok {
			t.Fatalf("%s: Environment.Variables is not a mapping", v.Name)
		}
		// Exactly the shared variables, the lookback and the vendor's
		// Lambda settings.
		want := append(slices.Clone(sharedVariables), v.Env(spec.EnvLookback))
		for _, s := range v.Settings {
			if s.Lambda {
				want = append(want, s.Env)
			}
		}
		var got []string
		for name := range vars {
			got = append(got, name)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: variables %v, want %v", v.Name, got, want)
		}
		for name, val := range vars {
			cond, yes, no, isIf := fnIf(val)
			// An optional variable is either set or absent, never empty,
			// so the function's own default applies.
			if isIf && (isNoValue(yes) || !isNoValue(no)) && name != lambdarun.EnvStateTable {
				t.Errorf("%s: %s: want Fn::If [%s, value, AWS::NoValue]", v.Name, name, cond)
			}
		}
		// Specific wiring.
		if cond, yes, no, ok := fnIf(vars[lambdarun.EnvStateTable]); !ok || cond != "CreateStateTable" || !isRef(yes, tableID) || !isRef(no, "ExistingStateTableName") {
			t.Errorf("%s: %s = %v, want the template's table or the existing one", v.Name, lambdarun.EnvStateTable, vars[lambdarun.EnvStateTable])
		}
		if s, _ := subString(vars[lambdarun.EnvSyslogURL]); s != "${SyslogScheme}://${SyslogAddress}" {
			t.Errorf("%s: %s = %v, want <SyslogScheme>://<SyslogAddress>", v.Name, lambdarun.EnvSyslogURL, vars[lambdarun.EnvSyslogURL])
		}
		if cond, _, _, ok := fnIf(vars[lambdarun.EnvSyslogTLSSecret]); !ok || cond != "HasTlsSecret" {
			t.Errorf("%s: %s must be set only when the TLS secret parameter is given", v.Name, lambdarun.EnvSyslogTLSSecret)
		}
		if cond, yes, _, ok := fnIf(vars[lambdarun.EnvSyslogClientCert]); !ok || cond != "UseTls" || yes != "required" {
			t.Errorf("%s: %s = %v, want required whenever the scheme is tls", v.Name, lambdarun.EnvSyslogClientCert, vars[lambdarun.EnvSyslogClientCert])
		}
		if !isRef(vars[lambdarun.EnvRateLimit], v.id+"RateLimit") || !isRef(vars[v.Env(spec.EnvLookback)], v.id+"LookbackHours") {
			t.Errorf("%s: rate limit and lookback must come from the vendor's own parameters", v.Name)
		}
		// The vendor's numbers are the function's own defaults.
		if d, _ := f.paramDefault(t, v.id+"LookbackHours"); d != strconv.FormatFloat(v.Lookback.Default.Hours(), 'f', -1, 64) {
			t.Errorf("%s: lookback default %s, the descriptor's is %v", v.Name, d, v.Lookback.Default)
		}
		cfg, err := lambdarun.LoadConfig(v.Descriptor, func(k string) string {
			return map[string]string{lambdarun.EnvStateTable: "wazuh-pull-state", lambdarun.EnvSyslogURL: "tcp://10.0.0.1:514"}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		rate, _ := f.paramDefault(t, v.id+"RateLimit")
		if r, _ := strconv.ParseFloat(rate, 64); r > cfg.RateLimit || r < cfg.RateLimit-0.01 {
			t.Errorf("%s: rate limit default %s, the function's is %v (the template may only round down)", v.Name, rate, cfg.RateLimit)
		}

		// The function's README, where there is one, documents exactly
		// these variables with the template's defaults; the common
		// (WAZUH_PULL_*) ones may be documented once, in the 1Password
		// function's README, which the others point to.
		documented := readmeVariables(t, "../functions/"+v.Command+"/lambda/README.md")
		if documented == nil && v.Name != "toy" {
			t.Errorf("%s: no functions/%s/lambda/README.md", v.Name, v.Command)
		}
		common := readmeVariables(t, "../functions/onepassword/lambda/README.md")
		for name, def := range documented {
			val, ok := vars[name]
			if !ok {
				t.Errorf("%s: %s (README default %s) is not set", v.Name, name, def)
				continue
			}
			if want, ok := strings.CutPrefix(def, "`"); ok && strings.HasSuffix(want, "`") && strings.Count(def, "`") == 2 {
				if param, isRef := refName(val); isRef {
					if got, _ := f.paramDefault(t, param); got != strings.TrimSuffix(want, "`") {
						t.Errorf("%s: %s: parameter %s defaults to %q, the README says %s", v.Name, name, param, got, def)
					}
				}
			}
		}
		for name := range vars {
			_, own := documented[name]
			_, shared := common[name]
			if documented != nil && !own && !(strings.HasPrefix(name, "WAZUH_PULL_") && shared) {
				t.Errorf("%s: %s is set but not documented in its README", v.Name, name)
			}
		}
	}

	// The refused variables appear nowhere in the template (comments aside),
	// and nothing looks like key material.
	walkStrings(f.tmpl, func(s string) {
		for _, v := range f.vendors {
			for _, r := range refused(v.Descriptor) {
				if strings.Contains(s, r) {
					t.Errorf("template mentions %s (%q): the function refuses it in Lambda", r, s)
				}
			}
		}
		if strings.Contains(s, "-----BEGIN") {
			t.Errorf("template holds PEM data: %.40q", s)
		}
	})
}

// TestParameters checks the parameter patterns against the rules the
// function applies, and that no parameter carries a secret.
func TestParameters(t *testing.T) {
	f := load(t)
	pattern := func(name string) *regexp.Regexp {
		p, _ := lookup(f.params, name, "AllowedPattern")
		s, ok := p.(string)
		if !ok {
			t.Fatalf("parameter %s has no AllowedPattern", name)
		}
		return regexp.MustCompile(s)
	}
	for _, v := range f.vendors {
		if typ := dig(t, f.params, v.tenants(), "Type"); typ != "CommaDelimitedList" {
			t.Errorf("%s is a %v, want CommaDelimitedList", v.tenants(), typ)
		}
		if d, has := f.paramDefault(t, v.tenants()); !has || d != "" {
			t.Errorf("%s defaults to %q; empty leaves the vendor out", v.tenants(), d)
		}
		tenant := pattern(v.tenants())
		for _, name := range []string{"acme", "globex-eu", "t_3", "A", strings.Repeat("x", 64), strings.Repeat("x", 65), "a b", "a/b", "a.b", "ü", " acme"} {
			if got, want := tenant.MatchString(name), state.ValidateName(name) == nil; got != want {
				t.Errorf("%s pattern accepts %q: %v, the function: %v", v.tenants(), name, got, want)
			}
		}
		// "" is the empty list; among names, the Rules refuse it.
		if !tenant.MatchString("") {
			t.Errorf("%s pattern refuses the empty default", v.tenants())
		}
		for _, s := range v.Streams {
			d, _ := f.paramDefault(t, v.schedule(s))
			want := s.Schedule
			if want == "" {
				want = gen.DefaultSchedule
			}
			if d != want || !pattern(v.schedule(s)).MatchString(d) {
				t.Errorf("%s: stream %s schedule %s defaults to %q, want %q", v.Name, s.Name, v.schedule(s), d, want)
			}
		}
		// Secrets are referenced, never passed: no parameter is meant for
		// one (the vendor's own name aside: "Onepassword…").
		secretish := regexp.MustCompile(`(?i)token|password|passphrase|private|pem|apikey|api_key`)
		for name := range f.params {
			if rest, ok := strings.CutPrefix(name, v.id); ok && secretish.MatchString(rest) {
				t.Errorf("parameter %s looks like it carries a secret; reference a Secrets Manager secret instead", name)
			}
		}
	}
	if got := stringList(dig(t, f.params, "SyslogScheme", "AllowedValues")); !slices.Equal(got, []string{"tls", "tcp"}) {
		t.Errorf("SyslogScheme allows %v, want tls and tcp (udp cannot confirm delivery)", got)
	}
	if d, has := f.paramDefault(t, "SyslogAddress"); has {
		t.Errorf("SyslogAddress has a default (%q); the destination must be given", d)
	}
	addr := pattern("SyslogAddress")
	for in, want := range map[string]bool{
		"relay.example.org:6515": true, "10.0.1.20:514": true, "[fd00::1]:6515": true,
		"tls://relay:6514": false, "user:pw@relay:6514": false, "relay:6514/x": false, "": false, "relay": false,
	} {
		if got := addr.MatchString(in); got != want {
			t.Errorf("SyslogAddress pattern on %q = %v, want %v", in, got, want)
		}
	}
	tls := pattern("SyslogTlsSecretArn")
	for in, want := range map[string]bool{
		"": true, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wazuh-pull/syslog-tls-AbCdEf": true,
		"wazuh-pull/syslog-tls": false, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*": false,
	} {
		if got := tls.MatchString(in); got != want {
			t.Errorf("SyslogTlsSecretArn pattern on %q = %v, want %v", in, got, want)
		}
	}
	for _, name := range []string{"SecretTtl", "DeadlineMargin"} {
		d, _ := f.paramDefault(t, name)
		if _, err := time.ParseDuration(d); err != nil || !pattern(name).MatchString(d) {
			t.Errorf("%s default %q is not a Go duration its pattern accepts", name, d)
		}
	}
	if d, _ := f.paramDefault(t, "SecretPrefix"); d != awssm.DefaultPrefix {
		t.Errorf("SecretPrefix default %q, the function's is %q", d, awssm.DefaultPrefix)
	}
	var layouts []string
	for _, l := range awssm.Layouts() {
		layouts = append(layouts, string(l))
	}
	if got := stringList(dig(t, f.params, "SecretLayout", "AllowedValues")); !slices.Equal(got, layouts) {
		t.Errorf("SecretLayout allows %v, the function %v", got, layouts)
	}
	if d, _ := f.paramDefault(t, "SecretLayout"); d != string(awssm.LayoutTenantVendor) {
		t.Errorf("SecretLayout default %q", d)
	}
	if d, _ := f.paramDefault(t, "MetricsNamespace"); d != lambdarun.DefaultMetricsNamespace {
		t.Errorf("MetricsNamespace default %q, the function's is %q", d, lambdarun.DefaultMetricsNamespace)
	}
	if d, _ := f.paramDefault(t, "TenantMetrics"); d != "false" {
		t.Errorf("TenantMetrics default %q: per-tenant metrics are opt-in", d)
	}
}

// statement is one IAM policy statement and the Conditions under which it
// exists (Fn::If branches taken to reach it).
type statement struct {
	m     map[string]any
	conds []string
}

func statements(t *testing.T, v any, conds []string) []statement {
	t.Helper()
	switch x := v.(type) {
	case []any:
		var out []statement
		for _, e := range x {
			out = append(out, statements(t, e, conds)...)
		}
		return out
	case map[string]any:
		if cond, yes, no, ok := fnIf(x); ok {
			var out []statement
			if !isNoValue(yes) {
				out = append(out, statements(t, yes, append(slices.Clone(conds), cond))...)
			}
			if !isNoValue(no) {
				out = append(out, statements(t, no, append(slices.Clone(conds), "!"+cond))...)
			}
			return out
		}
		return []statement{{m: x, conds: conds}}
	}
	t.Fatalf("policy statement is a %T", v)
	return nil
}

// roleStatements returns the statements of a role's inline policies.
func roleStatements(t *testing.T, role map[string]any) []statement {
	t.Helper()
	props := dig(t, role, "Properties")
	if _, ok := lookup(props, "ManagedPolicyArns"); ok {
		t.Errorf("role attaches managed policies; every permission must be spelled out here")
	}
	policies, ok := dig(t, props, "Policies").([]any)
	if !ok || len(policies) == 0 {
		t.Fatal("role has no inline policies")
	}
	var out []statement
	for _, p := range policies {
		out = append(out, statements(t, dig(t, p, "PolicyDocument", "Statement"), nil)...)
	}
	return out
}

func actions(s statement) []string { return stringList(s.m["Action"]) }

// resources returns a statement's resources, each with the conditions of
// the Fn::If branches that lead to it.
func resources(s statement) []conditional {
	var out []conditional
	var walk func(v any, conds []string)
	walk = func(v any, conds []string) {
		if l, ok := v.([]any); ok {
			for _, e := range l {
				walk(e, conds)
			}
			return
		}
		if cond, yes, no, ok := fnIf(v); ok {
			walk(yes, append(slices.Clone(conds), cond))
			walk(no, append(slices.Clone(conds), "!"+cond))
			return
		}
		if !isNoValue(v) {
			out = append(out, conditional{v, conds})
		}
	}
	walk(s.m["Resource"], nil)
	return out
}

type conditional struct {
	v     any
	conds []string
}

// TestIAMNoWildcards covers every policy in the template: explicit actions
// only, and "*" resources only where the service offers nothing narrower.
func TestIAMNoWildcards(t *testing.T) {
	f := load(t)
	roles := f.ofType("AWS::IAM::Role")
	if len(roles) != 1+len(f.vendors) {
		t.Errorf("want %d roles (one per function, the scheduler's), got %d", 1+len(f.vendors), len(roles))
	}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy", "AWS::IAM::User", "AWS::IAM::AccessKey"} {
		if n := len(f.ofType(typ)); n != 0 {
			t.Errorf("template has %d %s; keep permissions in the roles", n, typ)
		}
	}
	for id, role := range roles {
		for _, s := range roleStatements(t, role) {
			if s.m["Effect"] != "Allow" {
				continue
			}
			for _, key := range []string{"NotAction", "NotResource", "NotPrincipal"} {
				if _, ok := s.m[key]; ok {
					t.Errorf("%s: statement %v uses %s", id, s.m["Sid"], key)
				}
			}
			acts := actions(s)
			if len(acts) == 0 {
				t.Errorf("%s: statement %v has no literal actions", id, s.m["Sid"])
			}
			for _, a := range acts {
				if strings.ContainsAny(a, "*?") {
					t.Errorf("%s: statement %v allows wildcard action %q", id, s.m["Sid"], a)
				}
			}
			for _, r := range resources(s) {
				if r.v == "*" && !slices.Contains(s.conds, "UseVpc") {
					t.Errorf("%s: statement %v allows Resource \"*\" outside the VPC condition", id, s.m["Sid"])
				}
			}
		}
	}
}

// arnOf fills an ARN pattern's pseudo parameters and prefix.
var arnOf = strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", "us-east-1", "${AWS::AccountId}", "123456789012", "${SecretPrefix}", awssm.DefaultPrefix).Replace

func secretARN(layout awssm.Layout, vendor, tenant string) string {
	id, _ := layout.Locate(awssm.DefaultPrefix, vendor, tenant)
	return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + id + "-AbCdEf"
}

func TestFunctionRole(t *testing.T) {
	f := load(t)
	for _, v := range f.vendors {
		t.Run(v.Name, func(t *testing.T) { testFunctionRole(t, f, v) })
	}
}

func testFunctionRole(t *testing.T, f *fixture, v vendorIDs) {
	role := f.resource(t, v.role(), "AWS::IAM::Role")
	trust := statements(t, dig(t, role, "Properties", "AssumeRolePolicyDocument", "Statement"), nil)
	if len(trust) != 1 || dig(t, trust[0].m, "Principal", "Service") != "lambda.amazonaws.com" {
		t.Errorf("function role trust = %v, want lambda.amazonaws.com only", trust)
	}
	// Every action the function role may have, and under which condition.
	allowed := map[string]string{
		"logs:CreateLogStream":           "",
		"logs:PutLogEvents":              "",
		"secretsmanager:GetSecretValue":  "",
		"sqs:SendMessage":                "",
		"kms:Decrypt":                    "HasSecretsKmsKey|HasStateTableKmsKey",
		"kms:Encrypt":                    "HasStateTableKmsKey",
		"kms:GenerateDataKey":            "HasStateTableKmsKey",
		"kms:DescribeKey":                "HasStateTableKmsKey",
		"ec2:CreateNetworkInterface":     "UseVpc",
		"ec2:DescribeNetworkInterfaces":  "UseVpc",
		"ec2:DescribeSubnets":            "UseVpc",
		"ec2:DeleteNetworkInterface":     "UseVpc",
		"ec2:AssignPrivateIpAddresses":   "UseVpc",
		"ec2:UnassignPrivateIpAddresses": "UseVpc",
	}
	for _, a := range gen.StateActions {
		allowed[a] = ""
	}
	var dynamo, secrets []statement
	for _, s := range roleStatements(t, role) {
		for _, a := range actions(s) {
			need, ok := allowed[a]
			if !ok {
				t.Errorf("function role allows %s, which the function does not need", a)
				continue
			}
			if need != "" && !slices.ContainsFunc(strings.Split(need, "|"), func(c string) bool { return slices.Contains(s.conds, c) }) {
				t.Errorf("function role allows %s outside Condition %s", a, need)
			}
			switch {
			case strings.HasPrefix(a, "dynamodb:"):
				dynamo = append(dynamo, s)
			case a == "secretsmanager:GetSecretValue":
				secrets = append(secrets, s)
			case strings.HasPrefix(a, "logs:"):
				for _, r := range resources(s) {
					if !isGetAtt(r.v, v.logGroup(), "Arn") {
						t.Errorf("%s on %v, want its own log group only", a, r.v)
					}
				}
			case a == "sqs:SendMessage":
				for _, r := range resources(s) {
					if !isGetAtt(r.v, failureQueueID, "Arn") {
						t.Errorf("%s on %v, want the failure queue only", a, r.v)
					}
				}
			}
		}
	}

	// Secrets: in each layout, the patterns grant what the function asks
	// for and no other vendor's secret; the TLS secret when given.
	byLayout := map[awssm.Layout]string{}
	var sawTLS bool
	for _, s := range secrets {
		for _, r := range resources(s) {
			sub, isSub := subString(r.v)
			switch {
			case isRef(r.v, "SyslogTlsSecretArn") && slices.Equal(s.conds, []string{"HasTlsSecret"}):
				sawTLS = true
			case isSub && slices.Equal(r.conds, []string{"SecretsPerTenantAndVendor"}):
				byLayout[awssm.LayoutTenantVendor] = arnOf(sub)
			case isSub && slices.Equal(r.conds, []string{"!SecretsPerTenantAndVendor", "SecretsPerTenant"}):
				byLayout[awssm.LayoutTenant] = arnOf(sub)
			case isSub && slices.Equal(r.conds, []string{"!SecretsPerTenantAndVendor", "!SecretsPerTenant"}):
				byLayout[awssm.LayoutVendor] = arnOf(sub)
			default:
				t.Errorf("secretsmanager:GetSecretValue on %v (conditions %v %v): want only the layouts' patterns and the TLS secret", r.v, s.conds, r.conds)
			}
		}
	}
	if !sawTLS || len(byLayout) != 3 {
		t.Errorf("GetSecretValue: TLS statement %v, layouts %v; want the TLS secret and all three layouts", sawTLS, byLayout)
	}
	other := "othervendor"
	for layout, pattern := range byLayout {
		for _, tenant := range testTenants {
			if own := secretARN(layout, v.Name, tenant); !globMatch(pattern, own) {
				t.Errorf("layout %s: %s does not grant %s", layout, pattern, own)
			}
			// The per-tenant layout shares each secret between vendors by
			// design; the others never grant another vendor's secret.
			if layout != awssm.LayoutTenant && globMatch(pattern, secretARN(layout, other, tenant)) {
				t.Errorf("layout %s: %s grants another vendor's %s", layout, pattern, secretARN(layout, other, tenant))
			}
			if globMatch(pattern, secretARN(awssm.LayoutTenantVendor, other, tenant)) || globMatch(pattern, secretARN(awssm.LayoutVendor, other, tenant)) {
				t.Errorf("layout %s: %s grants another vendor's secrets", layout, pattern)
			}
		}
	}

	// DynamoDB: the store's actions on the table, own partition keys only.
	if len(dynamo) == 0 {
		t.Fatal("function role has no DynamoDB statement")
	}
	for _, s := range dynamo {
		acts := actions(s)
		if !slices.Equal(acts, gen.StateActions) {
			t.Errorf("DynamoDB actions %v, want gen.StateActions %v", acts, gen.StateActions)
		}
		for _, r := range resources(s) {
			sub, _ := subString(r.v)
			switch {
			case isGetAtt(r.v, tableID, "Arn") && slices.Equal(r.conds, []string{"CreateStateTable"}):
			case strings.HasSuffix(sub, ":table/${ExistingStateTableName}") && slices.Equal(r.conds, []string{"!CreateStateTable"}):
			default:
				t.Errorf("DynamoDB resource %v, want the state table only", r.v)
			}
		}
		keys := stringList(dig(t, s.m, "Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys"))
		want := "*/" + v.Name + "/*"
		if !slices.Equal(keys, []string{want}) {
			t.Errorf("dynamodb:LeadingKeys = %v, want [%s]", keys, want)
		}
		if c := s.m["Condition"].(map[string]any); len(c) != 1 {
			t.Errorf("DynamoDB Condition has %d operators, want only ForAllValues:StringLike", len(c))
		}
		for _, stream := range v.StreamNames() {
			own := state.Key{Tenant: "globex-eu", Vendor: v.Name, Stream: stream}.String()
			theirs := state.Key{Tenant: "globex-eu", Vendor: other, Stream: stream}.String()
			if !globMatch(want, own) || globMatch(want, theirs) {
				t.Errorf("LeadingKeys %s: own key %s matches %v, other vendor's %s matches %v", want, own, globMatch(want, own), theirs, globMatch(want, theirs))
			}
		}
	}
}

func TestSchedulerRole(t *testing.T) {
	f := load(t)
	role := f.resource(t, schedulerRoleID, "AWS::IAM::Role")
	trust := statements(t, dig(t, role, "Properties", "AssumeRolePolicyDocument", "Statement"), nil)
	if len(trust) != 1 || dig(t, trust[0].m, "Principal", "Service") != "scheduler.amazonaws.com" {
		t.Errorf("scheduler role trust = %v, want scheduler.amazonaws.com only", trust)
	}
	// Scheduler presents its schedule group's ARN as aws:SourceArn; a
	// condition naming schedules would make every invocation fail.
	for _, op := range []string{"ArnEquals", "ArnLike", "StringEquals", "StringLike"} {
		if v, ok := lookup(trust[0].m, "Condition", op, "aws:SourceArn"); ok && !isGetAtt(v, "ScheduleGroup", "Arn") {
			t.Errorf("scheduler trust: aws:SourceArn %v, want the schedule group's ARN", v)
		}
	}
	invoke := map[string]bool{}
	var dlq bool
	for _, s := range roleStatements(t, role) {
		for _, a := range actions(s) {
			for _, r := range resources(s) {
				fn, _ := r.v.(map[string]any)["Fn::GetAtt"].([]any)
				switch {
				case a == "lambda:InvokeFunction" && len(fn) == 2 && fn[1] == "Arn" && len(r.conds) == 1 && r.conds[0] == strings.TrimSuffix(fn[0].(string), "Function")+"Enabled":
					invoke[fn[0].(string)] = true
				case a == "sqs:SendMessage" && isGetAtt(r.v, scheduleDLQID, "Arn"):
					dlq = true
				default:
					t.Errorf("scheduler role allows %s on %v (%v); want only lambda:InvokeFunction on the deployed functions and sqs:SendMessage on its DLQ", a, r.v, r.conds)
				}
			}
		}
	}
	for _, v := range f.vendors {
		if !invoke[v.function()] {
			t.Errorf("scheduler role may not invoke %s", v.function())
		}
	}
	if !dlq || len(invoke) != len(f.vendors) {
		t.Errorf("scheduler role: invoke %v, DLQ %v", invoke, dlq)
	}
}

func TestSchedules(t *testing.T) {
	f := load(t)
	schedules := f.ofType("AWS::Scheduler::Schedule")
	want := 0
	for _, v := range f.vendors {
		want += len(testTenants) * len(v.Streams)
	}
	if len(schedules) != want {
		t.Fatalf("%d tenants expand to %d schedules, want %d (one per tenant and stream of each vendor)", len(testTenants), len(schedules), want)
	}
	type key struct{ vendor, tenant, stream string }
	seen := map[key]bool{}
	for id, s := range schedules {
		props := dig(t, s, "Properties")
		target := dig(t, props, "Target")
		var v *vendorIDs
		for i := range f.vendors {
			if isGetAtt(dig(t, target, "Arn"), f.vendors[i].function(), "Arn") {
				v = &f.vendors[i]
			}
		}
		if v == nil {
			t.Fatalf("%s targets %v, want a vendor's function", id, dig(t, target, "Arn"))
		}
		if !isGetAtt(dig(t, target, "RoleArn"), schedulerRoleID, "Arn") {
			t.Errorf("%s runs with %v, want the scheduler role", id, dig(t, target, "RoleArn"))
		}
		// The exact payload lambdarun.DecodeInput accepts, and nothing else.
		raw, ok := subString(dig(t, target, "Input"))
		if !ok {
			t.Fatalf("%s: Input is %v, want a Fn::Sub JSON string", id, dig(t, target, "Input"))
		}
		if strings.Contains(raw, "${") {
			t.Errorf("%s: Input %s keeps an unresolved substitution", id, raw)
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(raw), &fields); err != nil || len(fields) != 2 {
			t.Errorf("%s: Input %s: want a JSON object with exactly stream and tenant (%v)", id, raw, err)
		}
		in, err := lambdarun.DecodeInput([]byte(raw))
		if err != nil {
			t.Errorf("%s: the function refuses Input %s: %v", id, raw, err)
			continue
		}
		if err := in.Validate(&v.Descriptor); err != nil || !slices.Contains(testTenants, in.Tenant) {
			t.Errorf("%s: Input %s: %v", id, raw, err)
			continue
		}
		k := key{v.Name, in.Tenant, in.Stream}
		if seen[k] {
			t.Errorf("two schedules for %v", k)
		}
		seen[k] = true

		if !isRef(dig(t, props, "GroupName"), "ScheduleGroup") {
			t.Errorf("%s: GroupName must be the template's schedule group (the scheduler role trusts only it)", id)
		}
		if mode := dig(t, props, "FlexibleTimeWindow", "Mode"); mode != "OFF" {
			t.Errorf("%s: FlexibleTimeWindow.Mode = %v, want OFF", id, mode)
		}
		st, _ := v.Stream(in.Stream)
		if !isRef(dig(t, props, "ScheduleExpression"), v.schedule(st)) {
			t.Errorf("%s: schedule %v, want the parameter %s", id, dig(t, props, "ScheduleExpression"), v.schedule(st))
		}
		if !isRef(dig(t, props, "State"), "ScheduleState") {
			t.Errorf("%s: State must be the ScheduleState parameter", id)
		}
		for _, k := range []string{"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} {
			if _, ok := lookup(target, "RetryPolicy", k); !ok {
				t.Errorf("%s: Target.RetryPolicy.%s is not set", id, k)
			}
		}
		if !isGetAtt(dig(t, target, "DeadLetterConfig", "Arn"), scheduleDLQID, "Arn") {
			t.Errorf("%s: Target.DeadLetterConfig.Arn must be the schedule DLQ", id)
		}
	}
	for _, v := range f.vendors {
		for _, tenant := range testTenants {
			for _, stream := range v.StreamNames() {
				if !seen[key{v.Name, tenant, stream}] {
					t.Errorf("no schedule for %s tenant %s stream %s", v.Name, tenant, stream)
				}
			}
		}
	}
}

func TestAsyncInvokeConfig(t *testing.T) {
	f := load(t)
	cfgs := f.ofType("AWS::Lambda::EventInvokeConfig")
	if len(cfgs) != len(f.vendors) {
		t.Fatalf("want one EventInvokeConfig per vendor, got %d", len(cfgs))
	}
	for _, v := range f.vendors {
		c := f.resource(t, v.id+"EventInvokeConfig", "AWS::Lambda::EventInvokeConfig")
		props := dig(t, c, "Properties")
		if !isRef(dig(t, props, "FunctionName"), v.function()) || dig(t, props, "Qualifier") != "$LATEST" {
			t.Errorf("%s must configure its function's $LATEST (what the schedules invoke)", v.Name)
		}
		for _, key := range []string{"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} {
			if _, ok := lookup(props, key); !ok {
				t.Errorf("%s: %s is not set", v.Name, key)
			}
		}
		if !isGetAtt(dig(t, props, "DestinationConfig", "OnFailure", "Destination"), failureQueueID, "Arn") {
			t.Errorf("%s: OnFailure destination must be the function failure queue", v.Name)
		}
	}
	for _, q := range []string{scheduleDLQID, failureQueueID} {
		r := f.resource(t, q, "AWS::SQS::Queue")
		if v, _ := lookup(r, "Properties", "SqsManagedSseEnabled"); v != true {
			if _, kms := lookup(r, "Properties", "KmsMasterKeyId"); !kms {
				t.Errorf("%s is not encrypted", q)
			}
		}
	}
}

func TestStateTable(t *testing.T) {
	f := load(t)
	tables := f.ofType("AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("want one DynamoDB table shared by the vendors, got %d", len(tables))
	}
	tbl := f.resource(t, tableID, "AWS::DynamoDB::Table")
	for _, key := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if tbl[key] != "Retain" {
			t.Errorf("table %s = %v, want Retain: cursors must survive the stack", key, tbl[key])
		}
	}
	props := dig(t, tbl, "Properties")
	if dig(t, props, "BillingMode") != "PAY_PER_REQUEST" {
		t.Error("table BillingMode must be PAY_PER_REQUEST")
	}
	ks, _ := dig(t, props, "KeySchema").([]any)
	if len(ks) != 1 || dig(t, ks[0], "AttributeName") != "pk" || dig(t, ks[0], "KeyType") != "HASH" {
		t.Errorf("KeySchema = %v, want hash key pk only", ks)
	}
	ad, _ := dig(t, props, "AttributeDefinitions").([]any)
	if len(ad) != 1 || dig(t, ad[0], "AttributeName") != "pk" || dig(t, ad[0], "AttributeType") != "S" {
		t.Errorf("AttributeDefinitions = %v, want pk S only", ad)
	}
	if dig(t, props, "TimeToLiveSpecification", "AttributeName") != "ttl" || dig(t, props, "TimeToLiveSpecification", "Enabled") != true {
		t.Error("TTL must be enabled on ttl")
	}
	if dig(t, props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") != true {
		t.Error("point-in-time recovery must be on")
	}
	if dig(t, props, "SSESpecification", "SSEEnabled") != true {
		t.Error("SSE must be enabled")
	}
}

func TestOutputs(t *testing.T) {
	f := load(t)
	names := []string{"StateTableName", "ScheduleDeadLetterQueueUrl", "FunctionFailureQueueUrl"}
	for _, v := range f.vendors {
		names = append(names, v.id+"FunctionArn", v.id+"FunctionName", v.id+"LogGroupName")
	}
	for _, name := range names {
		if _, ok := lookup(f.tmpl, "Outputs", name, "Value"); !ok {
			t.Errorf("output %s is missing", name)
		}
	}
}

// TestSyslogShares: every function divides the deployment's syslog budget
// by the same number, the tenant streams of the whole deployment (each
// enabled vendor's tenants times its streams) plus one, whatever vendors
// are enabled; and the budget comes from the one deployment-wide
// parameter, whose default is the function's own.
func TestSyslogShares(t *testing.T) {
	f := load(t)
	conds, _ := f.tmpl["Conditions"].(map[string]any)
	tenantSets := [][]string{{"acme"}, {"acme", "globex-eu", "t_3"}, {""}}
	// Every combination of the tenant sets over the vendors, skipping the
	// ones the Rules refuse (no vendor at all).
	combos := [][]int{{}}
	for range f.vendors {
		var next [][]int
		for _, c := range combos {
			for i := range tenantSets {
				next = append(next, append(slices.Clone(c), i))
			}
		}
		combos = next
	}
	checked := 0
	for _, combo := range combos {
		values := map[string]string{}
		want := 1
		for vi, v := range f.vendors {
			set := tenantSets[combo[vi]]
			values[v.tenants()] = strings.Join(set, ",")
			if set[0] != "" {
				want += len(set) * len(v.Streams)
			}
		}
		e := &evaluator{params: f.params, values: values, conds: conds}
		for vi, v := range f.vendors {
			if tenantSets[combo[vi]][0] == "" {
				continue // the function does not exist
			}
			vars := dig(t, f.resources[v.function()], "Properties", "Environment", "Variables").(map[string]any)
			got, err := e.eval(vars[lambdarun.EnvSyslogShares])
			if err != nil {
				t.Fatal(err)
			}
			if got != strconv.Itoa(want) {
				t.Fatalf("tenants %v: %s's function gets %v shares, want %d", values, v.Name, got, want)
			}
			if !isRef(vars[lambdarun.EnvSyslogBudget], "SyslogEventsPerSecond") {
				t.Fatalf("%s: %s = %v, want the SyslogEventsPerSecond parameter", v.Name, lambdarun.EnvSyslogBudget, vars[lambdarun.EnvSyslogBudget])
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no combination checked")
	}
	if d, _ := f.paramDefault(t, "SyslogEventsPerSecond"); d != strconv.Itoa(lambdarun.DefaultSyslogBudget) {
		t.Errorf("SyslogEventsPerSecond defaults to %s, the function's default budget is %d", d, lambdarun.DefaultSyslogBudget)
	}
}
