// Package spec describes a vendor's collector once, for every deployment.
//
// A Descriptor holds everything the deployments need to know about one
// vendor: its names, event envelope, streams, rate limits, the credential
// fields and where each is read (host variables, systemd credentials, the
// secrets file, the multi-tenant file, the Lambda's Secrets Manager JSON),
// the vendor's own settings with their flags, environment names, defaults
// and help, and the constructor of its collector. The host runner
// (shared/hostrun, behind localrun), the Lambda runtime (shared/lambdarun)
// and the AWS template generator (infra) are generated from it, so a new
// vendor adds its package, a descriptor and a three-line Lambda main, and
// nothing else.
package spec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Descriptor describes one vendor's collector.
type Descriptor struct {
	// Name is the vendor part of state keys, secret ids and metric
	// dimensions ("1password", "proofpoint", "cortex_xdr"). Changing it
	// orphans every stored cursor.
	Name string
	// Command is the localrun subcommand and the functions/<Command>
	// directory ("onepassword", "proofpoint", "cortexxdr").
	Command string
	// Title names the vendor API in help texts ("1Password Events API v2").
	Title string
	// Envelope wraps every event line the way the vendor's seed wodle did.
	Envelope event.Envelope
	// Streams are the vendor's event streams, in the seed's order.
	Streams []Stream
	// AllStreams is the --source value of the seed that selects every
	// stream ("all"; the Cortex XDR seed said "both"). "all" is always
	// accepted too.
	AllStreams string
	// EnvPrefix prefixes the host's common variables, as the seed named
	// them: <prefix>_SOURCE, _LOOKBACK_HOURS, _DEBUG, _STATE_FILE,
	// _SECRETS_FILE, _CA_BUNDLE ("OP", "PP", "XDR").
	EnvPrefix string
	// HostDir is the seed's directory under /var/ossec/wodles, holding the
	// default state and secrets files ("onepassword", "cortex-xdr").
	HostDir string
	// Credentials are the fields of a tenant's credentials.
	Credentials []Credential
	// TenantsFileEnv names the variable pointing to the multi-tenant file
	// {"tenants":[{"name":…,<credential fields>…}]} ("" when the vendor
	// has no multi-tenant mode on a host).
	TenantsFileEnv string
	// Lookback is how far back a stream without a cursor starts.
	Lookback Lookback
	// Settings are the vendor's own options.
	Settings []Setting
	// RequestsPerMinute is the sustained request rate the vendor allows
	// per credential. The Lambda runs each stream in its own invocation,
	// so it paces each at RequestsPerMinute / len(Streams) by default; 0
	// means no documented limit (and no pacing).
	RequestsPerMinute float64
	// HostRateLimit is the host's default pace in requests per minute per
	// credential (the streams of a tenant run one after another there);
	// 0 means RequestsPerMinute.
	HostRateLimit float64
	// RateBurst is how many requests may go out at once before pacing
	// starts (default 10).
	RateBurst int
	// EpochMillis names vendor fields holding epoch milliseconds, turned
	// into ISO 8601 strings.
	EpochMillis []string
	// New builds the collector of one tenant. It must not do network I/O:
	// credentials and positions are read when streams start.
	New func(p Params) (Collector, error)
}

// Stream is one event stream of a vendor.
type Stream struct {
	// Name keys the stream's state, is a --source value, a Lambda input
	// and the seed's prefix in run_summary keys ("audit", "alerts").
	Name string
	// Help says what the stream holds.
	Help string
	// Schedule is the stream's default EventBridge Scheduler expression in
	// the generated template ("" = the vendor's common schedule).
	Schedule string
}

// Credential is one field of a tenant's credentials.
type Credential struct {
	// Field names the value in the Lambda's Secrets Manager JSON and in
	// the multi-tenant file ("bearer_token").
	Field string
	// Env is the host variable and secrets file key ("OP_BEARER_TOKEN");
	// its lower-case form is the systemd credential name.
	Env string
	// Required fields must be present for a stream to run.
	Required bool
	// Public fields are not secret (a base URL, a key id): they are not
	// masked in logs and may be printed by `localrun check`.
	Public bool
	// Flag, for a public field, is a host flag whose value overrides the
	// credentials of every tenant ("base-url").
	Flag string
	// Default applies when no source provides the field.
	Default string
	// Help explains the field.
	Help string
}

// Lookback bounds a stream's first read.
type Lookback struct {
	Default time.Duration
	// Max is what the vendor keeps, less a margin.
	Max time.Duration
}

