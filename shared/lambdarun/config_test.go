package lambdarun

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// newSourceFunc builds the source of one invocation in tests.
type newSourceFunc func(ctx context.Context, p spec.Params, stream string) (pipeline.Source, error)

// testVendor is a vendor with two streams and a documented limit of 600
// requests a minute; its source is set per test.
func testVendor(newSource newSourceFunc) spec.Descriptor {
	return spec.Descriptor{
		Name:        "testvendor",
		Command:     "testvendor",
		Title:       "Test Vendor API",
		Envelope:    event.Envelope{Integration: "testvendor", Namespace: "tv"},
		Streams:     []spec.Stream{{Name: "alpha", Help: "a"}, {Name: "beta", Help: "b"}},
		AllStreams:  "all",
		EnvPrefix:   "TV",
		HostDir:     "testvendor",
		Credentials: []spec.Credential{{Field: "api_key", Env: "TV_API_KEY", Required: true, Help: "key"}},
		Lookback:    spec.Lookback{Default: 24 * time.Hour, Max: 48 * time.Hour},
		Settings: []spec.Setting{{Name: "page-size", Env: "TV_PAGE_SIZE", Kind: spec.Int, Default: "10", Min: 1, Max: 100, Lambda: true, Help: "page"},
			{Name: "host-only", Env: "TV_HOST_ONLY", Kind: spec.Int, Default: "3", Help: "not read in Lambda"}},
		RequestsPerMinute: 600,
		New: func(p spec.Params) (spec.Collector, error) {
			return testCollector{p: p, newSource: newSource}, nil
		},
	}
}

type testCollector struct {
	p         spec.Params
	newSource newSourceFunc
}

func (c testCollector) Source(stream string, _ spec.SourceOptions) (pipeline.Source, error) {
	return c.newSource(context.Background(), c.p, stream)
}

func (c testCollector) Check(context.Context, []string) spec.Report { return spec.Report{} }

