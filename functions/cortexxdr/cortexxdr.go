// Package cortexxdr collects Cortex XDR alerts and incidents into the
// shared pipeline, in the event shape of the seed wodle
// ({"integration":"cortex_xdr","xdr":{"type":"alert",…}}).
//
// Alerts are read by the time Cortex XDR inserted them, not by the time
// they were detected, in frozen windows that stay a couple of minutes
// behind the API's clock and hold at most WindowMax alerts each; incidents
// are read by modification time, one event per change. docs/cortexxdr.md
// describes the API facts this relies on; README.md beside this file
// describes the algorithms and what they guarantee.
package cortexxdr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Vendor is the vendor part of state keys.
const Vendor = "cortex_xdr"

// Envelope returns the seed wodle's event envelope: the type in "type",
// the failing stream of an error event in "error_source", epoch
// milliseconds rendered as the seed rendered them.
func Envelope() event.Envelope {
	return event.Envelope{Integration: "cortex_xdr", Namespace: "xdr", TypeKey: "type", SourceKey: "error_source", UnsetEpochLists: true}
}

// EpochMillis lists the fields the seed converted from epoch milliseconds
// to ISO 8601 (its _TIMESTAMP_FIELDS); pass it as pipeline.Config.EpochMillis.
func EpochMillis() []string {
	return []string{
		// incidents
		"creation_time", "modification_time", "detection_time", "resolved_timestamp",
		// alerts
		"local_insert_ts", "last_modified_ts", "detection_timestamp", "end_match_attempt_ts",
		"event_timestamp", "causality_actor_process_execution_time",
		"dst_causality_actor_process_execution_time", "agent_host_boot_time",
	}
}

// Stream names, as the seed's --source flag spells them.
const (
	StreamAlerts    = "alerts"
	StreamIncidents = "incidents"
)

// StreamDef describes one Cortex XDR stream.
type StreamDef struct {
	Name      string // seed stream name: alerts, incidents
	Path      string // API endpoint
	EventType string // the seed's "type": alert, incident
	ListKey   string // member of "reply" holding the records
	TimeField string // filter field that orders collection
}

// Streams returns both streams in the seed's order.
func Streams() []StreamDef {
	return []StreamDef{
		{Name: StreamAlerts, Path: "/public_api/v2/alerts/get_alerts_multi_events", EventType: "alert", ListKey: "alerts", TimeField: "server_creation_time"},
		{Name: StreamIncidents, Path: "/public_api/v1/incidents/get_incidents", EventType: "incident", ListKey: "incidents", TimeField: "modification_time"},
	}
}

// StreamName names the stream (spec.NamedStream).
func (s StreamDef) StreamName() string { return s.Name }

// StreamNames returns the stream names in the seed's order.
func StreamNames() []string { return spec.StreamNames(Streams()) }

// StreamByName finds a stream definition.
func StreamByName(name string) (StreamDef, bool) { return spec.FindStream(Streams(), name) }

// Credential fields of a tenant's secret (the Secrets Manager JSON object
// {"fqdn","api_key_id","api_key","security_level"}). Only api_key is
// secret; the others are public (PublicFields).
const (
	FieldFQDN          = "fqdn"
	FieldAPIKeyID      = "api_key_id"
	FieldAPIKey        = "api_key"
	FieldSecurityLevel = "security_level"
	// FieldBaseURL (optional, public) replaces https://api-<fqdn>, like
	// Config.BaseURL: for tests, the demo, or a reverse proxy in front of
	// the API. Requests still name api-<fqdn> as their Host.
	FieldBaseURL = "base_url"
)

// PublicFields are the credential fields that are not secret: they may
// appear in logs and check reports.
func PublicFields() []string {
	return []string{FieldFQDN, FieldAPIKeyID, FieldSecurityLevel, FieldBaseURL}
}

