package cortexxdr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Setting names of the descriptor.
const (
	settingLag    = "lag"
	settingWindow = "window-size"
)

// MaxLookback bounds --lookback: the API documents no limit for these
// endpoints; the seed's own example backfills a year.
const MaxLookback = 400 * 24 * time.Hour

// Descriptor describes the Cortex XDR collector to every deployment, with
// the seed wodle's names (XDR_* variables, --source both, the
// cortex-xdr directory).
func Descriptor() spec.Descriptor {
	return spec.Descriptor{
		Name:     Vendor,
		Command:  "cortexxdr",
		Title:    "Cortex XDR public API",
		Envelope: Envelope(),
		Streams: []spec.Stream{
			{Name: StreamAlerts, Help: "alerts (get_alerts_multi_events v2), by the time Cortex XDR inserted them"},
			{Name: StreamIncidents, Help: "incidents (get_incidents), one event per change"},
		},
		AllStreams: "both",
		EnvPrefix:  "XDR",
		HostDir:    "cortex-xdr",
		Credentials: []spec.Credential{
			{Field: FieldFQDN, Env: EnvFQDN, Required: true, Public: true,
				Help: "tenant host, e.g. acme.xdr.us.paloaltonetworks.com (a scheme, the api- prefix, a port or a path are removed)"},
			{Field: FieldAPIKeyID, Env: EnvAPIKeyID, Required: true, Public: true, Help: "the API key's numeric ID"},
			{Field: FieldAPIKey, Env: EnvAPIKey, Required: true, Help: "the API key"},
			{Field: FieldSecurityLevel, Env: EnvSecurityLevel, Public: true, Default: SecurityAdvanced, Help: "the key's security level: advanced or standard"},
			{Field: FieldBaseURL, Env: EnvBaseURL, Public: true, Flag: "base-url",
				Help: "API base URL instead of https://api-<fqdn> (a reverse proxy, tests); requests still name api-<fqdn> as their host"},
		},
		TenantsFileEnv: EnvTenantsFile,
		Lookback:       spec.Lookback{Default: DefaultLookback, Max: MaxLookback},
		Settings: []spec.Setting{
			{Name: settingLag, Env: "XDR_LAG", Kind: spec.Duration, Default: "2m", Min: 1, Max: 3600, Lambda: true,
				Help: "how far behind the API's clock collection stays, so that what was inserted is visible and enriched before it is read"},
			{Name: settingWindow, Env: "XDR_WINDOW_SIZE", Kind: spec.Int, Default: "1000", Min: MaxPageSize, Max: ResultCap - 1, Lambda: true,
				Help: "most alerts one query window may hold; larger windows are split (the API counts at most 9 999)"},
		},
		// The tenant allows 10 requests per second for every key and tool
		// together; like mature collectors, take 4 and leave the rest.
		RequestsPerMinute: 60 * DefaultRequestsPerSecond,
		RateBurst:         1,
		EpochMillis:       EpochMillis(),
		New:               newTenantCollector,
	}
}

// newTenantCollector builds a tenant's collector for a deployment. The
// deployment's HTTP client paces the tenant's requests (the descriptor's
// rate); the collector adds its tenant-wide pause after failed attempts.
func newTenantCollector(p spec.Params) (spec.Collector, error) {
	c, err := New(Config{
		Lookback:          p.Lookback,
		Lag:               p.Settings.Duration(settingLag),
		WindowMax:         p.Settings.Int(settingWindow),
		RequestsPerSecond: -1,
		HTTP:              p.HTTP,
		Logger:            p.Logger,
		Now:               p.Now,
		Where:             p.Where,
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
		return nil, fmt.Errorf("cortexxdr: no stream %q", stream)
	}
	if opts.Backfill {
		return a.c.NewBackfill(def), nil
	}
	var legacy Legacy
	if opts.Legacy != nil {
		if v, ok := opts.Legacy.Value(stream + "_cursor"); ok {
			l, err := ParseLegacy([]byte(v))
			if err != nil {
				// Never a silent restart from the lookback: the operator
				// must see why the seed's position was not taken.
				return nil, fmt.Errorf("the seed wodle's %s_cursor: %w", stream, err)
			}
			legacy = l
		}
	}
	return a.c.NewSource(def, legacy), nil
}

func (a adapter) Check(ctx context.Context, streams []string) spec.Report {
	rep := a.c.Check(ctx)
	var r spec.Report
	if rep.Err != nil {
		r.Err = rep.Err
		return r
	}
	r.Facts = []spec.Fact{{Name: "API", Value: rep.APIURL + " (tenant " + rep.FQDN + ")"}, {Name: "key", Value: rep.KeyID + ", " + rep.SecurityLevel}}
	switch skew := rep.ClockSkew.Round(time.Second); {
	case skew < 0:
		r.Facts = append(r.Facts, spec.Fact{Name: "clock", Value: fmt.Sprintf("this host's clock is about %s ahead of the API's (windows follow the API's clock; an advanced key may be refused)", -skew)})
	case skew > 0:
		r.Facts = append(r.Facts, spec.Fact{Name: "clock", Value: fmt.Sprintf("this host's clock is about %s behind the API's (an advanced key may be refused)", skew)})
	}
	failures := 0
	for _, name := range streams {
		for _, s := range rep.Streams {
			if s.Name != name {
				continue
			}
			st := spec.StreamStatus{Name: name, Runs: s.OK, Detail: fmt.Sprintf("will run (%d records in the last hour)", s.Recent)}
			if !s.OK {
				failures++
				st.Detail = s.Code + ": " + s.Problem
			}
			r.Streams = append(r.Streams, st)
		}
	}
	if failures > 0 && failures == len(r.Streams) {
		// Nothing can run: say why once, so the command fails.
		r.Err = errors.New(r.Streams[0].Detail)
	}
	return r
}