// Params is what a deployment hands a vendor's constructor for a tenant.
type Params struct {
	Tenant      string
	Credentials secrets.Source
	// HTTP is the tenant's client; its limiter paces the tenant's
	// requests.
	HTTP     *httpx.Client
	Settings Values
	Lookback time.Duration
	Logger   *slog.Logger
	Redactor *redact.Redactor
	// Where tells operators where a credential field comes from in this
	// deployment, for error messages: "OP_BEARER_TOKEN (environment,
	// secrets file or systemd credential op_bearer_token)" on a host, "field
	// bearer_token of the Secrets Manager secret wazuh-pull/1password/acme"
	// in Lambda.
	Where func(field string) string
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Collector is one tenant's collector.
type Collector interface {
	// Source returns the pipeline source of one stream.
	Source(stream string, opts SourceOptions) (pipeline.Source, error)
	// Check tests what a run of the given streams needs, without
	// collecting: credentials, endpoint, scope (`localrun check`).
	Check(ctx context.Context, streams []string) Report
}

// Planner is implemented by collectors that can tell which requested
// streams the credentials allow (1Password's token features). A run only
// starts the streams Plan returns; when Plan fails, its error is reported
// and every requested stream is tried, unless the error's code says the
// credentials are missing, invalid or refused.
type Planner interface {
	Plan(ctx context.Context, streams []string) ([]string, error)
}

// SourceOptions tune one stream's source.
type SourceOptions struct {
	// Backfill reads the lookback window from scratch and reports no
	// position worth keeping (--all): stored cursors are neither read nor
	// moved.
	Backfill bool
	// Legacy reads the seed wodle's state file, for adopting its position
	// in place (nil when there is none, and always in Lambda).
	Legacy Legacy
}

// Legacy reads the seed wodle's own keys of a state file. In multi-tenant
// mode the seeds prefixed their keys with "<tenant>."; the host runner
// hands each tenant a view with the prefix applied.
type Legacy interface {
	Value(key string) (string, bool)
}

// Report is what Check found.
type Report struct {
	// Facts are shown line by line ("events API: https://…"); never a
	// secret.
	Facts []Fact
	// Streams tell, per requested stream, whether it would run.
	Streams []StreamStatus
	// Err is a failure that stops the tenant's collection (credentials,
	// endpoint, network).
	Err error
}

// Fact is one line of a Report.
type Fact struct{ Name, Value string }

// StreamStatus is one stream's verdict.
type StreamStatus struct {
	Name   string
	Runs   bool
	Detail string
}

// Validate checks a descriptor; a mistake is a bug in the vendor's package,
// found by any test that registers it.
func (d *Descriptor) Validate() error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := state.ValidateName(d.Name); err != nil {
		fail("name: %w", err)
	}
	if !lowerWord(d.Command) {
		fail("command %q: want lower-case letters and digits", d.Command)
	}
	if d.Title == "" {
		fail("no title")
	}
	if d.Envelope.Integration == "" || d.Envelope.Namespace == "" {
		fail("envelope needs an integration and a namespace")
	}
	if len(d.Streams) == 0 {
		fail("no streams")
	}
	seen := map[string]bool{"all": true, d.AllStreams: true}
	for _, s := range d.Streams {
		if err := state.ValidateName(s.Name); err != nil {
			fail("stream: %w", err)
		}
		if seen[s.Name] {
			fail("stream %q: duplicate or reserved name", s.Name)
		}
		seen[s.Name] = true
	}
	if d.AllStreams == "" {
		fail("no AllStreams value")
	}
	if !upperWord(d.EnvPrefix) {
		fail("env prefix %q: want upper-case letters", d.EnvPrefix)
	}
	if d.HostDir == "" || strings.ContainsAny(d.HostDir, "/ ") {
		fail("host directory %q: want one path element", d.HostDir)
	}
	if len(d.Credentials) == 0 {
		fail("no credentials")
	}
	names := map[string]string{}
	claim := func(name, what string) {
		if name == "" {
			return
		}
		if prev, ok := names[name]; ok {
			fail("%s %q is also %s", what, name, prev)
		}
		names[name] = what
	}
	for _, n := range d.commonEnv() {
		claim(n, "a common variable")
	}
	claim(d.TenantsFileEnv, "the tenants file variable")
	fields := map[string]bool{"name": true}
	for _, c := range d.Credentials {
		if c.Field == "" || fields[c.Field] {
			fail("credential field %q: empty, duplicate or reserved", c.Field)
		}
		fields[c.Field] = true
		if !upperWord(strings.ReplaceAll(c.Env, "_", "")) {
			fail("credential %s: env %q", c.Field, c.Env)
		}
		claim(c.Env, "credential "+c.Field)
		if c.Flag != "" && !c.Public {
			fail("credential %s: only public fields may have a flag (a secret on the command line is visible to every user)", c.Field)
		}
	}
	if d.Lookback.Default <= 0 || d.Lookback.Max < d.Lookback.Default {
		fail("lookback: default %v must be positive and at most max %v", d.Lookback.Default, d.Lookback.Max)
	}
	for _, s := range d.Settings {
		if err := s.validate(); err != nil {
			fail("setting %s: %w", s.Name, err)
		}
		claim(s.Env, "setting "+s.Name)
	}
	if d.RequestsPerMinute < 0 || d.HostRateLimit < 0 || d.RateBurst < 0 {
		fail("negative rate limit")
	}
	if d.New == nil {
		fail("no constructor")
	}
	if len(errs) > 0 {
		return fmt.Errorf("vendor %s: %w", d.Name, errors.Join(errs...))
	}
	return nil
}

