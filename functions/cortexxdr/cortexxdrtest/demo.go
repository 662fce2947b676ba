package cortexxdrtest

import (
	"time"
)

// DemoFQDN is the demo tenant's host (never resolved: requests go to the
// simulator's URL).
const DemoFQDN = "demo.xdr.us.paloaltonetworks.com"

// demoLag is the collector lag the demo asks for (XDR_LAG): what Between
// adds must be old enough for the second run, which starts right after.
const demoLag = time.Second

// DemoScenario is a simulated tenant on loopback for `localrun demo`.
type DemoScenario struct {
	Server *Server
	// Env points a collector at the tenant: the seed's XDR_* variables,
	// XDR_BASE_URL (the simulator's address), a lookback covering the
	// data and a one-second lag (XDR_LAG), so the second run, right after
	// the first, sees what Between added.
	Env map[string]string
	// Between plays what happens before the second run: new alerts, one
	// uploaded late by an endpoint that was offline, and an incident
	// moving on in its lifecycle.
	Between func()
}

// StartDemo starts the demo tenant on the real clock, with about events
// alerts over the last three hours (some uploaded late, detected hours
// before they were inserted, and a burst sharing one millisecond) and
// incidents in several states.
func StartDemo(events int) *DemoScenario {
	events = max(events, 10)
	srv := New(Options{})
	srv.AddTenant(DemoFQDN, Tenant{Seed: 42})
	id, key := srv.AddKey(DemoFQDN, Key{})
	now := time.Now()
	base := now.Add(-3 * time.Hour)
	step := (3*time.Hour - 10*time.Minute) / time.Duration(events)
	var specs []AlertSpec
	for i := 0; i < events-5; i++ {
		at := base.Add(time.Duration(i) * step)
		sp := AlertSpec{Inserted: at, Lag: 20 * time.Second}
		if i%9 == 4 {
			sp.Detected = at.Add(-6 * time.Hour)
		}
		specs = append(specs, sp)
	}
	burst := now.Add(-40 * time.Minute).Truncate(time.Millisecond)
	for i := 0; i < 5; i++ {
		specs = append(specs, AlertSpec{Inserted: burst, Severity: "high"})
	}
	srv.AddAlerts(DemoFQDN, specs)
	var first string
	statuses := []string{"", "under_investigation", "resolved_true_positive", "", "resolved_false_positive"}
	for i := 0; i < max(events/10, len(statuses)); i++ {
		created := base.Add(time.Duration(i) * 20 * time.Minute)
		inc := srv.AddIncident(DemoFQDN, IncidentSpec{Created: created, AlertCount: 1 + i%4})
		if i == 0 {
			first = inc
		}
		if st := statuses[i%len(statuses)]; st != "" {
			ch := IncidentChange{At: created.Add(30 * time.Minute), Status: st, AssignTo: "Ana Analyst"}
			if st != "under_investigation" {
				ch.ResolveComment = "Contained; host reimaged"
			}
			srv.ChangeIncident(DemoFQDN, inc, ch)
		}
	}
	return &DemoScenario{
		Server: srv,
		Env: map[string]string{
			"XDR_FQDN":           DemoFQDN,
			"XDR_API_KEY_ID":     id,
			"XDR_API_KEY":        key,
			"XDR_SECURITY_LEVEL": "advanced",
			"XDR_BASE_URL":       srv.URL,
			"XDR_LOOKBACK_HOURS": "4",
			"XDR_LAG":            demoLag.String(),
		},
		Between: func() {
			// Dated one lag back: after the first run's bound, before the
			// second's.
			at := time.Now().Add(-demoLag)
			srv.AddAlerts(DemoFQDN, []AlertSpec{
				{Inserted: at},
				{Inserted: at, Severity: "critical"},
				{Inserted: at, Detected: at.Add(-5 * time.Hour)},
			})
			srv.ChangeIncident(DemoFQDN, first, IncidentChange{At: at, Status: "under_investigation", AddAlerts: 1, AssignTo: "Ana Analyst"})
		},
	}
}
