package lambdarun

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/secrets/awssm"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Environment variables read by LoadConfig (see the package documentation
// for what each one accepts).
const (
	EnvStateTable       = "WAZUH_PULL_STATE_TABLE"
	EnvSecretPrefix     = "WAZUH_PULL_SECRET_PREFIX"
	EnvSecretTTL        = "WAZUH_PULL_SECRET_TTL"
	EnvSyslogURL        = "WAZUH_PULL_SYSLOG_URL"
	EnvSyslogTLSSecret  = "WAZUH_PULL_SYSLOG_TLS_SECRET"
	EnvDeadlineMargin   = "WAZUH_PULL_DEADLINE_MARGIN"
	EnvRateLimit        = "WAZUH_PULL_RATE_LIMIT"
	EnvLogLevel         = "WAZUH_PULL_LOG_LEVEL"
	EnvMetricsNamespace = "WAZUH_PULL_METRICS_NAMESPACE"
	EnvTenantMetrics    = "WAZUH_PULL_TENANT_METRICS"
	EnvSyslogClientCert = "WAZUH_PULL_SYSLOG_CLIENT_CERT"
	EnvSecretLayout     = "WAZUH_PULL_SECRET_LAYOUT"
	// EnvSyslogBudget is the events per second the whole deployment may
	// send to the Wazuh manager; EnvSyslogShares is how many invocations
	// may be sending at once (every tenant stream of every vendor), among
	// which it is divided.
	EnvSyslogBudget = "WAZUH_PULL_SYSLOG_EPS_BUDGET"
	EnvSyslogShares = "WAZUH_PULL_SYSLOG_EPS_SHARES"
	// EnvLambdaLogLevel is set by Lambda's advanced logging controls; it is
	// used when EnvLogLevel is not set.
	EnvLambdaLogLevel = "AWS_LAMBDA_LOG_LEVEL"
)

// hostSyslogEPS is localrun's per-sender syslog limit (shared/hostrun).
const hostSyslogEPS = "WAZUH_PULL_SYSLOG_EPS"

// Defaults.
const (
	DefaultDeadlineMargin   = 10 * time.Second
	DefaultMetricsNamespace = "WazuhPull"
	// DefaultRateBurst is how many requests an invocation may send at once
	// before pacing starts: small, because the tenant's other streams may
	// be bursting at the same moment from other execution environments.
	DefaultRateBurst = 10
	// MaxDeadlineMargin bounds the margin: Lambda runs at most 15 minutes.
	MaxDeadlineMargin = 5 * time.Minute
	// DefaultSyslogBudget is the deployment-wide events per second sent to
	// the manager when EnvSyslogBudget is unset: a manager on two busy
	// cores kept up with about 1 000 a second from one sender or several
	// (docs/syslog-pacing.md), so half of that leaves room for its agents
	// and a busier moment. A bigger manager deserves a bigger budget.
	DefaultSyslogBudget = 500
	// MinSyslogShare is the least an invocation's share may be: below it
	// a run would spend minutes on its run_summary line.
	MinSyslogShare = 1.0
	// MaxSyslogShares bounds EnvSyslogShares.
	MaxSyslogShares = 100000
)

// Config is the validated configuration of a function.
type Config struct {
	// Table is the DynamoDB state table (name or ARN).
	Table string
	// SecretPrefix is the first part of credential secret ids:
	// "<SecretPrefix>/<vendor>/<tenant>".
	SecretPrefix string
	// SecretTTL is how long a secret read is reused (at most awssm.MaxTTL).
	SecretTTL time.Duration
	// SyslogURL is tls://host:port or tcp://host:port.
	SyslogURL string
	// SyslogTLSSecret is the Secrets Manager secret (name or ARN) holding
	// {"ca_pem","client_cert_pem","client_key_pem","server_name"}; "" means
	// the system CA pool and no client certificate.
	SyslogTLSSecret string
	// DeadlineMargin is the time before the invocation's deadline at
	// which fetching stops, left for delivering, committing and reporting.
	DeadlineMargin time.Duration
	// RateLimit is the requests per minute this invocation may send to the
	// vendor; negative means unpaced.
	RateLimit float64
	// RateBurst is the limiter's burst.
	RateBurst int
	// SyslogBudget is the deployment-wide events per second (negative:
	// unpaced) and SyslogShares the number of invocations sharing it.
	SyslogBudget float64
	SyslogShares int
	// SyslogEventsPerSecond is this invocation's share of SyslogBudget
	// (0: unpaced), at least MinSyslogShare.
	SyslogEventsPerSecond float64
	LogLevel              slog.Level
	// MetricsNamespace is the CloudWatch namespace of the EMF metrics.
	MetricsNamespace string
	// TenantMetrics adds the [vendor, tenant, stream] dimension set to the
	// metrics (billed per tenant and stream).
	TenantMetrics bool
	// RequireClientCert refuses to send unless the TLS secret holds a
	// client certificate and key (the relay accepts mutual TLS only).
	RequireClientCert bool
	// SecretLayout says how tenants' credentials are spread over secrets.
	SecretLayout awssm.Layout
	// Settings are the vendor's own settings that Lambda reads
	// (spec.Setting.Lambda), from their variables.
	Settings spec.Values
	// Lookback is how far back a stream without a cursor starts
	// (<prefix>_LOOKBACK_HOURS).
	Lookback time.Duration
}

