package infra

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets/awssm"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Logical ids the assertions rely on.
const (
	functionID       = "OnePasswordFunction"
	functionRoleID   = "FunctionRole"
	schedulerRoleID  = "SchedulerRole"
	tableID          = "StateTable"
	scheduleDLQID    = "ScheduleDeadLetterQueue"
	failureQueueID   = "FunctionFailureQueue"
	logGroupID       = "FunctionLogGroup"
	functionReadme   = "../functions/onepassword/lambda/README.md"
	makefilePath     = "../Makefile"
	packagedZip      = "../dist/onepassword.zip"
	tenantsParameter = "Tenants"
)

// testTenants stand in for the Tenants parameter when Fn::ForEach is
// expanded: with '-' and '_', which logical ids cannot hold.
var testTenants = []string{"acme", "globex-eu", "t_3"}

// refused are the variables the function refuses in Lambda
// (functions/onepassword/lambda/README.md): credentials and key material
// belong in Secrets Manager.
var refused = []string{
	"OP_BEARER_TOKEN", "OP_TOKENS_FILE", "OP_SECRETS_FILE", "OP_BASE_URL",
	"WAZUH_PULL_SYSLOG_CA", "WAZUH_PULL_SYSLOG_CERT", "WAZUH_PULL_SYSLOG_KEY",
}

// fixture is the template with Fn::ForEach expanded for testTenants.
type fixture struct {
	tmpl      map[string]any
	params    map[string]any
	resources map[string]any
}

func load(t *testing.T) *fixture {
	t.Helper()
	tmpl := loadTemplate(t)
	raw, ok := tmpl["Resources"].(map[string]any)
	if !ok {
		t.Fatal("template has no Resources mapping")
	}
	res, err := expandForEach(raw, map[string][]string{tenantsParameter: testTenants})
	if err != nil {
		t.Fatal(err)
	}
	params, _ := tmpl["Parameters"].(map[string]any)
	return &fixture{tmpl: tmpl, params: params, resources: res}
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

func TestFunction(t *testing.T) {
	f := load(t)
	fns := f.ofType("AWS::Serverless::Function")
	if len(fns) != 1 || len(f.ofType("AWS::Lambda::Function")) != 0 {
		t.Fatalf("want exactly one function (a SAM function), got %d SAM and %d plain", len(fns), len(f.ofType("AWS::Lambda::Function")))
	}
	fn := f.resource(t, functionID, "AWS::Serverless::Function")
	props := dig(t, fn, "Properties")
	for key, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap", "CodeUri": packagedZip} {
		if got := dig(t, props, key); got != want {
			t.Errorf("%s = %v, want %s", key, got, want)
		}
	}
	if got := stringList(dig(t, props, "Architectures")); !slices.Equal(got, []string{"arm64"}) {
		t.Errorf("Architectures = %v, want [arm64]", got)
	}
	if !isGetAtt(dig(t, props, "Role"), functionRoleID, "Arn") {
		t.Errorf("Role = %v, want the template's own least-privilege role", props.(map[string]any)["Role"])
	}
	// SAM would attach managed policies (with wildcards) for these.
	for _, key := range []string{"Policies", "Events", "EventInvokeConfig", "DeadLetterQueue"} {
		if _, ok := lookup(props, key); ok {
			t.Errorf("function sets %s; the template wires these explicitly", key)
		}
	}

	// Sane defaults, and the deadline margin well inside the timeout.
	if d, _ := f.paramDefault(t, "MemorySize"); d != "256" {
		t.Errorf("MemorySize default = %q, want 256", d)
	}
	timeout, _ := f.paramDefault(t, "Timeout")
	if timeout != "300" {
		t.Errorf("Timeout default = %q, want 300", timeout)
	}
	if !isRef(dig(t, props, "MemorySize"), "MemorySize") || !isRef(dig(t, props, "Timeout"), "Timeout") {
		t.Error("MemorySize and Timeout must come from their parameters")
	}
	marginRaw, _ := f.paramDefault(t, "DeadlineMargin")
	margin, err := time.ParseDuration(marginRaw)
	if err != nil || margin > lambdarun.MaxDeadlineMargin || margin*2 >= 300*time.Second {
		t.Errorf("DeadlineMargin default %q: want a duration well under the timeout (%v)", marginRaw, err)
	}

	// The zip is what `make package` builds.
	if _, err := os.Stat(makefilePath); err == nil {
		mk, _ := os.ReadFile(makefilePath)
		if !bytes.Contains(mk, []byte("-o dist/$$f.zip")) || !regexp.MustCompile(`(?m)^FUNCTIONS :=.*\bonepassword\b`).Match(mk) {
			t.Errorf("the Makefile's package target no longer builds dist/onepassword.zip; update CodeUri (%s)", packagedZip)
		}
	}

	// Structured logs in a group with a retention; Lambda must not filter
	// what the function writes (the EMF line has no "level" key and
	// counts as INFO).
	lc := dig(t, props, "LoggingConfig")
	if dig(t, lc, "LogFormat") != "JSON" {
		t.Error("LoggingConfig.LogFormat must be JSON")
	}
	if lvl := dig(t, lc, "ApplicationLogLevel"); lvl != "DEBUG" && lvl != "TRACE" {
		t.Errorf("ApplicationLogLevel = %v: above DEBUG Lambda drops debug logs, above INFO the EMF metrics", lvl)
	}
	if !isRef(dig(t, lc, "LogGroup"), logGroupID) {
		t.Error("LoggingConfig.LogGroup must be the template's log group")
	}
	lg := f.resource(t, logGroupID, "AWS::Logs::LogGroup")
	if ret := f.resolve(t, dig(t, lg, "Properties", "RetentionInDays")); ret == "" || ret == nil {
		t.Error("the log group has no retention")
	}

	// VPC placement only under its Condition.
	cond, yes, no, ok := fnIf(dig(t, props, "VpcConfig"))
	if !ok || cond != "UseVpc" || !isNoValue(no) {
		t.Fatalf("VpcConfig must be Fn::If [UseVpc, {...}, AWS::NoValue]")
	}
	for _, key := range []string{"SubnetIds", "SecurityGroupIds"} {
		if _, ok := lookup(yes, key); !ok {
			t.Errorf("VpcConfig lacks %s", key)
		}
	}
	if rc, ok := lookup(props, "ReservedConcurrentExecutions"); ok {
		if c, _, no, ok := fnIf(rc); !ok || c != "HasReservedConcurrency" || !isNoValue(no) {
			t.Error("ReservedConcurrentExecutions must be optional (Fn::If with AWS::NoValue)")
		}
	}
}

