// Package onepassword collects the 1Password Events API v2 (audit events,
// sign-in attempts, item usage) into the shared pipeline.
//
// Position is the API's opaque cursor, persisted after every delivered page
// and reused even when has_more is false, so events that arrive late are
// still collected. Only when the API refuses a stored cursor does the
// collector restart from timestamps: from the newest delivered event minus
// an overlap, with the delivered uuids of that window suppressed.
package onepassword

import (
	"context"
	"encoding/base64"
	"encoding/json"
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

// Vendor is the vendor part of state keys.
const Vendor = "1password"

// Envelope returns the seed wodle's event envelope.
func Envelope() event.Envelope { return event.Envelope{Integration: "1password", Namespace: "op"} }

// DefaultBaseURL is the Business (1password.com) events host.
const DefaultBaseURL = "https://events.1password.com"

// KnownHosts are 1Password's documented events hosts.
func KnownHosts() []string {
	return []string{"events.1password.com", "events.ent.1password.com", "events.1password.ca", "events.1password.eu"}
}

// StreamDef describes one 1Password event stream.
type StreamDef struct {
	Name      string // seed stream name: audit, signin, itemusage
	Help      string
	Path      string
	EventType string
	Feature   string // introspect feature that grants it
}

// Streams returns the three streams in the seed's order.
func Streams() []StreamDef {
	return []StreamDef{
		{Name: "audit", Help: "audit events: actions of team members and administrators", Path: "/api/v2/auditevents", EventType: "audit_event", Feature: "auditevents"},
		{Name: "signin", Help: "sign-in attempts, successful and failed", Path: "/api/v2/signinattempts", EventType: "signin_attempt", Feature: "signinattempts"},
		{Name: "itemusage", Help: "item usage in shared vaults", Path: "/api/v2/itemusages", EventType: "item_usage", Feature: "itemusages"},
	}
}

// StreamName names the stream (spec.NamedStream).
func (s StreamDef) StreamName() string { return s.Name }

// StreamNames returns the stream names in the seed's order.
func StreamNames() []string { return spec.StreamNames(Streams()) }

// StreamByName finds a stream definition.
func StreamByName(name string) (StreamDef, bool) { return spec.FindStream(Streams(), name) }

// Credential fields of a 1Password secret.
const (
	FieldBearerToken = "bearer_token"
	FieldBaseURL     = "base_url"
)

// Limits of the API.
const (
	MaxPageLimit = 1000
	// MaxResponseBytes bounds one response body. A page holds at most
	// MaxPageLimit events; the documented events and the simulator's
	// average about 0.8 KiB (a 1000-event page is under 1 MB), and the
	// largest seen are a few KiB. 8 KiB per event, ten times the average,
	// gives 8 MiB: a real page never comes near it, while an endless or
	// hostile body fails with API_RESPONSE_TOO_LARGE after about 36 MB of
	// peak memory instead of exhausting a 256 MB Lambda.
	MaxResponseBytes = MaxPageLimit * (8 << 10)
	// MaxLookback is the history the API keeps (120 days), less a day of
	// margin so that a start time is never refused for being too old.
	MaxLookback = 119 * 24 * time.Hour
	// RequestsPerHour and RequestsPerMinute are the documented rate limits.
	RequestsPerHour   = 30000
	RequestsPerMinute = 600
)

// Config configures a tenant's collector.
type Config struct {
	// BaseURL overrides the events host. Empty: the credential's base_url,
	// else the host named in the token's audience, else DefaultBaseURL.
	BaseURL string
	// PageLimit is the page size of new cursors (1–1000, default 1000).
	PageLimit int
	// Lookback is how far back a stream with no cursor starts (default 24 h).
	Lookback time.Duration
	// Overlap is how far before the newest delivered event a refused
	// cursor restarts (default 5 min).
	Overlap time.Duration
	// HTTP is the tenant's client (its limiter paces this token).
	HTTP   *httpx.Client
	Logger *slog.Logger
	Now    func() time.Time
	// Where names where a credential field comes from in this deployment,
	// for error messages (default: the host's variable names).
	Where func(field string) string
}

func (c *Config) defaults() error {
	if c.PageLimit == 0 {
		c.PageLimit = MaxPageLimit
	}
	if c.PageLimit < 1 || c.PageLimit > MaxPageLimit {
		return fmt.Errorf("onepassword: page limit %d is outside 1–%d", c.PageLimit, MaxPageLimit)
	}
	if c.Lookback == 0 {
		c.Lookback = 24 * time.Hour
	}
	if c.Lookback < 0 {
		return fmt.Errorf("onepassword: lookback %v must be positive", c.Lookback)
	}
	if c.Overlap == 0 {
		c.Overlap = 5 * time.Minute
	}
	if c.HTTP == nil {
		return errors.New("onepassword: no HTTP client")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Where == nil {
		c.Where = func(field string) string {
			if field == FieldBearerToken {
				return "OP_BEARER_TOKEN"
			}
			return field
		}
	}
	return nil
}

// Collector talks to the Events API for one tenant.
type Collector struct {
	cfg    Config
	tenant string
	creds  secrets.Source
}

// New returns a collector for one tenant whose credentials come from creds
// (fields bearer_token and optionally base_url).
func New(cfg Config, tenant string, creds secrets.Source) (*Collector, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, tenant: tenant, creds: creds}, nil
}

// Tenant is the tenant name.
func (c *Collector) Tenant() string { return c.tenant }

// BaseURL resolves the events host for the current credentials.
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
		base = AudienceURL(cr[FieldBearerToken])
	}
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := httpx.CheckURL(base)
	if err != nil {
		return "", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid 1Password base URL", Err: err}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// AudienceURL returns https://<host> when the token's (unverified) JWT
// audience names a known 1Password events host, as 1Password's own
// collectors do; "" otherwise. Very old tokens carry no host.
func AudienceURL(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	var auds []string
	if json.Unmarshal(claims.Aud, &auds) != nil {
		var one string
		if json.Unmarshal(claims.Aud, &one) != nil {
			return ""
		}
		auds = []string{one}
	}
	for _, a := range auds {
		host := a
		if u, err := url.Parse(a); err == nil && u.Host != "" {
			host = u.Host
		}
		for _, known := range KnownHosts() {
			if strings.EqualFold(host, known) {
				return "https://" + known
			}
		}
	}
	return ""
}

func (c *Collector) credentials(ctx context.Context) (secrets.Credentials, error) {
	cr, err := c.creds.Get(ctx)
	if err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "cannot read the 1Password bearer token", Err: err}
	}
	if err := cr.Require(FieldBearerToken); err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeMissingCredential, Message: "missing required 1Password bearer token", Detail: c.cfg.Where(FieldBearerToken), Err: err}
	}
	return cr, nil
}

