// Package proofpoint collects Proofpoint TAP into the shared pipeline: the
// SIEM API (messages delivered and blocked, clicks permitted and blocked,
// one request for all four) and the People API (Very Attacked People, top
// clickers) on its own cadence.
//
// TAP has no cursor and no unique event key, serves each event in the
// window of the time it was created but only once indexed (up to about 30
// minutes later), keeps 7 days, and counts requests in rolling 24-hour
// pools. The SIEM stream therefore walks windows of at most an hour and
// moves its start only past what was read after it had time to settle,
// re-reading the most recent part (the overlap) on every run; a hash of each
// event's canonical content suppresses what was already delivered. Every
// request is counted in the stream's own cursor record, so a run stops
// before the pool is used up. docs/proofpoint.md has the API facts this
// relies on; README.md in this directory has the algorithm and its
// guarantees.
package proofpoint

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Vendor is the vendor part of state keys and secret ids.
const Vendor = "proofpoint"

// Envelope returns the seed's event envelope:
// {"integration":"proofpoint","pp":{"event_type":…}}. Error and run
// summary events name their stream in "error_source", the framework's
// convention the seed followed.
func Envelope() event.Envelope {
	return event.Envelope{Integration: "proofpoint", Namespace: "pp", SourceKey: "error_source"}
}

// DefaultBaseURL is TAP's single documented host.
const DefaultBaseURL = "https://tap-api-v2.proofpoint.com"

// Stream names, used for --source, state keys and error_source.
const (
	StreamSIEM   = "siem"
	StreamPeople = "people"
)

// Event types (event_type). The SIEM types are TAP's array names.
const (
	TypeMessagesDelivered = "messagesDelivered"
	TypeMessagesBlocked   = "messagesBlocked"
	TypeClicksPermitted   = "clicksPermitted"
	TypeClicksBlocked     = "clicksBlocked"
	TypeVAP               = "vap"
	TypeTopClicker        = "top_clicker"
)

// StreamDef describes one stream.
type StreamDef struct {
	Name       string
	EventTypes []string
	// LegacyKey is the seed wodle's state key holding this stream's
	// position ("<tenant>." prefixed in multi-tenant mode); its value is
	// adopted when the stream has no record of ours yet.
	LegacyKey string
}

// Streams returns the two streams in the seed's order.
func Streams() []StreamDef {
	return []StreamDef{
		{Name: StreamSIEM, EventTypes: []string{TypeMessagesDelivered, TypeMessagesBlocked, TypeClicksPermitted, TypeClicksBlocked}, LegacyKey: "siem_cursor"},
		{Name: StreamPeople, EventTypes: []string{TypeVAP, TypeTopClicker}, LegacyKey: "people_last_fetch"},
	}
}

// StreamName names the stream (spec.NamedStream).
func (s StreamDef) StreamName() string { return s.Name }

// StreamNames returns the stream names in the seed's order.
func StreamNames() []string { return spec.StreamNames(Streams()) }

// StreamByName finds a stream definition.
func StreamByName(name string) (StreamDef, bool) { return spec.FindStream(Streams(), name) }

// Fields of a Proofpoint credential (the Secrets Manager JSON).
const (
	FieldPrincipal = "principal"
	FieldSecret    = "secret"
	// FieldBaseURL is optional and not secret.
	FieldBaseURL = "base_url"
)

// Environment variables of the host deployment (seed names where the seed
// had them).
const (
	EnvPrincipal      = "PP_PRINCIPAL"
	EnvSecret         = "PP_SECRET"
	EnvBaseURL        = "PP_BASE_URL"
	EnvStateFile      = "PP_STATE_FILE"
	EnvSecretsFile    = "PP_SECRETS_FILE"
	EnvTokensFile     = "PP_TOKENS_FILE"
	EnvSource         = "PP_SOURCE"
	EnvDebug          = "PP_DEBUG"
	EnvLookbackHours  = "PP_LOOKBACK_HOURS"
	EnvPeopleInterval = "PP_PEOPLE_INTERVAL" // seconds, as in the seed
	EnvPeopleWindow   = "PP_PEOPLE_WINDOW"
	EnvOverlapMinutes = "PP_OVERLAP_MINUTES"
	EnvSafetyLag      = "PP_SAFETY_LAG_SECONDS"
	EnvDailyRequests  = "PP_SIEM_DAILY_REQUESTS"
	EnvBudgetReserve  = "PP_BUDGET_RESERVE"
	EnvCABundle       = "PP_CA_BUNDLE"
)

