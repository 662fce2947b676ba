package cortexxdr

import (
	"context"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
)

func TestIncidentLifecycleReachesWazuhChangeByChange(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	id := e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: t0.Add(time.Minute), Severity: "high", Lag: 40 * time.Second})
	e.sim.ChangeIncident(testFQDN, id, cortexxdrtest.IncidentChange{At: t0.Add(12 * time.Minute), Status: "under_investigation", AssignTo: "Ana Analyst", AddAlerts: 2, Lag: 50 * time.Second})
	e.sim.ChangeIncident(testFQDN, id, cortexxdrtest.IncidentChange{At: t0.Add(23 * time.Minute), Status: "resolved_true_positive", ResolveComment: "host reimaged"})
	for at := t0.Add(5 * time.Minute); at.Before(t0.Add(35 * time.Minute)); at = at.Add(5 * time.Minute) {
		e.clock.AdvanceTo(at)
		mustSucceed(t, e.run(context.Background(), StreamIncidents))
	}
	var statuses []string
	for _, l := range e.sink.lines(t) {
		if l.typ() != "incident" || l.xdr["incident_id"] != id {
			t.Fatalf("unexpected line %s", l.raw)
		}
		statuses = append(statuses, l.xdr["status"].(string))
	}
	if len(statuses) != 3 || statuses[0] != "new" || statuses[1] != "under_investigation" || statuses[2] != "resolved_true_positive" {
		t.Fatalf("lifecycle delivered as %v", statuses)
	}
}

// Incidents are filtered on modification_time, which a change moves to
// the present: incidents changed while a run pages leave its window. Pages
// keyed by time, not by offset, skip none of the others.
func TestIncidentsChangedWhilePagingSkipNoOther(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	e.cfg.PageSize = 10
	var ids []string
	for i := 0; i < 200; i++ {
		ids = append(ids, e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: t0.Add(-3 * time.Hour).Add(time.Duration(i) * time.Second)}))
	}
	// The run starts at t0 and requests 4 pages a second: from its third
	// request on, every second changes five incidents it has already read.
	for i := 0; i < 40; i++ {
		e.sim.ChangeIncident(testFQDN, ids[i], cortexxdrtest.IncidentChange{At: t0.Add(time.Second + time.Duration(i/5)*time.Second), Status: "under_investigation"})
	}
	mustSucceed(t, e.run(context.Background(), StreamIncidents))
	d := delivered(t, e.sink)
	first := e.sim.IncidentVersions(testFQDN)
	for _, v := range first {
		if v.Status == "new" && d["incident"][v.Key()] != 1 {
			t.Fatalf("incident %s as created delivered %d times", v.ID, d["incident"][v.Key()])
		}
	}
	if len(d["incident"]) != 200 {
		t.Fatalf("first run delivered %d changes", len(d["incident"]))
	}
	// The next run brings the changes made while the first one paged.
	e.clock.Advance(5 * time.Minute)
	mustSucceed(t, e.run(context.Background(), StreamIncidents))
	if d = delivered(t, e.sink); len(d["incident"]) != 240 {
		t.Fatalf("%d changes after the second run, want 240", len(d["incident"]))
	}
}

func TestManyIncidentChangesInOneMillisecond(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	e.cfg.PageSize = 20
	at := t0.Add(-time.Hour)
	for i := 0; i < 75; i++ {
		e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: at})
	}
	e.sim.AddIncident(testFQDN, cortexxdrtest.IncidentSpec{Created: at.Add(time.Millisecond)})
	for run := 0; run < 2; run++ {
		mustSucceed(t, e.run(context.Background(), StreamIncidents))
		e.clock.Advance(5 * time.Minute)
	}
	d := delivered(t, e.sink)
	if len(d["incident"]) != 76 {
		t.Fatalf("%d incidents delivered", len(d["incident"]))
	}
	for k, n := range d["incident"] {
		if n != 1 {
			t.Fatalf("%s delivered %d times", k, n)
		}
	}
}

// When this host's clock runs ahead of the API's, windows are cut from the
// API's clock (its Date header): a bound taken from ours would pass alerts
// the API has not inserted yet, and they would never be read.
func TestClockAheadOfTheAPILosesNothing(t *testing.T) {
	skew := -5 * time.Minute
	e := newEnv(t, cortexxdrtest.Options{Skew: skew}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{Standard: true})
	sch := buildSchedule(t, e.sim, t0.Add(skew), time.Hour, 5*time.Second, 3, nil)
	for at := t0.Add(5 * time.Minute); !at.After(t0.Add(80 * time.Minute)); at = at.Add(5 * time.Minute) {
		e.clock.AdvanceTo(at)
		mustSucceed(t, e.run(context.Background()))
	}
	d := delivered(t, e.sink)
	for _, id := range sch.alerts {
		if d["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, d["alert"][id])
		}
	}
	for _, v := range e.sim.IncidentVersions(testFQDN) {
		if v.Visible.Before(e.sim.Now().Add(-3*time.Minute)) && d["incident"][v.Key()] > 1 {
			t.Fatalf("incident change %s delivered %d times", v.Key(), d["incident"][v.Key()])
		}
	}
}
