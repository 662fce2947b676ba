package onepassword

import (
	"context"
	"fmt"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Setting names of the descriptor.
const settingPageLimit = "page-limit"

// Descriptor describes the 1Password collector to every deployment, with
// the seed wodle's names (OP_* variables, --source all, OP_TOKENS_FILE).
func Descriptor() spec.Descriptor {
	var streams []spec.Stream
	for _, s := range Streams() {
		streams = append(streams, spec.Stream{Name: s.Name, Help: s.Help})
	}
	return spec.Descriptor{
		Name:       Vendor,
		Command:    "onepassword",
		Title:      "1Password Events API v2",
		Envelope:   Envelope(),
		Streams:    streams,
		AllStreams: "all",
		EnvPrefix:  "OP",
		HostDir:    "onepassword",
		Credentials: []spec.Credential{
			{Field: FieldBearerToken, Env: "OP_BEARER_TOKEN", Required: true, Help: "Events Reporting bearer token (a JWT)"},
			{Field: FieldBaseURL, Env: "OP_BASE_URL", Public: true, Flag: "base-url",
				Help: "events host: https://events.1password.com, events.ent.1password.com, events.1password.ca or events.1password.eu (default: from the token's audience, else events.1password.com)"},
		},
		TenantsFileEnv: "OP_TOKENS_FILE",
		Lookback:       spec.Lookback{Default: 24 * time.Hour, Max: MaxLookback},
		Settings: []spec.Setting{{
			Name: settingPageLimit, Env: "OP_PAGE_LIMIT", Kind: spec.Int, Default: "1000", Min: 1, Max: MaxPageLimit, Lambda: true,
			Help: "events per request for new cursors (an existing cursor keeps its own)",
		}},
		// 600/min is allowed in bursts, but only 30 000/h (500/min) sustained.
		RequestsPerMinute: min(RequestsPerMinute, RequestsPerHour/60),
		// A host runs a tenant's streams one after another and stays a
		// little under the sustained limit, with room for a burst.
		HostRateLimit: 480,
		RateBurst:     100,
		New:           newTenantCollector,
	}
}

func newTenantCollector(p spec.Params) (spec.Collector, error) {
	c, err := New(Config{
		PageLimit: p.Settings.Int(settingPageLimit),
		Lookback:  p.Lookback,
		HTTP:      p.HTTP,
		Logger:    p.Logger,
		Now:       p.Now,
		Where:     p.Where,
	}, p.Tenant, p.Credentials)
	if err != nil {
		return nil, err
	}
	return adapter{c}, nil
}

// adapter serves the spec.Collector interface.
type adapter struct{ c *Collector }

func (a adapter) Source(stream string, opts spec.SourceOptions) (pipeline.Source, error) {
	def, ok := StreamByName(stream)
	if !ok {
		return nil, fmt.Errorf("onepassword: no stream %q", stream)
	}
	if opts.Backfill {
		return a.c.NewBackfill(def), nil
	}
	return a.c.NewSource(def, legacyPosition(opts.Legacy, stream, a.c.cfg.Logger)), nil
}

// Plan keeps the requested streams the token's features allow.
func (a adapter) Plan(ctx context.Context, streams []string) ([]string, error) {
	features, err := a.c.Introspect(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range streams {
		def, ok := StreamByName(name)
		if !ok {
			continue
		}
		for _, f := range features {
			if f == def.Feature {
				out = append(out, name)
				break
			}
		}
	}
	return out, nil
}

func (a adapter) Check(ctx context.Context, streams []string) spec.Report {
	var r spec.Report
	base, err := a.c.BaseURL(ctx)
	if err != nil {
		r.Err = err
		return r
	}
	r.Facts = append(r.Facts, spec.Fact{Name: "events API", Value: base})
	allowed, err := a.Plan(ctx, streams)
	if err != nil {
		r.Err = fmt.Errorf("introspect failed: %w", err)
		return r
	}
	for _, name := range streams {
		def, _ := StreamByName(name)
		st := spec.StreamStatus{Name: name, Detail: "token lacks feature " + def.Feature}
		for _, ok := range allowed {
			if ok == name {
				st.Runs, st.Detail = true, "will run"
			}
		}
		r.Streams = append(r.Streams, st)
	}
	return r
}

// legacyPosition finds the seed wodle's position of a stream in its state
// file ("audit_cursor", "audit_last_poll"; the host applies the seed's
// "<tenant>." prefix in multi-tenant mode).
func legacyPosition(l spec.Legacy, stream string, log interface {
	Warn(msg string, args ...any)
}) Legacy {
	var pos Legacy
	if l == nil {
		return pos
	}
	if v, ok := l.Value(stream + "_cursor"); ok {
		pos.Cursor = v
	}
	if v, ok := l.Value(stream + "_last_poll"); ok {
		if ts, err := time.Parse(time.RFC3339, v); err == nil {
			pos.LastPoll = ts
		} else {
			log.Warn("unreadable seed last_poll ignored", "key", stream+"_last_poll")
		}
	}
	return pos
}