// CredentialVars maps credential fields to their host variables (systemd
// credential names are these in lower case: pp_principal, pp_secret).
func CredentialVars() map[string]string {
	return map[string]string{FieldPrincipal: EnvPrincipal, FieldSecret: EnvSecret}
}

// Default host paths, the seed's layout.
const (
	DefaultStateFile   = "/var/ossec/wodles/proofpoint/state.json"
	DefaultSecretsFile = "/var/ossec/wodles/proofpoint/.secrets"
)

// Limits of the API (docs/proofpoint.md).
const (
	// MaxWindow and MinWindow bound one SIEM request's interval.
	MaxWindow = time.Hour
	MinWindow = 30 * time.Second
	// MaxAge is how far back a window may start.
	MaxAge = 7 * 24 * time.Hour
	// SIEMRequestsPerDay is each SIEM pool's rolling 24-hour limit.
	SIEMRequestsPerDay = 1800
	// PeopleRequestsPerDay is each People endpoint's rolling 24-hour limit.
	PeopleRequestsPerDay = 50
)

// Defaults of Config.
const (
	DefaultLookback       = 24 * time.Hour
	DefaultOverlap        = 30 * time.Minute
	DefaultSafetyLag      = 2 * time.Minute
	DefaultWindow         = 59 * time.Minute
	DefaultWindowEvents   = 20000
	DefaultPageEvents     = 2000
	DefaultPeopleInterval = 24 * time.Hour
	DefaultPeopleWindow   = 14
	DefaultPeoplePageSize = 1000
	// TopClickersMaxPageSize is the largest page /v2/people/top-clickers
	// documents (its default is 100); VAP pages have no documented
	// maximum beyond their default of 1 000.
	TopClickersMaxPageSize = 200
	DefaultBudgetReserve   = 100
	DefaultPeopleReserve   = 5
	// ageMargin keeps a window's start this far inside the 7-day limit, so
	// clock skew and retries never make TAP refuse it.
	ageMargin = 5 * time.Minute
)

// Config configures a tenant's collector. Zero values take the defaults.
type Config struct {
	// BaseURL overrides the host; empty: the credential's base_url, else
	// DefaultBaseURL.
	BaseURL string
	// Lookback is where a stream without a position starts, and what
	// backfill reads (default 24 h, at most 7 days less a margin).
	Lookback time.Duration
	// Overlap is how much of what was read less than this long after it
	// happened is read again, for events TAP indexes late (default 30 min).
	Overlap time.Duration
	// SafetyLag keeps a window's end this far behind now (default 2 min).
	SafetyLag time.Duration
	// Window is the longest window asked for (default 59 min, at most 1 h).
	Window time.Duration
	// WindowEvents is how many events one window should hold at most: a
	// busier window makes the next ones shorter (default 20 000).
	WindowEvents int
	// PageEvents bounds the events of one pipeline page; a larger response
	// is delivered as several pages (default 2 000).
	PageEvents int
	// PeopleInterval is how often the People stream takes a snapshot
	// (default 24 h).
	PeopleInterval time.Duration
	// PeopleWindow is the People API's window in days: 14, 30 or 90
	// (default 14).
	PeopleWindow int
	// PeoplePageSize is the People API's page size (default 1 000; top
	// clickers are asked for at most TopClickersMaxPageSize a page).
	PeoplePageSize int
	// SIEMRequestsPerDay and PeopleRequestsPerDay are the pool sizes
	// (defaults: the documented 1 800 and 50).
	SIEMRequestsPerDay, PeopleRequestsPerDay int
	// BudgetReserve and PeopleReserve are requests of each pool left
	// unused for other clients, `localrun check` and requests whose count
	// could not be saved (defaults 100 and 5).
	BudgetReserve, PeopleReserve int

	// HTTP is the tenant's client.
	HTTP   *httpx.Client
	Logger *slog.Logger
	Now    func() time.Time
	// Where names where a credential field comes from in this deployment,
	// for error messages (default: the host's variable names).
	Where func(field string) string
}

