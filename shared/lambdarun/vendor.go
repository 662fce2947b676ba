package lambdarun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Vendor is everything lambdarun needs to know about one vendor's
// collector. A function's main package fills it in and calls Main.
type Vendor struct {
	// Name is the vendor part of state keys, secret ids and metric
	// dimensions ("1password", "proofpoint", "cortex_xdr").
	Name string
	// Envelope wraps every event line.
	Envelope event.Envelope
	// Streams lists the stream names an invocation may ask for.
	Streams []string
	// EpochMillis names vendor fields holding epoch milliseconds.
	EpochMillis []string
	// RequestsPerMinute is the sustained request rate the vendor allows
	// per credential (the lower of its per-minute limit and its hourly
	// limit / 60). The streams of a tenant share one credential but run as
	// separate, concurrent invocations, so each invocation is paced at
	// RequestsPerMinute / len(Streams) unless WAZUH_PULL_RATE_LIMIT says
	// otherwise. 0 means the vendor has no documented limit.
	RequestsPerMinute float64
	// CredentialEnv lists the host deployment's credential variables
	// (OP_BEARER_TOKEN, …). They are refused in Lambda, where credentials
	// come from Secrets Manager only.
	CredentialEnv []string
	// PublicFields names fields of the vendor's secret that are not secret
	// (e.g. "base_url"): they are not masked in logs.
	PublicFields []string
	// UserAgent is sent to the vendor API.
	UserAgent string
	// Setup reads the vendor's own settings from env once per execution
	// environment (init phase; it must not do network I/O) and returns the
	// source constructor. Problems are recorded with env.Fail; Setup need
	// not return them.
	Setup func(env *Env) (NewSourceFunc, error)
}

// NewSourceFunc builds the pipeline source of one stream of one tenant.
// It is called once per invocation; it must not block on the network
// (sources read credentials and positions in Start and Fetch).
type NewSourceFunc func(ctx context.Context, p SourceParams) (pipeline.Source, error)

// SourceParams is what an invocation hands the vendor's constructor.
type SourceParams struct {
	Tenant string
	Stream string
	// Credentials is the tenant's Secrets Manager secret, cached across
	// warm invocations; collectors call Invalidate after a 401.
	Credentials secrets.Source
	// HTTP is the tenant's vendor client, kept across warm invocations so
	// that connections are reused; its limiter paces this invocation's
	// share of the tenant's rate limit.
	HTTP   *httpx.Client
	Logger *slog.Logger
}

func (v *Vendor) validate() error {
	var errs []error
	if err := state.ValidateName(v.Name); err != nil {
		errs = append(errs, fmt.Errorf("vendor name: %w", err))
	}
	if v.Envelope.Integration == "" || v.Envelope.Namespace == "" {
		errs = append(errs, errors.New("vendor envelope needs an integration and a namespace"))
	}
	if len(v.Streams) == 0 {
		errs = append(errs, errors.New("vendor has no streams"))
	}
	for _, s := range v.Streams {
		if err := state.ValidateName(s); err != nil {
			errs = append(errs, fmt.Errorf("vendor stream: %w", err))
		}
	}
	if v.RequestsPerMinute < 0 {
		errs = append(errs, errors.New("vendor RequestsPerMinute is negative"))
	}
	if v.Setup == nil {
		errs = append(errs, errors.New("vendor has no Setup"))
	}
	return errors.Join(errs...)
}

func (v *Vendor) hasStream(name string) bool {
	for _, s := range v.Streams {
		if s == name {
			return true
		}
	}
	return false
}
