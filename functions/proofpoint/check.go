package proofpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/quota"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Stored holds the streams' records by stream name, to report the
	// request budgets left (missing: nothing counted yet).
	Stored map[string]state.Record
	// SkipPeople leaves the People endpoints alone: each check costs one
	// of their 50 daily requests.
	SkipPeople bool
}

// CheckReport says whether a run would work. It never holds a secret.
type CheckReport struct {
	Tenant  string
	BaseURL string
	// Credentials is "ok", or what is wrong with them.
	Credentials string
	Streams     []StreamCheck
	Budgets     []BudgetCheck
}

// StreamCheck is the verdict on one endpoint.
type StreamCheck struct {
	Stream    string
	Endpoint  string
	Reachable bool
	Detail    string
}

// BudgetCheck is a pool's use as counted in the stored records, before
// the check's own requests.
type BudgetCheck struct {
	Pool                       string
	Used, Limit, Left, Reserve int
	// Refill is when the run-stopping reserve is exceeded again (now if
	// it is not reached).
	Refill time.Time
}

// OK reports whether credentials work and every checked endpoint answered.
func (r *CheckReport) OK() bool {
	if r.Credentials != "ok" {
		return false
	}
	for _, s := range r.Streams {
		if !s.Reachable {
			return false
		}
	}
	return true
}

// Check tests the credentials, the base URL and the endpoints a run uses,
// with one small request each (a one-minute SIEM window; the People
// endpoints with one user per page unless skipped), and reports the
// request budgets the stored records count. It does not save what it
// spends; the reserve covers it.
func (c *Collector) Check(ctx context.Context, opts CheckOptions) *CheckReport {
	cfg := &c.cfg
	rep := &CheckReport{Tenant: c.tenant}
	now := cfg.Now().UTC()
	rep.Budgets = c.storedBudgets(opts.Stored, now)
	cr, err := c.credentials(ctx)
	if err != nil {
		rep.Credentials = cfg.HTTP.Redactor().String(err.Error())
		return rep
	}
	if rep.BaseURL, err = c.baseURL(cr); err != nil {
		rep.Credentials = "not tried: " + err.Error()
		return rep
	}
	rep.Credentials = "ok"
	end := now.Add(-cfg.SafetyLag).Truncate(time.Second)
	probes := []struct {
		stream, path string
		q            url.Values
	}{{StreamSIEM, siemPath, url.Values{"format": {"json"}, "interval": {stamp(end.Add(-time.Minute)) + "/" + stamp(end)}}}}
	if !opts.SkipPeople {
		for _, ep := range peopleEndpoints {
			probes = append(probes, struct {
				stream, path string
				q            url.Values
			}{StreamPeople, ep.path, url.Values{"window": {strconv.Itoa(cfg.PeopleWindow)}, "size": {"1"}, "page": {"1"}}})
		}
	}
	noRetry429 := func(prev error) error {
		if _, ok := isStatus(prev, http.StatusTooManyRequests); ok {
			return prev
		}
		return nil
	}
	for _, p := range probes {
		sc := StreamCheck{Stream: p.stream, Endpoint: p.path}
		resp, err := c.get(ctx, p.path, p.q, noRetry429, nil)
		note := ""
		if p.path == siemPath {
			// A window ending in TAP's future may be refused: this host's
			// clock is ahead. Say so, and check the rest with a window
			// behind TAP's clock, as runs ask.
			if ahead, ok := clockAhead(resp, err, cfg.Now()); ok && ahead > cfg.SafetyLag/2 {
				note = fmt.Sprintf(" (this host's clock is %v ahead of TAP's: check its time sync; runs keep their windows behind TAP's clock)", ahead)
				if _, refused := isStatus(err, http.StatusBadRequest); refused {
					tapEnd := end.Add(-ahead)
					p.q.Set("interval", stamp(tapEnd.Add(-time.Minute))+"/"+stamp(tapEnd))
					_, err = c.get(ctx, p.path, p.q, noRetry429, nil)
				}
			}
		}
		switch {
		case err == nil:
			sc.Reachable, sc.Detail = true, "ok"+note
		default:
			if _, ok := isStatus(err, http.StatusUnauthorized); ok {
				rep.Credentials = "refused (401): verify " + cfg.Where(FieldPrincipal) + "; " + cfg.Where(FieldSecret)
			}
			sc.Detail = pipeline.CodeOf(err) + ": " + c.httpMessage(err) + ": " + cfg.HTTP.Redactor().String(err.Error()) + note
		}
		rep.Streams = append(rep.Streams, sc)
	}
	return rep
}

func (c *Collector) storedBudgets(stored map[string]state.Record, now time.Time) []BudgetCheck {
	cfg := &c.cfg
	report := func(pool string, limit, reserve int, raw json.RawMessage) BudgetCheck {
		b, _ := quota.New(limit, 24*time.Hour, budgetBucket)
		if len(raw) > 0 {
			_ = b.Load(raw, now) // an unreadable record shows as unused; a run reports it
		}
		return BudgetCheck{Pool: pool, Used: b.Used(now), Limit: limit, Left: b.Left(now), Reserve: reserve, Refill: b.AvailableAt(now, reserve+1)}
	}
	var siem SIEMCursor
	_ = json.Unmarshal(stored[StreamSIEM].Cursor, &siem)
	out := []BudgetCheck{report("siem", cfg.SIEMRequestsPerDay, cfg.BudgetReserve, siem.Budget)}
	var people PeopleCursor
	_ = json.Unmarshal(stored[StreamPeople].Cursor, &people)
	for _, ep := range peopleEndpoints {
		out = append(out, report(ep.pool, cfg.PeopleRequestsPerDay, cfg.PeopleReserve, people.Budget[ep.pool]))
	}
	return out
}

// clockAhead reads how far our clock (now) is ahead of TAP's from the Date
// header of an answer or a refusal.
func clockAhead(resp *httpx.Response, err error, now time.Time) (time.Duration, bool) {
	var h http.Header
	var se *httpx.StatusError
	switch {
	case resp != nil:
		h = resp.Header
	case errors.As(err, &se):
		h = se.Header
	}
	date, perr := http.ParseTime(h.Get("Date"))
	if perr != nil {
		return 0, false
	}
	return now.Sub(date).Truncate(time.Second), true
}