func (c *Config) defaults() error {
	var errs []error
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Lookback, DefaultLookback)
	def(&c.Overlap, DefaultOverlap)
	def(&c.SafetyLag, DefaultSafetyLag)
	def(&c.Window, DefaultWindow)
	def(&c.PeopleInterval, DefaultPeopleInterval)
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	defInt(&c.WindowEvents, DefaultWindowEvents)
	defInt(&c.PageEvents, DefaultPageEvents)
	defInt(&c.PeopleWindow, DefaultPeopleWindow)
	defInt(&c.PeoplePageSize, DefaultPeoplePageSize)
	defInt(&c.SIEMRequestsPerDay, SIEMRequestsPerDay)
	defInt(&c.PeopleRequestsPerDay, PeopleRequestsPerDay)
	defInt(&c.BudgetReserve, DefaultBudgetReserve)
	defInt(&c.PeopleReserve, DefaultPeopleReserve)
	if c.Lookback < 0 {
		errs = append(errs, fmt.Errorf("lookback %v must be positive", c.Lookback))
	}
	if c.Overlap < 0 || c.Overlap > 24*time.Hour {
		errs = append(errs, fmt.Errorf("overlap %v must be between 0 and 24 h", c.Overlap))
	}
	if c.SafetyLag < 0 || c.SafetyLag > time.Hour {
		errs = append(errs, fmt.Errorf("safety lag %v must be between 0 and 1 h", c.SafetyLag))
	}
	if c.Window < MinWindow || c.Window > MaxWindow {
		errs = append(errs, fmt.Errorf("window %v must be between %v and %v", c.Window, MinWindow, MaxWindow))
	}
	if c.WindowEvents < 1 || c.PageEvents < 1 {
		errs = append(errs, errors.New("window and page event counts must be positive"))
	}
	if c.PeopleInterval < 0 {
		errs = append(errs, fmt.Errorf("people interval %v must be positive", c.PeopleInterval))
	}
	if c.PeopleWindow != 14 && c.PeopleWindow != 30 && c.PeopleWindow != 90 {
		errs = append(errs, fmt.Errorf("people window %d must be 14, 30 or 90 days", c.PeopleWindow))
	}
	if c.PeoplePageSize < 1 || c.PeoplePageSize > 1000 {
		errs = append(errs, fmt.Errorf("people page size %d must be 1-1000", c.PeoplePageSize))
	}
	if c.SIEMRequestsPerDay < 1 || c.PeopleRequestsPerDay < 1 {
		errs = append(errs, errors.New("daily request limits must be positive"))
	}
	if c.BudgetReserve < 0 || c.BudgetReserve >= c.SIEMRequestsPerDay {
		errs = append(errs, fmt.Errorf("budget reserve %d must be 0 to %d", c.BudgetReserve, c.SIEMRequestsPerDay-1))
	}
	if c.PeopleReserve < 0 || c.PeopleReserve >= c.PeopleRequestsPerDay {
		errs = append(errs, fmt.Errorf("people reserve %d must be 0 to %d", c.PeopleReserve, c.PeopleRequestsPerDay-1))
	}
	if c.HTTP == nil {
		errs = append(errs, errors.New("no HTTP client"))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Where == nil {
		c.Where = func(field string) string {
			if v, ok := CredentialVars()[field]; ok {
				return v
			}
			return field
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("proofpoint: %w", err)
	}
	return nil
}

// Collector talks to TAP for one tenant.
type Collector struct {
	cfg    Config
	tenant string
	creds  secrets.Source
}

// New returns a collector for one tenant whose credentials come from creds
// (fields principal, secret and optionally base_url).
func New(cfg Config, tenant string, creds secrets.Source) (*Collector, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if creds == nil {
		return nil, errors.New("proofpoint: no credential source")
	}
	return &Collector{cfg: cfg, tenant: tenant, creds: creds}, nil
}

// Tenant is the tenant name.
func (c *Collector) Tenant() string { return c.tenant }

// Config returns the collector's settings, defaults applied.
func (c *Collector) Config() Config { return c.cfg }

// BaseURL resolves the API host for the current credentials.
func (c *Collector) BaseURL(ctx context.Context) (string, error) {
	cr, err := c.credentials(ctx)
	if err != nil {
		return "", err
	}
	return c.baseURL(cr)
}

func (c *Collector) baseURL(cr secrets.Credentials) (string, error) {
	base := c.cfg.BaseURL
	if base == "" {
		base = cr[FieldBaseURL]
	}
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := httpx.CheckURL(base)
	if err != nil {
		return "", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid Proofpoint base URL", Err: err}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (c *Collector) credentials(ctx context.Context) (secrets.Credentials, error) {
	cr, err := c.creds.Get(ctx)
	if err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "cannot read the Proofpoint credentials", Err: err}
	}
	if err := cr.Require(FieldPrincipal, FieldSecret); err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "missing required Proofpoint service principal or secret", Detail: c.cfg.Where(FieldPrincipal) + "; " + c.cfg.Where(FieldSecret), Err: err}
	}
	// The Basic header is a value of its own: register it so that an
	// echoed header is masked too.
	c.cfg.HTTP.Redactor().AddBasic(cr[FieldPrincipal], cr[FieldSecret])
	return cr, nil
}