// call sends one request with the current token; on 401 it re-reads the
// credentials once, in case the secret was rotated, and retries if the
// token changed.
// pageSizeHint is what a page of limit events is expected to weigh: about
// 1 KiB an event (the documented events and the benchmarks' average under
// 0.8 KiB).
func pageSizeHint(limit int) int64 { return int64(limit) << 10 }

func (c *Collector) call(ctx context.Context, method, path string, body []byte, buf []byte) (*httpx.Response, error) {
	cr, err := c.credentials(ctx)
	if err != nil {
		return nil, err
	}
	var hint int64 // only pages (POST) are worth a buffer sized in advance
	if method == http.MethodPost {
		hint = pageSizeHint(c.cfg.PageLimit)
	}
	for try := 0; ; try++ {
		base, err := c.baseURL(cr)
		if err != nil {
			return nil, err
		}
		resp, err := c.cfg.HTTP.Do(ctx, &httpx.Request{
			Method:   method,
			URL:      base + path,
			Body:     body,
			Header:   http.Header{"Authorization": {"Bearer " + cr[FieldBearerToken]}, "Accept": {"application/json"}},
			Buf:      buf,
			MaxBody:  MaxResponseBytes,
			SizeHint: hint,
		})
		var se *httpx.StatusError
		if try == 0 && errors.As(err, &se) && se.Status == http.StatusUnauthorized {
			old := cr[FieldBearerToken]
			c.creds.Invalidate()
			fresh, ferr := c.credentials(ctx)
			if ferr == nil && fresh[FieldBearerToken] != old {
				c.cfg.Logger.Info("1Password answered 401; retrying with re-read credentials", "tenant", c.tenant)
				cr = fresh
				continue
			}
		}
		return resp, err
	}
}

// Introspect returns the features the token grants.
func (c *Collector) Introspect(ctx context.Context) ([]string, error) {
	resp, err := c.call(ctx, http.MethodGet, "/api/v2/auth/introspect", nil, nil)
	if err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeOf(err), Message: "introspect call failed — cannot validate bearer token", Detail: "endpoint=/api/v2/auth/introspect", Err: err}
	}
	var v struct {
		Features []string `json:"features"`
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		return nil, &pipeline.Error{Code: pipeline.CodeInvalidResponse, Message: "introspect response is not a JSON object", Detail: "endpoint=/api/v2/auth/introspect"}
	}
	return v.Features, nil
}