// readmeVariables reads the Configuration table of the function's README:
// variable name → default column.
func readmeVariables(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(functionReadme)
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
		t.Fatalf("%s: found only %d variables in the Configuration table; has its layout changed?", functionReadme, len(vars))
	}
	return vars
}

func TestEnvironment(t *testing.T) {
	f := load(t)
	vars, ok := dig(t, f.resources[functionID], "Properties", "Environment", "Variables").(map[string]any)
	if !ok {
		t.Fatal("Environment.Variables is not a mapping")
	}
	documented := readmeVariables(t)

	// Every lambdarun variable is documented (the README is the contract
	// the template follows), except the one Lambda sets itself.
	for _, name := range []string{lambdarun.EnvStateTable, lambdarun.EnvSecretPrefix, lambdarun.EnvSecretTTL,
		lambdarun.EnvSyslogURL, lambdarun.EnvSyslogTLSSecret, lambdarun.EnvDeadlineMargin, lambdarun.EnvRateLimit,
		lambdarun.EnvLogLevel, lambdarun.EnvMetricsNamespace} {
		if _, ok := documented[name]; !ok {
			t.Errorf("%s (shared/lambdarun) is not in the function README's table", name)
		}
	}
	for name, def := range documented {
		v, ok := vars[name]
		if !ok {
			t.Errorf("%s (README default %s) is not set", name, def)
			continue
		}
		cond, yes, no, isIf := fnIf(v)
		switch {
		case !isIf:
		case def == "required":
			if isNoValue(yes) || isNoValue(no) {
				t.Errorf("%s is required but may be left out (Fn::If [%s, …] with AWS::NoValue)", name, cond)
			}
		case isNoValue(yes) || !isNoValue(no):
			// An optional variable is either set or absent, never empty,
			// so the function's own default applies.
			t.Errorf("%s: want Fn::If [%s, value, AWS::NoValue]", name, cond)
		}
		// A variable fed from a parameter has the README's default.
		if want, ok := strings.CutPrefix(def, "`"); ok && strings.HasSuffix(want, "`") && strings.Count(def, "`") == 2 {
			want = strings.TrimSuffix(want, "`")
			param, isRef := refName(v)
			if !isRef {
				t.Errorf("%s = %v, want a parameter defaulting to %s", name, v, want)
				continue
			}
			if got, _ := f.paramDefault(t, param); got != want {
				t.Errorf("%s: parameter %s defaults to %q, the README says %q", name, param, got, want)
			}
		}
	}
	for name := range vars {
		if _, ok := documented[name]; !ok {
			t.Errorf("%s is set but not documented in %s", name, functionReadme)
		}
	}
	// Specific wiring of the two required ones.
	if cond, yes, no, ok := fnIf(vars[lambdarun.EnvStateTable]); !ok || cond != "CreateStateTable" || !isRef(yes, tableID) || !isRef(no, "ExistingStateTableName") {
		t.Errorf("%s = %v, want the template's table or the existing one", lambdarun.EnvStateTable, vars[lambdarun.EnvStateTable])
	}
	if !isRef(vars[lambdarun.EnvSyslogURL], "SyslogUrl") {
		t.Errorf("%s must be the SyslogUrl parameter", lambdarun.EnvSyslogURL)
	}
	if d, has := f.paramDefault(t, "SyslogUrl"); has {
		t.Errorf("SyslogUrl has a default (%q); the destination must be given", d)
	}
	if cond, _, _, ok := fnIf(vars[lambdarun.EnvSyslogTLSSecret]); !ok || cond != "HasTlsSecret" {
		t.Errorf("%s must be set only when the TLS secret parameter is given", lambdarun.EnvSyslogTLSSecret)
	}

	// The refused variables appear nowhere in the template (comments aside),
	// and nothing looks like key material.
	walkStrings(f.tmpl, func(s string) {
		for _, r := range refused {
			if strings.Contains(s, r) {
				t.Errorf("template mentions %s (%q): the function refuses it in Lambda", r, s)
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
	if typ := dig(t, f.params, tenantsParameter, "Type"); typ != "CommaDelimitedList" {
		t.Errorf("Tenants is a %v, want CommaDelimitedList", typ)
	}
	tenant := pattern(tenantsParameter)
	for _, name := range []string{"acme", "globex-eu", "t_3", "A", strings.Repeat("x", 64), strings.Repeat("x", 65), "", "a b", "a/b", "a.b", "ü", " acme"} {
		if got, want := tenant.MatchString(name), state.ValidateName(name) == nil; got != want {
			t.Errorf("Tenants pattern accepts %q: %v, the function: %v", name, got, want)
		}
	}
	url := pattern("SyslogUrl")
	for in, want := range map[string]bool{
		"tls://relay.example.org:6514": true, "tcp://10.0.1.20:514": true, "tls://[fd00::1]:6514": true,
		"udp://relay:514": false, "tls://user:pw@relay:6514": false, "tls://relay:6514/x": false, "": false, "relay:6514": false,
	} {
		if got := url.MatchString(in); got != want {
			t.Errorf("SyslogUrl pattern on %q = %v, want %v", in, got, want)
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
	if d, _ := f.paramDefault(t, "MetricsNamespace"); d != lambdarun.DefaultMetricsNamespace {
		t.Errorf("MetricsNamespace default %q, the function's is %q", d, lambdarun.DefaultMetricsNamespace)
	}
	if d, _ := f.paramDefault(t, "ScheduleExpression"); d != "rate(5 minutes)" {
		t.Errorf("ScheduleExpression default %q, want rate(5 minutes)", d)
	}
	// Secrets are referenced, never passed: no parameter is meant for one.
	secretish := regexp.MustCompile(`(?i)token|password|passphrase|private|pem|apikey|api_key`)
	for name := range f.params {
		if secretish.MatchString(name) {
			t.Errorf("parameter %s looks like it carries a secret; reference a Secrets Manager secret instead", name)
		}
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

func resources(s statement) []any {
	if l, ok := s.m["Resource"].([]any); ok {
		return l
	}
	return []any{s.m["Resource"]}
}

// TestIAMNoWildcards covers every policy in the template: explicit actions
// only, and "*" resources only where the service offers nothing narrower.
func TestIAMNoWildcards(t *testing.T) {
	f := load(t)
	roles := f.ofType("AWS::IAM::Role")
	if len(roles) != 2 {
		t.Errorf("want 2 roles (function, scheduler), got %d", len(roles))
	}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::AccessKey"} {
		if n := len(f.ofType(typ)); n != 0 {
			t.Errorf("template has %d %s; keep permissions in the two roles", n, typ)
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
				if r == "*" && !slices.Contains(s.conds, "UseVpc") {
					t.Errorf("%s: statement %v allows Resource \"*\" outside the VPC condition", id, s.m["Sid"])
				}
			}
		}
	}
}

func TestFunctionRole(t *testing.T) {
	f := load(t)
	role := f.resource(t, functionRoleID, "AWS::IAM::Role")
	trust := statements(t, dig(t, role, "Properties", "AssumeRolePolicyDocument", "Statement"), nil)
	if len(trust) != 1 || dig(t, trust[0].m, "Principal", "Service") != "lambda.amazonaws.com" {
		t.Errorf("function role trust = %v, want lambda.amazonaws.com only", trust)
	}
	// Every action the function role may have, and under which condition.
	allowed := map[string]string{
		"logs:CreateLogStream":           "",
		"logs:PutLogEvents":              "",
		"secretsmanager:GetSecretValue":  "",
		"dynamodb:GetItem":               "",
		"dynamodb:UpdateItem":            "",
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
	sts := roleStatements(t, role)
	var dynamo, secrets []statement
	for _, s := range sts {
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
					if !isGetAtt(r, logGroupID, "Arn") {
						t.Errorf("%s on %v, want the function's log group only", a, r)
					}
				}
			case a == "sqs:SendMessage":
				for _, r := range resources(s) {
					if !isGetAtt(r, failureQueueID, "Arn") {
						t.Errorf("%s on %v, want the failure queue only", a, r)
					}
				}
			}
		}
	}

	// Secrets: this vendor's tenants under the prefix, and the TLS secret.
	wantSecret := "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}/" + onepassword.Vendor + "/*"
	var sawPrefix, sawTLS bool
	for _, s := range secrets {
		for _, r := range resources(s) {
			sub, isSub := subString(r)
			switch {
			case isSub && sub == wantSecret && len(s.conds) == 0:
				sawPrefix = true
			case isRef(r, "SyslogTlsSecretArn") && slices.Equal(s.conds, []string{"HasTlsSecret"}):
				sawTLS = true
			default:
				t.Errorf("secretsmanager:GetSecretValue on %v (conditions %v): want only %s and the TLS secret", r, s.conds, wantSecret)
			}
		}
	}
	if !sawPrefix || !sawTLS {
		t.Errorf("GetSecretValue: prefix statement %v, TLS statement %v; want both", sawPrefix, sawTLS)
	}
	// What the function will ask for matches; another vendor's does not.
	arn := strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", "us-east-1", "${AWS::AccountId}", "123456789012", "${SecretPrefix}", awssm.DefaultPrefix).Replace(wantSecret)
	secretARN := func(vendor, tenant string) string {
		return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + awssm.SecretID(awssm.DefaultPrefix, vendor, tenant) + "-AbCdEf"
	}
	for _, tenant := range testTenants {
		if !globMatch(arn, secretARN(onepassword.Vendor, tenant)) {
			t.Errorf("%s does not grant %s", arn, secretARN(onepassword.Vendor, tenant))
		}
		if globMatch(arn, secretARN("proofpoint", tenant)) {
			t.Errorf("%s grants another vendor's secret %s", arn, secretARN("proofpoint", tenant))
		}
	}

	// DynamoDB: GetItem and UpdateItem on the table, own partition keys only.
	if len(dynamo) == 0 {
		t.Fatal("function role has no DynamoDB statement")
	}
	for _, s := range dynamo {
		acts := actions(s)
		slices.Sort(acts)
		if !slices.Equal(acts, []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}) {
			t.Errorf("DynamoDB actions %v, want exactly GetItem and UpdateItem", acts)
		}
		for _, r := range resources(s) {
			cond, yes, no, ok := fnIf(r)
			sub, _ := subString(no)
			if !ok || cond != "CreateStateTable" || !isGetAtt(yes, tableID, "Arn") || !strings.HasSuffix(sub, ":table/${ExistingStateTableName}") {
				t.Errorf("DynamoDB resource %v, want the state table only", r)
			}
		}
		keys := stringList(dig(t, s.m, "Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys"))
		want := "*/" + onepassword.Vendor + "/*"
		if !slices.Equal(keys, []string{want}) {
			t.Errorf("dynamodb:LeadingKeys = %v, want [%s]", keys, want)
		}
		if c := s.m["Condition"].(map[string]any); len(c) != 1 {
			t.Errorf("DynamoDB Condition has %d operators, want only ForAllValues:StringLike", len(c))
		}
		for _, stream := range onepassword.StreamNames() {
			own := state.Key{Tenant: "globex-eu", Vendor: onepassword.Vendor, Stream: stream}.String()
			other := state.Key{Tenant: "globex-eu", Vendor: "cortexxdr", Stream: stream}.String()
			if !globMatch(want, own) || globMatch(want, other) {
				t.Errorf("LeadingKeys %s: own key %s matches %v, other vendor's %s matches %v", want, own, globMatch(want, own), other, globMatch(want, other))
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
	var invoke, dlq bool
	for _, s := range roleStatements(t, role) {
		for _, a := range actions(s) {
			for _, r := range resources(s) {
				switch {
				case a == "lambda:InvokeFunction" && isGetAtt(r, functionID, "Arn"):
					invoke = true
				case a == "sqs:SendMessage" && isGetAtt(r, scheduleDLQID, "Arn"):
					dlq = true
				default:
					t.Errorf("scheduler role allows %s on %v; want only lambda:InvokeFunction on the function and sqs:SendMessage on its DLQ", a, r)
				}
			}
		}
	}
	if !invoke || !dlq {
		t.Errorf("scheduler role: invoke %v, DLQ %v; want both", invoke, dlq)
	}
}

func TestSchedules(t *testing.T) {
	f := load(t)
	schedules := f.ofType("AWS::Scheduler::Schedule")
	streams := onepassword.StreamNames()
	if want := len(testTenants) * len(streams); len(schedules) != want {
		t.Fatalf("%d tenants x %d streams expand to %d schedules, want %d", len(testTenants), len(streams), len(schedules), want)
	}
	type pair struct{ tenant, stream string }
	seen := map[pair]bool{}
	for id, s := range schedules {
		props := dig(t, s, "Properties")
		target := dig(t, props, "Target")
		if !isGetAtt(dig(t, target, "Arn"), functionID, "Arn") {
			t.Errorf("%s targets %v, want the function", id, dig(t, target, "Arn"))
		}
		if !isGetAtt(dig(t, target, "RoleArn"), schedulerRoleID, "Arn") {
			t.Errorf("%s runs with %v, want the scheduler role", id, dig(t, target, "RoleArn"))
		}
		// The exact payload lambdarun.DecodeInput accepts, and nothing else.
		raw, ok := subString(dig(t, target, "Input"))
		if !ok {
			if s, isStr := dig(t, target, "Input").(string); isStr {
				raw = s
			} else {
				t.Fatalf("%s: Input is %v, want a JSON string", id, dig(t, target, "Input"))
			}
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
		if !slices.Contains(testTenants, in.Tenant) || !slices.Contains(streams, in.Stream) {
			t.Errorf("%s: Input %s names an unknown tenant or stream", id, raw)
		}
		p := pair{in.Tenant, in.Stream}
		if seen[p] {
			t.Errorf("two schedules for %v", p)
		}
		seen[p] = true

		if !isRef(dig(t, props, "GroupName"), "ScheduleGroup") {
			t.Errorf("%s: GroupName must be the template's schedule group (the scheduler role trusts only it)", id)
		}
		if mode := dig(t, props, "FlexibleTimeWindow", "Mode"); mode != "OFF" {
			t.Errorf("%s: FlexibleTimeWindow.Mode = %v, want OFF", id, mode)
		}
		if expr := f.resolve(t, dig(t, props, "ScheduleExpression")); expr != "rate(5 minutes)" {
			t.Errorf("%s: schedule %v, want the ScheduleExpression parameter (rate(5 minutes))", id, expr)
		}
		for _, key := range []string{"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} {
			if _, ok := lookup(target, "RetryPolicy", key); !ok {
				t.Errorf("%s: Target.RetryPolicy.%s is not set", id, key)
			}
		}
		if !isGetAtt(dig(t, target, "DeadLetterConfig", "Arn"), scheduleDLQID, "Arn") {
			t.Errorf("%s: Target.DeadLetterConfig.Arn must be the schedule DLQ", id)
		}
	}
	for _, tenant := range testTenants {
		for _, stream := range streams {
			if !seen[pair{tenant, stream}] {
				t.Errorf("no schedule for tenant %s stream %s", tenant, stream)
			}
		}
	}
}

func TestAsyncInvokeConfig(t *testing.T) {
	f := load(t)
	cfgs := f.ofType("AWS::Lambda::EventInvokeConfig")
	if len(cfgs) != 1 {
		t.Fatalf("want one EventInvokeConfig, got %d", len(cfgs))
	}
	for id, c := range cfgs {
		props := dig(t, c, "Properties")
		if !isRef(dig(t, props, "FunctionName"), functionID) || dig(t, props, "Qualifier") != "$LATEST" {
			t.Errorf("%s must configure the function's $LATEST (what the schedules invoke)", id)
		}
		for _, key := range []string{"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} {
			if _, ok := lookup(props, key); !ok {
				t.Errorf("%s: %s is not set", id, key)
			}
		}
		if !isGetAtt(dig(t, props, "DestinationConfig", "OnFailure", "Destination"), failureQueueID, "Arn") {
			t.Errorf("%s: OnFailure destination must be the function failure queue", id)
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
		t.Fatalf("want one DynamoDB table, got %d", len(tables))
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

func TestAlarms(t *testing.T) {
	f := load(t)
	type alarm struct {
		id    string
		props map[string]any
	}
	byMetric := map[string][]alarm{}
	for id, a := range f.ofType("AWS::CloudWatch::Alarm") {
		props := dig(t, a, "Properties").(map[string]any)
		ns, _ := f.resolve(t, props["Namespace"]).(string)
		name, _ := props["MetricName"].(string)
		byMetric[ns+" "+name] = append(byMetric[ns+" "+name], alarm{id, props})
		if _, ok := props["AlarmActions"]; !ok {
			t.Errorf("%s has no AlarmActions (the optional topic/e-mail)", id)
		}
	}
	dim := func(a alarm, name string) any {
		dims, _ := a.props["Dimensions"].([]any)
		for _, d := range dims {
			if dig(t, d, "Name") == name {
				return dig(t, d, "Value")
			}
		}
		return nil
	}
	one := func(key string) alarm {
		t.Helper()
		as := byMetric[key]
		if len(as) != 1 {
			t.Fatalf("want one alarm on %s, got %d", key, len(as))
		}
		return as[0]
	}
	for _, m := range []string{"Errors", "Throttles"} {
		a := one("AWS/Lambda " + m)
		if !isRef(dim(a, "FunctionName"), functionID) {
			t.Errorf("%s: want the function's %s", a.id, m)
		}
	}
	ns := lambdarun.DefaultMetricsNamespace
	events := one(ns + " " + lambdarun.MetricEvents)
	if dim(events, "vendor") != onepassword.Vendor || len(events.props["Dimensions"].([]any)) != 1 {
		t.Errorf("%s: want the [vendor=%s] dimension set the function emits", events.id, onepassword.Vendor)
	}
	if events.props["TreatMissingData"] != "breaching" || events.props["ComparisonOperator"] != "LessThanThreshold" {
		t.Errorf("%s: no events must alarm, missing data included", events.id)
	}
	lag := one(ns + " " + lambdarun.MetricLag)
	if lag.props["Statistic"] != "Maximum" || lag.props["ComparisonOperator"] != "GreaterThanThreshold" || dim(lag, "vendor") != onepassword.Vendor {
		t.Errorf("%s: want the maximum LagSeconds of vendor %s above a threshold", lag.id, onepassword.Vendor)
	}
	dlqs := byMetric["AWS/SQS ApproximateNumberOfMessagesVisible"]
	for _, q := range []string{scheduleDLQID, failureQueueID} {
		found := false
		for _, a := range dlqs {
			if isGetAtt(dim(a, "QueueName"), q, "QueueName") && a.props["Threshold"] == "0" && a.props["ComparisonOperator"] == "GreaterThanThreshold" {
				found = true
			}
		}
		if !found {
			t.Errorf("no alarm on messages visible > 0 in %s", q)
		}
	}
}

func TestOutputs(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, name := range []string{"FunctionArn", "StateTableName", "ScheduleDeadLetterQueueUrl", "FunctionFailureQueueUrl"} {
		if _, ok := lookup(tmpl, "Outputs", name, "Value"); !ok {
			t.Errorf("output %s is missing", name)
		}
	}
}