func basicAuth(cr secrets.Credentials) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(cr[FieldPrincipal]+":"+cr[FieldSecret]))
}

// get sends one GET with Basic authentication. onAttempt is called before
// every attempt (see httpx.Request.OnAttempt). On 401 it re-reads the
// credentials once, in case the secret was rotated, and asks again if they
// changed.
func (c *Collector) get(ctx context.Context, path string, q url.Values, onAttempt func(prev error) error, buf []byte) (*httpx.Response, error) {
	cr, err := c.credentials(ctx)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		base, err := c.baseURL(cr)
		if err != nil {
			return nil, err
		}
		resp, err := c.cfg.HTTP.Do(ctx, &httpx.Request{
			Method:    http.MethodGet,
			URL:       base + path + "?" + q.Encode(),
			Header:    http.Header{"Authorization": {basicAuth(cr)}, "Accept": {"application/json"}},
			Buf:       buf,
			OnAttempt: onAttempt,
		})
		var se *httpx.StatusError
		if try == 0 && errors.As(err, &se) && se.Status == http.StatusUnauthorized {
			c.creds.Invalidate()
			fresh, ferr := c.credentials(ctx)
			if ferr == nil && (fresh[FieldPrincipal] != cr[FieldPrincipal] || fresh[FieldSecret] != cr[FieldSecret]) {
				c.cfg.Logger.Info("Proofpoint answered 401; retrying with re-read credentials", "tenant", c.tenant)
				cr = fresh
				continue
			}
		}
		return resp, err
	}
}

// httpMessage is the operator-facing message of a failed call.
func (c *Collector) httpMessage(err error) string {
	var se *httpx.StatusError
	if errors.As(err, &se) && se.Status == http.StatusForbidden {
		return "Proofpoint TAP refused access — the credential is valid but not allowed to read this customer's data"
	}
	switch pipeline.CodeOf(err) {
	case pipeline.CodeHTTP400:
		return "Proofpoint TAP refused the request parameters"
	case pipeline.CodeHTTP401:
		return "Authentication failed — verify the TAP service principal and secret: " + c.cfg.Where(FieldPrincipal) + "; " + c.cfg.Where(FieldSecret)
	case pipeline.CodeHTTP429:
		return "Proofpoint TAP request limit reached (rolling 24 hours) — collection resumes when the pool refills"
	case pipeline.CodeHTTP500:
		return "Proofpoint TAP returned a server error (or could not assemble the results in time)"
	case pipeline.CodeTimeout:
		return "Proofpoint TAP request timed out"
	case pipeline.CodeConnection:
		return "Proofpoint TAP unreachable — verify network connectivity"
	}
	return "Proofpoint TAP returned an unexpected response"
}

// isStatus reports whether err is an HTTP answer with this status.
func isStatus(err error, status int) (*httpx.StatusError, bool) {
	var se *httpx.StatusError
	if errors.As(err, &se) && se.Status == status {
		return se, true
	}
	return nil, false
}