// Environment variables of the seed wodle (run.sh and its .secrets file).
// On a host, credentials resolve as the seed resolved them:
// $CREDENTIALS_DIRECTORY/<lower-case name> > secrets file > environment.
const (
	EnvFQDN          = "XDR_FQDN"
	EnvAPIKeyID      = "XDR_API_KEY_ID"
	EnvAPIKey        = "XDR_API_KEY"
	EnvSecurityLevel = "XDR_SECURITY_LEVEL"
	// EnvBaseURL is ours (the seed always used https://api-<fqdn>).
	EnvBaseURL       = "XDR_BASE_URL"
	EnvStateFile     = "XDR_STATE_FILE"
	EnvSecretsFile   = "XDR_SECRETS_FILE"
	EnvLookbackHours = "XDR_LOOKBACK_HOURS"
	// EnvTenantsFile names a multi-tenant file (shared/tenantsfile); the seed
	// had none (one directory per tenant).
	EnvTenantsFile = "XDR_TENANTS_FILE"
)

// Seed defaults.
const (
	DefaultStateFile   = "/var/ossec/wodles/cortex-xdr/state.json"
	DefaultSecretsFile = "/var/ossec/wodles/cortex-xdr/.secrets"
	DefaultLookback    = 24 * time.Hour
)

// HostVars maps credential fields to the seed's variable names, for
// secrets.Host.
func HostVars() map[string]string {
	return map[string]string{
		FieldFQDN:          EnvFQDN,
		FieldAPIKeyID:      EnvAPIKeyID,
		FieldAPIKey:        EnvAPIKey,
		FieldSecurityLevel: EnvSecurityLevel,
		FieldBaseURL:       EnvBaseURL,
	}
}

// Security levels of an API key.
const (
	SecurityAdvanced = "advanced"
	SecurityStandard = "standard"
)

// Limits of the API (docs/cortexxdr.md).
const (
	// MaxPageSize is the most records one request returns.
	MaxPageSize = 100
	// ResultCap is where total_count stops counting: a query matching more
	// reports 9 999, and its records past that offset may not be reachable.
	ResultCap = 9999
	// TenantRequestsPerSecond is the tenant-wide limit, shared by every
	// key and every tool using the tenant.
	TenantRequestsPerSecond = 10
	// DefaultRequestsPerSecond leaves most of the tenant's budget to other
	// integrations, as mature collectors do.
	DefaultRequestsPerSecond = 4
)

// Config configures a tenant's collector. Zero values take the defaults.
type Config struct {
	// BaseURL replaces https://api-<fqdn> (tests and the demo; plain http
	// only to loopback). Requests still name api-<fqdn> as their Host.
	BaseURL string
	// Lookback is where a stream with no position starts (default 24 h).
	Lookback time.Duration
	// Lag keeps every window's upper bound this far behind the API's
	// clock, so that what the API inserted up to it is visible and
	// enriched before it is read (default 2 min).
	Lag time.Duration
	// AdoptOverlap is how far before the seed wodle's cursor an adopted
	// stream starts (default 1 h); see Legacy.
	AdoptOverlap time.Duration
	// WindowMax is the most alerts one frozen window may hold (default
	// 1000, at most 9 998): larger windows are split, so a window always
	// stays below the API's 9 999 cap and its alert ids fit the pipeline's
	// dedup set.
	WindowMax int
	// PageSize is the number of records per request (1–100, default 100).
	PageSize int
	// RequestsPerSecond paces the requests of every stream of this tenant
	// together (default 4; negative: unpaced). The API allows 10 per
	// second per tenant, for all tools together.
	RequestsPerSecond float64
	// RetryPause is the pause of the whole tenant before a retried request
	// (after a throttle, a 5xx or a network failure), doubling up to
	// MaxRetryPause while failures continue (defaults 1 s and 30 s).
	RetryPause, MaxRetryPause time.Duration
	// HTTP is the vendor client; it should carry no limiter of its own
	// (pacing is the collector's), and its retries are signed afresh.
	HTTP   *httpx.Client
	Logger *slog.Logger
	Now    func() time.Time
	// Sleep waits d or until ctx ends (default: a timer). Tests pass a
	// simulated clock's sleep so that pacing costs no real time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Where says where a credential field comes from in this deployment,
	// for error messages (default: the seed's variable names).
	Where func(field string) string
}

