package proofpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Setting names of the descriptor (flags on a host).
const (
	settingOverlap       = "overlap-minutes"
	settingSafetyLag     = "safety-lag-seconds"
	settingPeopleEvery   = "people-interval"
	settingPeopleWindow  = "people-window"
	settingDailyRequests = "siem-daily-requests"
	settingReserve       = "budget-reserve"
)

// Descriptor describes the Proofpoint collector to every deployment, with
// the seed's names (PP_* variables, --source siem|people|all,
// PP_PEOPLE_INTERVAL in seconds) and the Secrets Manager JSON
// {"principal","secret","base_url"}.
func Descriptor() spec.Descriptor {
	return spec.Descriptor{
		Name:       Vendor,
		Command:    "proofpoint",
		Title:      "Proofpoint TAP SIEM and People APIs",
		Envelope:   Envelope(),
		AllStreams: "all",
		Streams: []spec.Stream{
			{Name: StreamSIEM, Help: "messages delivered and blocked, clicks permitted and blocked (/v2/siem/all)"},
			// The stream decides itself when a snapshot is due
			// (people-interval); an hourly invocation costs nothing else.
			{Name: StreamPeople, Help: "Very Attacked People and top clickers, one snapshot per people-interval", Schedule: "rate(1 hour)"},
		},
		EnvPrefix: "PP",
		HostDir:   "proofpoint",
		Credentials: []spec.Credential{
			{Field: FieldPrincipal, Env: EnvPrincipal, Required: true, Help: "TAP service principal"},
			{Field: FieldSecret, Env: EnvSecret, Required: true, Help: "TAP service principal's secret"},
			{Field: FieldBaseURL, Env: EnvBaseURL, Public: true, Flag: "base-url", Help: "API host (default " + DefaultBaseURL + ")"},
		},
		TenantsFileEnv: EnvTokensFile,
		Lookback:       spec.Lookback{Default: DefaultLookback, Max: MaxAge - ageMargin},
		Settings: []spec.Setting{
			{Name: settingOverlap, Env: EnvOverlapMinutes, Kind: spec.Float, Default: "30", Min: 0.5, Max: 24 * 60, Lambda: true,
				Help: "minutes of what was read too soon after it happened that are read again, for events TAP indexes late"},
			{Name: settingSafetyLag, Env: EnvSafetyLag, Kind: spec.Int, Default: "120", Min: 1, Max: 3600, Lambda: true,
				Help: "seconds a window ends before now"},
			{Name: settingPeopleEvery, Env: EnvPeopleInterval, Kind: spec.Int, Default: "86400", Min: 60, Max: 90 * 24 * 3600, Lambda: true,
				Help: "seconds between People snapshots"},
			{Name: settingPeopleWindow, Env: EnvPeopleWindow, Kind: spec.Int, Default: "14", Min: 14, Max: 90, Lambda: true,
				Help: "the People API's window in days: 14, 30 or 90", Choices: []string{"14", "30", "90"}},
			{Name: settingDailyRequests, Env: EnvDailyRequests, Kind: spec.Int, Default: "1800", Min: 1, Max: 1e6, Lambda: true,
				Help: "requests the SIEM pool allows in a rolling 24 hours"},
			{Name: settingReserve, Env: EnvBudgetReserve, Kind: spec.Int, Default: "100", Min: 1, Max: 1e6, Lambda: true,
				Help: "SIEM requests a day left unused for other tools and checks, at least 1"},
		},
		// TAP has no per-minute limit: the collector budgets its rolling
		// daily pools itself, so requests are not paced.
		RequestsPerMinute: 0,
		New:               newTenantCollector,
	}
}

func newTenantCollector(p spec.Params) (spec.Collector, error) {
	s := p.Settings
	c, err := New(Config{
		Lookback:           p.Lookback,
		Overlap:            time.Duration(s.Float(settingOverlap) * float64(time.Minute)),
		SafetyLag:          time.Duration(s.Int(settingSafetyLag)) * time.Second,
		PeopleInterval:     time.Duration(s.Int(settingPeopleEvery)) * time.Second,
		PeopleWindow:       s.Int(settingPeopleWindow),
		SIEMRequestsPerDay: s.Int(settingDailyRequests),
		BudgetReserve:      s.Int(settingReserve),
		HTTP:               p.HTTP,
		Logger:             p.Logger,
		Now:                p.Now,
		Where:              p.Where,
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
		return nil, fmt.Errorf("proofpoint: no stream %q", stream)
	}
	if opts.Backfill {
		return a.c.NewBackfill(def)
	}
	var legacy Legacy
	if opts.Legacy != nil {
		legacy.Value, _ = opts.Legacy.Value(def.LegacyKey)
	}
	return a.c.NewSource(def, legacy)
}

// Check probes the endpoints of the requested streams: one SIEM request,
// and one per People endpoint when the People stream is requested (each
// is one of that endpoint's 50 a day).
func (a adapter) Check(ctx context.Context, streams []string) spec.Report {
	rep := a.c.Check(ctx, CheckOptions{SkipPeople: !slices.Contains(streams, StreamPeople)})
	var r spec.Report
	if rep.BaseURL != "" {
		r.Facts = append(r.Facts, spec.Fact{Name: "TAP API", Value: rep.BaseURL})
	}
	cfg := a.c.cfg
	r.Facts = append(r.Facts, spec.Fact{Name: "SIEM requests", Value: fmt.Sprintf("%d a day, %d kept in reserve; windows re-read the last %v", cfg.SIEMRequestsPerDay, cfg.BudgetReserve, cfg.Overlap)})
	if rep.Credentials != "ok" {
		r.Err = errors.New("credentials: " + rep.Credentials)
		return r
	}
	var down []string
	for _, name := range streams {
		st := spec.StreamStatus{Name: name, Runs: true}
		var details []string
		for _, sc := range rep.Streams {
			if sc.Stream != name {
				continue
			}
			st.Runs = st.Runs && sc.Reachable
			details = append(details, sc.Endpoint+" "+sc.Detail)
		}
		st.Detail = "will run (" + strings.Join(details, "; ") + ")"
		if !st.Runs {
			st.Detail = "unreachable: " + strings.Join(details, "; ")
			down = append(down, st.Detail)
		}
		r.Streams = append(r.Streams, st)
	}
	if len(down) > 0 {
		r.Err = errors.New(strings.Join(down, "; "))
	}
	return r
}