// SecretID returns the credential secret of a tenant in the default
// layout (one secret per tenant and vendor).
func (c *Config) SecretID(vendor, tenant string) string {
	return awssm.SecretID(c.SecretPrefix, vendor, tenant)
}

// SecretLocation returns where a tenant's credentials are in the
// configured layout: the secret, and the member of its JSON holding them
// ("" when the whole secret is the tenant's).
func (c *Config) SecretLocation(vendor, tenant string) (secretID, member string) {
	return c.SecretLayout.Locate(c.SecretPrefix, vendor, tenant)
}

// LoadConfig reads and validates the configuration from getenv. It does no
// network I/O, so it can run in the init phase. The error, a *ConfigError,
// lists every problem found.
func LoadConfig(v spec.Descriptor, getenv func(string) string) (Config, error) {
	if err := v.Validate(); err != nil {
		return Config{}, &ConfigError{Err: fmt.Errorf("vendor description (a bug in the vendor's package): %w", err)}
	}
	env := NewEnv(getenv)
	// The vendor's own burst when it allows fewer at once (Cortex XDR's
	// tenant-wide limit is per second).
	c := Config{RateBurst: min(DefaultRateBurst, v.Burst())}

	c.Table = env.Required(EnvStateTable, "the DynamoDB table holding stream cursors and leases")
	if c.Table != "" {
		if err := checkTableName(c.Table); err != nil {
			env.Fail(EnvStateTable, "%v", err)
		}
	}

	c.SecretPrefix = strings.TrimSuffix(env.String(EnvSecretPrefix, awssm.DefaultPrefix), "/")
	if err := checkSecretName(c.SecretPrefix, 256); err != nil {
		env.Fail(EnvSecretPrefix, "%v", err)
	}
	c.SecretTTL = env.Duration(EnvSecretTTL, awssm.MaxTTL, time.Second, awssm.MaxTTL)

	c.SyslogURL = env.Required(EnvSyslogURL, "where events go: tls://relay:6514 (a TLS relay in front of wazuh-remoted) or tcp://remoted:514 (private network only)")
	scheme := ""
	if c.SyslogURL != "" {
		ep, err := syslog.ParseURL(c.SyslogURL)
		switch {
		case err != nil:
			env.Fail(EnvSyslogURL, "%v", err)
		case ep.Scheme == "udp":
			env.Fail(EnvSyslogURL, "udp:// is not supported in Lambda: UDP cannot confirm delivery, so cursors could move past lost events; use tls:// or tcp://")
		default:
			scheme = ep.Scheme
		}
	}
	c.SyslogTLSSecret = env.Lookup(EnvSyslogTLSSecret)
	switch {
	case c.SyslogTLSSecret == "":
	case strings.Contains(c.SyslogTLSSecret, "-----BEGIN"):
		env.Fail(EnvSyslogTLSSecret, "holds PEM data; it must name a Secrets Manager secret whose JSON holds ca_pem, client_cert_pem and client_key_pem (key material never goes in the environment)")
	case scheme == "tcp":
		env.Fail(EnvSyslogTLSSecret, "is set but %s is tcp://, which would send in clear text; use tls:// or remove the TLS secret", EnvSyslogURL)
	default:
		if err := checkSecretName(c.SyslogTLSSecret, 2048); err != nil {
			env.Fail(EnvSyslogTLSSecret, "%v", err)
		}
	}
	switch mode := env.Lookup(EnvSyslogClientCert); mode {
	case "", "optional":
	case "required":
		c.RequireClientCert = true
		switch {
		case scheme == "tcp":
			env.Fail(EnvSyslogClientCert, "required needs %s to be tls://; tcp:// presents no certificate", EnvSyslogURL)
		case scheme == "tls" && c.SyslogTLSSecret == "":
			env.Fail(EnvSyslogTLSSecret, "is required with %s=required: name the Secrets Manager secret holding %s and %s (the relay accepts mutual TLS only)", EnvSyslogClientCert, TLSFieldClientCert, TLSFieldClientKey)
		}
	default:
		env.Fail(EnvSyslogClientCert, "%q is not required or optional", mode)
	}
	for _, name := range []string{"WAZUH_PULL_SYSLOG_CA", "WAZUH_PULL_SYSLOG_CERT", "WAZUH_PULL_SYSLOG_KEY"} {
		env.Forbid(name, "put ca_pem, client_cert_pem and client_key_pem in the Secrets Manager secret named by "+EnvSyslogTLSSecret)
	}
	layout, err := awssm.ParseLayout(env.Lookup(EnvSecretLayout))
	if err != nil {
		env.Fail(EnvSecretLayout, "%v", err)
	}
	c.SecretLayout = layout
	secretID, member := layout.Locate(c.SecretPrefix, v.Name, "<tenant>")
	if member != "" {
		secretID = fmt.Sprintf("%s (member %q)", secretID, member)
	}
	for _, name := range v.HostEnv() {
		instead := fmt.Sprintf("store the credentials as JSON in the Secrets Manager secret %s", secretID)
		for _, cr := range v.Credentials {
			if cr.Env == name {
				instead = fmt.Sprintf("put %q in each tenant's Secrets Manager secret %s", cr.Field, secretID)
			}
		}
		env.Forbid(name, instead)
	}

	c.DeadlineMargin = env.Duration(EnvDeadlineMargin, DefaultDeadlineMargin, 0, MaxDeadlineMargin)

	def := -1.0
	if v.RequestsPerMinute > 0 {
		// The tenant's streams run as separate, concurrent invocations
		// sharing one credential.
		def = v.RequestsPerMinute / float64(len(v.Streams))
	}
	c.RateLimit = env.Float(EnvRateLimit, def, -1, 1e6)
	if c.RateLimit == 0 {
		env.Fail(EnvRateLimit, "0 would never send a request; give requests per minute, or -1 for no pacing")
	}

	c.SyslogBudget = env.Float(EnvSyslogBudget, DefaultSyslogBudget, -1, syslog.MaxEventsPerSecond)
	if c.SyslogBudget == 0 || c.SyslogBudget < 0 && c.SyslogBudget != -1 {
		env.Fail(EnvSyslogBudget, "give events per second for the whole deployment, or -1 for no pacing (0 would never send)")
	}
	c.SyslogShares = env.Int(EnvSyslogShares, 1, 1, MaxSyslogShares)
	if c.SyslogBudget > 0 {
		// Every tenant stream may be catching up at the same moment, each
		// in its own invocation: each gets an equal share, so that the
		// fleet together stays within the budget.
		c.SyslogEventsPerSecond = max(c.SyslogBudget/float64(c.SyslogShares), MinSyslogShare)
	}
	if env.Lookup(hostSyslogEPS) != "" {
		env.Fail(hostSyslogEPS, "is localrun's per-sender limit and is not read in Lambda: set %s (events per second for the whole deployment), which is divided among %s invocations", EnvSyslogBudget, EnvSyslogShares)
	}

	c.LogLevel = logLevel(env)
	c.MetricsNamespace = env.String(EnvMetricsNamespace, DefaultMetricsNamespace)
	if err := checkNamespace(c.MetricsNamespace); err != nil {
		env.Fail(EnvMetricsNamespace, "%v", err)
	}

	c.TenantMetrics = env.Bool(EnvTenantMetrics, false)

	c.Lookback = env.Hours(v.Env(spec.EnvLookback), v.Lookback.Default, v.Lookback.Max)
	c.Settings = lambdaSettings(&v, env)
	if err := env.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// lambdaSettings reads the vendor settings Lambda accepts from their
// variables; the others keep their defaults.
func lambdaSettings(v *spec.Descriptor, env *Env) spec.Values {
	vals, err := v.Resolve(func(s *spec.Setting) (string, string) {
		if !s.Lambda {
			return "", ""
		}
		return env.Lookup(s.Env), s.Env
	})
	if err != nil {
		for _, e := range unjoin(err) {
			name, msg, _ := strings.Cut(e.Error(), ": ")
			env.Fail(name, "%s", msg)
		}
	}
	return vals
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func logLevel(env *Env) slog.Level {
	if raw := env.Lookup(EnvLogLevel); raw != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(raw)); err != nil {
			env.Fail(EnvLogLevel, "%q is not one of debug, info, warn, error", raw)
			return slog.LevelInfo
		}
		return l
	}
	// Lambda's own names; an unknown value is Lambda's business, not a
	// reason to refuse to run.
	switch strings.ToUpper(env.Lookup(EnvLambdaLogLevel)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// checkTableName accepts a DynamoDB table name or a table ARN.
func checkTableName(s string) error {
	if strings.HasPrefix(s, "arn:") {
		if !strings.Contains(s, ":dynamodb:") || !strings.Contains(s, ":table/") {
			return fmt.Errorf("%q is not a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>)", s)
		}
		return nil
	}
	if len(s) < 3 || len(s) > 255 {
		return fmt.Errorf("%q must be 3 to 255 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%q may only contain letters, digits, '_', '-' and '.'", s)
		}
	}
	return nil
}

// checkSecretName accepts what Secrets Manager allows in a name, and ARNs.
// Names are not secret, so quoting them in an error is fine.
func checkSecretName(s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("must be 1 to %d characters", max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/_+=.@-:", c) >= 0) {
			return fmt.Errorf("%q may only contain letters, digits and /_+=.@- (a Secrets Manager name or ARN)", s)
		}
	}
	return nil
}

func checkNamespace(s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("must be 1 to 255 characters")
	}
	if strings.HasPrefix(s, "AWS/") {
		return fmt.Errorf("%q: the AWS/ prefix is reserved for AWS services", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-/#: ", c) >= 0) {
			return fmt.Errorf("%q may only contain letters, digits and ._-/#: and spaces", s)
		}
	}
	return nil
}