func (c *Config) defaults() error {
	if c.Lookback == 0 {
		c.Lookback = DefaultLookback
	}
	if c.Lookback < 0 {
		return fmt.Errorf("cortexxdr: lookback %v must be positive", c.Lookback)
	}
	if c.Lag == 0 {
		c.Lag = 2 * time.Minute
	}
	if c.Lag < 0 {
		return fmt.Errorf("cortexxdr: lag %v must be positive", c.Lag)
	}
	if c.AdoptOverlap == 0 {
		c.AdoptOverlap = time.Hour
	}
	if c.AdoptOverlap < 0 {
		return fmt.Errorf("cortexxdr: adopt overlap %v must be positive", c.AdoptOverlap)
	}
	if c.WindowMax == 0 {
		c.WindowMax = 1000
	}
	if c.PageSize == 0 {
		c.PageSize = MaxPageSize
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		return fmt.Errorf("cortexxdr: page size %d is outside 1–%d", c.PageSize, MaxPageSize)
	}
	if c.WindowMax < c.PageSize || c.WindowMax >= ResultCap {
		return fmt.Errorf("cortexxdr: window size %d is outside %d–%d", c.WindowMax, c.PageSize, ResultCap-1)
	}
	if c.RequestsPerSecond == 0 {
		c.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if c.RequestsPerSecond > TenantRequestsPerSecond {
		return fmt.Errorf("cortexxdr: %v requests per second exceeds the tenant's limit of %d", c.RequestsPerSecond, TenantRequestsPerSecond)
	}
	if c.RetryPause == 0 {
		c.RetryPause = time.Second
	}
	if c.MaxRetryPause == 0 {
		c.MaxRetryPause = 30 * time.Second
	}
	if c.RetryPause < 0 || c.MaxRetryPause < c.RetryPause {
		return errors.New("cortexxdr: retry pauses must be positive and the maximum at least the first")
	}
	if c.HTTP == nil {
		return errors.New("cortexxdr: no HTTP client")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	return nil
}

// sleep waits d, or until ctx ends (returning its error). It waits until
// a deadline rather than refusing early, so the pipeline tells a run that
// ran out of time from a failing one.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Collector talks to one tenant's API. Its streams share one pacer.
type Collector struct {
	cfg    Config
	tenant string
	creds  secrets.Source
	pacer  *pacer
	// skew is the API clock minus ours, in nanoseconds, as the last
	// response's Date header told against the time of its exchange (0
	// when within that exchange and the header's precision; learnSkew).
	skew atomic.Int64
}

// New returns a collector for one tenant whose credentials come from creds
// (fields fqdn, api_key_id, api_key, and optionally security_level).
func New(cfg Config, tenant string, creds secrets.Source) (*Collector, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, tenant: tenant, creds: creds, pacer: newPacer(cfg)}, nil
}

// Tenant is the tenant name.
func (c *Collector) Tenant() string { return c.tenant }

// creds are a tenant's resolved credentials.
type creds struct {
	fqdn     string
	keyID    string
	key      string
	advanced bool
	baseURL  string // "": https://api-<fqdn>
}

func (cr creds) level() string {
	if cr.advanced {
		return SecurityAdvanced
	}
	return SecurityStandard
}

func (c *Collector) credentials(ctx context.Context) (creds, error) {
	raw, err := c.creds.Get(ctx)
	if err != nil {
		return creds{}, &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "cannot read the Cortex XDR credentials", Err: err}
	}
	return parseCredentials(raw, c.cfg.Where)
}