func noSource(context.Context, spec.Params, string) (pipeline.Source, error) {
	return nil, errors.New("not used")
}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		EnvStateTable: "wazuh-pull-state",
		EnvSyslogURL:  "tls://relay.example.org:6514",
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(testVendor(noSource), getenv(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Table != "wazuh-pull-state" || c.SecretPrefix != "wazuh-pull" || c.SecretTTL != 15*time.Minute ||
		c.SyslogURL != "tls://relay.example.org:6514" || c.SyslogTLSSecret != "" ||
		c.DeadlineMargin != DefaultDeadlineMargin || c.LogLevel != slog.LevelInfo ||
		c.MetricsNamespace != "WazuhPull" || c.RateBurst != DefaultRateBurst || c.Settings.Int("page-size") != 10 ||
		c.Lookback != 24*time.Hour {
		t.Errorf("defaults = %+v", c)
	}
	// Two streams share the credential's 600 a minute.
	if c.RateLimit != 300 {
		t.Errorf("rate limit = %v, want 300 (a share per stream)", c.RateLimit)
	}
	if got := c.SecretID("testvendor", "acme"); got != "wazuh-pull/testvendor/acme" {
		t.Errorf("secret id = %q", got)
	}
	if id, member := c.SecretLocation("testvendor", "acme"); id != "wazuh-pull/testvendor/acme" || member != "" {
		t.Errorf("default secret location %q %q", id, member)
	}
	if c.TenantMetrics || c.RequireClientCert {
		t.Errorf("per-tenant metrics %v, client certificate required %v; both are opt-in", c.TenantMetrics, c.RequireClientCert)
	}
	// Unshared (one invocation), the whole default budget is the
	// invocation's.
	if c.SyslogBudget != DefaultSyslogBudget || c.SyslogShares != 1 || c.SyslogEventsPerSecond != DefaultSyslogBudget {
		t.Errorf("syslog budget %v / %d shares = %v a second, want the default budget", c.SyslogBudget, c.SyslogShares, c.SyslogEventsPerSecond)
	}
}

// The deployment-wide syslog budget is divided among the invocations that
// may send at once (the template sets the shares from the tenants and
// streams), never below one event a second.
func TestLoadConfigSyslogBudget(t *testing.T) {
	for _, c := range []struct {
		budget, shares string
		want           float64
	}{
		{"900", "30", 30},
		{"1000", "91", 1000.0 / 91},
		{"-1", "91", 0},
		{"50", "200", MinSyslogShare},
		{"", "4", DefaultSyslogBudget / 4},
	} {
		env := validEnv()
		env[EnvSyslogBudget], env[EnvSyslogShares] = c.budget, c.shares
		cfg, err := LoadConfig(testVendor(noSource), getenv(env))
		if err != nil {
			t.Fatalf("budget %q shares %q: %v", c.budget, c.shares, err)
		}
		if cfg.SyslogEventsPerSecond != c.want {
			t.Errorf("budget %q shares %q: %v events a second per invocation, want %v", c.budget, c.shares, cfg.SyslogEventsPerSecond, c.want)
		}
	}
}

func TestLoadConfigNewSettings(t *testing.T) {
	env := validEnv()
	env[EnvTenantMetrics] = "true"
	env[EnvSyslogClientCert] = "required"
	env[EnvSyslogTLSSecret] = "wazuh-pull/syslog-tls"
	env[EnvSecretLayout] = "vendor"
	c, err := LoadConfig(testVendor(noSource), getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	if !c.TenantMetrics || !c.RequireClientCert {
		t.Errorf("config = %+v", c)
	}
	if id, member := c.SecretLocation("testvendor", "acme"); id != "wazuh-pull/testvendor" || member != "acme" {
		t.Errorf("vendor layout: %q %q", id, member)
	}
	env[EnvSyslogClientCert] = "optional"
	env[EnvSecretLayout] = "tenant"
	if c, err = LoadConfig(testVendor(noSource), getenv(env)); err != nil || c.RequireClientCert {
		t.Fatalf("optional: %v %+v", err, c)
	}
	if id, member := c.SecretLocation("testvendor", "acme"); id != "wazuh-pull/tenants/acme" || member != "testvendor" {
		t.Errorf("tenant layout: %q %q", id, member)
	}
}

func TestLoadConfigSettings(t *testing.T) {
	env := validEnv()
	for k, v := range map[string]string{
		EnvSecretPrefix:     "prod/wazuh/",
		EnvSecretTTL:        "5m",
		EnvSyslogTLSSecret:  "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wazuh-pull/syslog-tls-AbCdEf",
		EnvDeadlineMargin:   "30s",
		EnvRateLimit:        "-1",
		EnvLogLevel:         "debug",
		EnvMetricsNamespace: "Security/WazuhPull",
		"TV_PAGE_SIZE":      "50",
		"TV_LOOKBACK_HOURS": "1.5",
		"TV_HOST_ONLY":      "9",
	} {
		env[k] = v
	}
	c, err := LoadConfig(testVendor(noSource), getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretPrefix != "prod/wazuh" || c.SecretTTL != 5*time.Minute || c.DeadlineMargin != 30*time.Second ||
		c.RateLimit != -1 || c.LogLevel != slog.LevelDebug || c.MetricsNamespace != "Security/WazuhPull" ||
		!strings.HasPrefix(c.SyslogTLSSecret, "arn:aws:secretsmanager:") {
		t.Errorf("config = %+v", c)
	}
	// Vendor settings marked for Lambda are read; host-only ones keep
	// their default.
	if c.Settings.Int("page-size") != 50 || c.Settings.Int("host-only") != 3 || c.Lookback != 90*time.Minute {
		t.Errorf("vendor settings = %v, lookback %v", c.Settings, c.Lookback)
	}
	if got := c.SecretID("testvendor", "acme"); got != "prod/wazuh/testvendor/acme" {
		t.Errorf("secret id = %q", got)
	}
	// Lambda's own log level applies when ours is unset.
	delete(env, EnvLogLevel)
	env[EnvLambdaLogLevel] = "WARN"
	if c, err = LoadConfig(testVendor(noSource), getenv(env)); err != nil || c.LogLevel != slog.LevelWarn {
		t.Errorf("AWS_LAMBDA_LOG_LEVEL=WARN: level %v, %v", c.LogLevel, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	const secretValue = "tv-key-DO-NOT-PRINT-123"
	pem := "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"
	cases := []struct {
		name  string
		set   map[string]string
		want  []string
		never []string
	}{
		{"missing table and URL", map[string]string{EnvStateTable: "", EnvSyslogURL: ""},
			[]string{EnvStateTable + ": is required", EnvSyslogURL + ": is required"}, nil},
		{"bad table", map[string]string{EnvStateTable: "state table!"}, []string{EnvStateTable + `: "state table!" may only contain`}, nil},
		{"bad table ARN", map[string]string{EnvStateTable: "arn:aws:s3:::bucket"}, []string{"is not a DynamoDB table ARN"}, nil},
		{"udp", map[string]string{EnvSyslogURL: "udp://10.0.0.1:514"}, []string{EnvSyslogURL + ": udp:// is not supported in Lambda"}, nil},
		{"bad URL", map[string]string{EnvSyslogURL: "https://relay:6514"}, []string{EnvSyslogURL + ": syslog: URL \"https://relay:6514\": scheme must be tcp, tls or udp"}, nil},
		{"TLS secret with tcp", map[string]string{EnvSyslogURL: "tcp://remoted:514", EnvSyslogTLSSecret: "wazuh-pull/tls"},
			[]string{EnvSyslogTLSSecret + ": is set but " + EnvSyslogURL + " is tcp://"}, nil},
		{"PEM in the environment", map[string]string{EnvSyslogTLSSecret: pem},
			[]string{EnvSyslogTLSSecret + ": holds PEM data"}, []string{"MIGHAgEAMBMG"}},
		{"host TLS file variables", map[string]string{"WAZUH_PULL_SYSLOG_KEY": pem, "WAZUH_PULL_SYSLOG_CA": "/etc/ca.pem"},
			[]string{"WAZUH_PULL_SYSLOG_KEY: must not be set in Lambda", "WAZUH_PULL_SYSLOG_CA: must not be set in Lambda", EnvSyslogTLSSecret},
			[]string{"MIGHAgEAMBMG", "/etc/ca.pem"}},
		{"credential in the environment", map[string]string{"TV_API_KEY": secretValue},
			[]string{"TV_API_KEY: must not be set in Lambda", `put "api_key" in each tenant's Secrets Manager secret wazuh-pull/testvendor/<tenant>`}, []string{secretValue}},
		{"host credential files", map[string]string{"TV_SECRETS_FILE": "/etc/tv.secrets"},
			[]string{"TV_SECRETS_FILE: must not be set in Lambda"}, []string{"/etc/tv.secrets"}},
		{"lookback", map[string]string{"TV_LOOKBACK_HOURS": "49"}, []string{`TV_LOOKBACK_HOURS: "49" is not a number of hours above 0 and at most 48`}, nil},
		{"bad durations", map[string]string{EnvSecretTTL: "1h", EnvDeadlineMargin: "10"},
			[]string{EnvSecretTTL + `: "1h" is not a duration from 1s to 15m0s`, EnvDeadlineMargin + `: "10" is not a duration`}, nil},
		{"rate zero", map[string]string{EnvRateLimit: "0"}, []string{EnvRateLimit + ": 0 would never send"}, nil},
		{"syslog budget zero", map[string]string{EnvSyslogBudget: "0"}, []string{EnvSyslogBudget + ": give events per second for the whole deployment, or -1"}, nil},
		{"syslog budget negative", map[string]string{EnvSyslogBudget: "-0.5"}, []string{EnvSyslogBudget + ": give events per second"}, nil},
		{"syslog budget words", map[string]string{EnvSyslogBudget: "lots"}, []string{EnvSyslogBudget + `: "lots" is not a number`}, nil},
		{"syslog shares", map[string]string{EnvSyslogShares: "0"}, []string{EnvSyslogShares + `: "0" is not a whole number from 1`}, nil},
		{"host syslog limit", map[string]string{"WAZUH_PULL_SYSLOG_EPS": "200"},
			[]string{"WAZUH_PULL_SYSLOG_EPS: is localrun's per-sender limit and is not read in Lambda: set " + EnvSyslogBudget}, nil},
		{"rate words", map[string]string{EnvRateLimit: "fast"}, []string{EnvRateLimit + `: "fast" is not a number`}, nil},
		{"log level", map[string]string{EnvLogLevel: "verbose"}, []string{EnvLogLevel + `: "verbose" is not one of debug, info, warn, error`}, nil},
		{"namespace", map[string]string{EnvMetricsNamespace: "AWS/Lambda"}, []string{"reserved for AWS"}, nil},
		{"prefix", map[string]string{EnvSecretPrefix: "wazuh pull"}, []string{EnvSecretPrefix + `: "wazuh pull" may only contain`}, nil},
		{"vendor setting", map[string]string{"TV_PAGE_SIZE": "500"}, []string{`TV_PAGE_SIZE: "500" is not a whole number from 1 to 100`}, nil},
		{"client certificate without a TLS secret", map[string]string{EnvSyslogClientCert: "required"},
			[]string{EnvSyslogTLSSecret + ": is required with " + EnvSyslogClientCert + "=required", "client_cert_pem", "mutual TLS only"}, nil},
		{"client certificate over tcp", map[string]string{EnvSyslogClientCert: "required", EnvSyslogURL: "tcp://10.0.0.1:514"},
			[]string{EnvSyslogClientCert + ": required needs " + EnvSyslogURL + " to be tls://"}, nil},
		{"client certificate mode", map[string]string{EnvSyslogClientCert: "yes"}, []string{EnvSyslogClientCert + `: "yes" is not required or optional`}, nil},
		{"tenant metrics", map[string]string{EnvTenantMetrics: "sometimes"}, []string{EnvTenantMetrics + `: "sometimes" is not true or false`}, nil},
		{"secret layout", map[string]string{EnvSecretLayout: "per-tenant"}, []string{EnvSecretLayout + `: "per-tenant" is not one of tenant-vendor, tenant or vendor`}, nil},
		{"credential in the environment, bundled", map[string]string{EnvSecretLayout: "tenant", "TV_API_KEY": secretValue},
			[]string{`put "api_key" in each tenant's Secrets Manager secret wazuh-pull/tenants/<tenant> (member "testvendor")`}, []string{secretValue}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range c.set {
				env[k] = v
			}
			_, err := LoadConfig(testVendor(noSource), getenv(env))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines (Lambda shows one): %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, n := range c.never {
				if strings.Contains(msg, n) {
					t.Errorf("error %q quotes a value it must not (%q)", msg, n)
				}
			}
		})
	}
}

func TestLoadConfigRejectsBrokenVendor(t *testing.T) {
	v := testVendor(noSource)
	v.Streams = []spec.Stream{{Name: "a/b"}}
	v.New = nil
	_, err := LoadConfig(v, getenv(validEnv()))
	if err == nil || !strings.Contains(err.Error(), "no constructor") || !strings.Contains(err.Error(), "stream: \"a/b\"") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeInput(t *testing.T) {
	v := testVendor(noSource)
	good, err := DecodeInput([]byte(` {"stream":"alpha","tenant":"acme-1"} `))
	if err != nil || good != (Input{Stream: "alpha", Tenant: "acme-1"}) || good.Validate(&v) != nil {
		t.Fatalf("good input: %+v, %v, %v", good, err, good.Validate(&v))
	}
	for _, c := range []struct{ payload, want string }{
		{``, "empty payload"},
		{`null`, `"stream" is required`},
		{`{}`, `"stream" is required: one of alpha, beta; "tenant" is required`},
		{`{"stream":"gamma","tenant":"acme"}`, `"stream" "gamma" is not a testvendor stream: use one of alpha, beta`},
		{`{"stream":"alpha","tenant":"` + strings.Repeat("x", 65) + `"}`, `"tenant": "xxxx`},
		{`{"stream":"alpha","tenant":"../etc"}`, `may only contain letters, digits, '-' and '_'`},
		{`{"stream":"alpha","tenant":"acme","extra":true}`, `unknown field "extra"; only "stream" and "tenant" are allowed`},
		{`{"stream":["alpha"],"tenant":"acme"}`, `field "stream" must be a string, not a JSON array`},
		{`[1]`, `payload is a JSON array; want an object`},
		{`{"stream":"alpha"`, `payload is not valid JSON`},
		{`{"stream":"alpha","tenant":"acme"} {}`, `data after the JSON object`},
		{`{"stream":"alpha","tenant":"` + strings.Repeat("y", 5000) + `"}`, `too large`},
	} {
		in, err := DecodeInput([]byte(c.payload))
		if err == nil {
			err = in.Validate(&v)
		}
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("payload %.60q: %v; want an InputError saying %q", c.payload, err, c.want)
		}
	}
}

func TestEnvHelpers(t *testing.T) {
	env := NewEnv(getenv(map[string]string{"D": "1m30s", "H": "1.5", "F": "2.5", "I": " 7 ", "BADH": "-1"}))
	if d := env.Duration("D", 0, 0, time.Hour); d != 90*time.Second {
		t.Errorf("Duration = %v", d)
	}
	if d := env.Hours("H", 0, 24*time.Hour); d != 90*time.Minute {
		t.Errorf("Hours = %v", d)
	}
	if f := env.Float("F", 0, 0, 10); f != 2.5 {
		t.Errorf("Float = %v", f)
	}
	if i := env.Int("I", 0, 0, 10); i != 7 {
		t.Errorf("Int = %v", i)
	}
	if d := env.Hours("UNSET", 3*time.Hour, 24*time.Hour); d != 3*time.Hour {
		t.Errorf("default Hours = %v", d)
	}
	if env.Err() != nil {
		t.Fatalf("Err = %v", env.Err())
	}
	env.Hours("BADH", time.Hour, 24*time.Hour)
	if err := env.Err(); err == nil || !strings.Contains(err.Error(), `BADH: "-1" is not a number of hours`) {
		t.Errorf("Err = %v", err)
	}
}

func TestLoadConfigKeepsTheVendorsSmallerBurst(t *testing.T) {
	v := testVendor(noSource)
	v.RateBurst = 2
	c, err := LoadConfig(v, getenv(validEnv()))
	if err != nil || c.RateBurst != 2 {
		t.Fatalf("burst %d, %v: want the vendor's 2", c.RateBurst, err)
	}
}