// Stream returns the named stream.
func (d *Descriptor) Stream(name string) (Stream, bool) {
	for _, s := range d.Streams {
		if s.Name == name {
			return s, true
		}
	}
	return Stream{}, false
}

// StreamNames lists the stream names in order.
func (d *Descriptor) StreamNames() []string {
	out := make([]string, len(d.Streams))
	for i, s := range d.Streams {
		out[i] = s.Name
	}
	return out
}

// Credential returns the named credential field.
func (d *Descriptor) Credential(field string) (Credential, bool) {
	for _, c := range d.Credentials {
		if c.Field == field {
			return c, true
		}
	}
	return Credential{}, false
}

// PublicFields lists the credential fields that are not secret.
func (d *Descriptor) PublicFields() []string {
	var out []string
	for _, c := range d.Credentials {
		if c.Public {
			out = append(out, c.Field)
		}
	}
	return out
}

// RequiredFields lists the credential fields a stream needs.
func (d *Descriptor) RequiredFields() []string {
	var out []string
	for _, c := range d.Credentials {
		if c.Required {
			out = append(out, c.Field)
		}
	}
	return out
}

// Env returns the host's common variable <prefix>_<suffix>.
func (d *Descriptor) Env(suffix string) string { return d.EnvPrefix + "_" + suffix }

// Common variable suffixes.
const (
	EnvSource      = "SOURCE"
	EnvLookback    = "LOOKBACK_HOURS"
	EnvDebug       = "DEBUG"
	EnvStateFile   = "STATE_FILE"
	EnvSecretsFile = "SECRETS_FILE"
	EnvCABundle    = "CA_BUNDLE"
)

func (d *Descriptor) commonEnv() []string {
	return []string{d.Env(EnvSource), d.Env(EnvLookback), d.Env(EnvDebug), d.Env(EnvStateFile), d.Env(EnvSecretsFile), d.Env(EnvCABundle)}
}

// HostEnv lists every variable a host deployment reads for this vendor
// that may hold a credential or point to one: Lambda refuses them all,
// since its credentials come from Secrets Manager only.
func (d *Descriptor) HostEnv() []string {
	out := []string{d.Env(EnvSecretsFile)}
	if d.TenantsFileEnv != "" {
		out = append(out, d.TenantsFileEnv)
	}
	for _, c := range d.Credentials {
		out = append(out, c.Env)
	}
	return out
}

// DefaultStateFile is the seed's state file path.
func (d *Descriptor) DefaultStateFile() string {
	return "/var/ossec/wodles/" + d.HostDir + "/state.json"
}

// DefaultSecretsFile is the seed's secrets file path.
func (d *Descriptor) DefaultSecretsFile() string {
	return "/var/ossec/wodles/" + d.HostDir + "/.secrets"
}

// Burst is the rate limiter's burst.
func (d *Descriptor) Burst() int {
	if d.RateBurst > 0 {
		return d.RateBurst
	}
	return 10
}

// DefaultHostRate is the host's default pace in requests per minute (0:
// unpaced).
func (d *Descriptor) DefaultHostRate() float64 {
	if d.HostRateLimit > 0 {
		return d.HostRateLimit
	}
	return d.RequestsPerMinute
}

func lowerWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func upperWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