// parseCredentials checks a credential set the way the seed did: the FQDN
// is normalised (NormaliseFQDN) and must look like a host name, the key id
// must be a number, the security level is advanced (the default) or
// standard. Errors name fields and variables, never values.
func parseCredentials(raw secrets.Credentials, where func(string) string) (creds, error) {
	if err := raw.Require(FieldFQDN, FieldAPIKeyID, FieldAPIKey); err != nil {
		detail := "XDR_FQDN, XDR_API_KEY_ID, XDR_API_KEY / secrets file / systemd credentials (xdr_fqdn, xdr_api_key_id, xdr_api_key)"
		if where != nil {
			var missing []string
			for _, f := range []string{FieldFQDN, FieldAPIKeyID, FieldAPIKey} {
				if raw[f] == "" {
					missing = append(missing, where(f))
				}
			}
			detail = strings.Join(missing, "; ")
		}
		return creds{}, &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "missing required Cortex XDR credentials", Detail: detail, Err: err}
	}
	fqdn, err := NormaliseFQDN(raw[FieldFQDN])
	if err != nil {
		return creds{}, &pipeline.Error{Code: pipeline.CodeConfig, Message: "XDR_FQDN is not a valid tenant host name", Detail: "set it to the tenant host, e.g. acme.xdr.us.paloaltonetworks.com", Err: err}
	}
	id := strings.TrimSpace(raw[FieldAPIKeyID])
	if !isDigits(id) {
		return creds{}, &pipeline.Error{Code: pipeline.CodeConfig, Message: "XDR_API_KEY_ID must be the key's numeric ID (the ID column of the API Keys page)"}
	}
	cr := creds{fqdn: fqdn, keyID: id, key: strings.TrimSpace(raw[FieldAPIKey]), advanced: true, baseURL: strings.TrimSpace(raw[FieldBaseURL])}
	switch strings.ToLower(strings.TrimSpace(raw[FieldSecurityLevel])) {
	case "", SecurityAdvanced:
	case SecurityStandard:
		cr.advanced = false
	default:
		return creds{}, &pipeline.Error{Code: pipeline.CodeConfig, Message: "XDR_SECURITY_LEVEL must be advanced or standard"}
	}
	return cr, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// dottedHost reports whether s is two or more labels of ASCII letters,
// digits and inner hyphens, joined by dots. (Not a package-level regular
// expression: its compilation ran in every localrun process, whatever the
// vendor.)
func dottedHost(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// NormaliseFQDN turns what an operator pastes into the bare tenant host,
// as the seed did: surrounding space, an http(s):// scheme, the "api-"
// prefix, any path and port are removed ("https://api-acme.xdr.eu.
// paloaltonetworks.com/" → "acme.xdr.eu.paloaltonetworks.com"). The
// result must be a dotted host name.
func NormaliseFQDN(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if i := strings.Index(s, "://"); i >= 0 {
		scheme := strings.ToLower(s[:i])
		if scheme != "http" && scheme != "https" {
			return "", fmt.Errorf("unsupported scheme %q", scheme)
		}
		s = s[i+3:]
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "api-") {
		s = s[4:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 || !dottedHost(s) {
		return "", errors.New("not a dotted host name")
	}
	return strings.ToLower(s), nil
}

// apiURL is the tenant's API base URL for these credentials.
func (c *Collector) apiURL(cr creds) (string, error) {
	base := c.cfg.BaseURL
	if base == "" {
		base = cr.baseURL
	}
	if base == "" {
		base = "https://api-" + cr.fqdn
	}
	u, err := httpx.CheckURL(base)
	if err != nil {
		return "", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid Cortex XDR API URL", Err: err}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// serverNow is the API's clock as far as we know it: ours, moved back when
// the API's Date header says ours runs ahead. Windows end before it, so a
// fast local clock cannot push the cursor past alerts not yet inserted.
func (c *Collector) serverNow() time.Time {
	now := c.cfg.Now()
	if s := time.Duration(c.skew.Load()); s < 0 {
		now = now.Add(s)
	}
	return now
}

// ClockSkew is the API's clock minus ours, as the last response's Date
// header told (0 when the header's time, to its one-second precision,
// falls between the request's sending and the arrival of the answer's
// headers, or is under two seconds from them).
func (c *Collector) ClockSkew() time.Duration { return time.Duration(c.skew.Load()) }
