package cortexxdrtest

import (
	"time"
)

// Demo is a simulator on loopback with a little realistic data, for the
// `localrun demo` command: point a collector at URL (its base-URL
// override) with FQDN and the key, and give it Clock.Now and Clock.Sleep
// as its Now and Sleep; it then collects as from a real tenant, and
// Advance plays the next ten minutes of that tenant in no time.
type Demo struct {
	*Server
	// Clock is the demo's simulated clock, started at the real time.
	Clock         *Clock
	FQDN          string
	KeyID         string
	Key           string
	SecurityLevel string // "advanced"
	round         int
}

// DemoFQDN is the demo tenant's host (never resolved: requests go to URL).
const DemoFQDN = "demo.xdr.us.paloaltonetworks.com"

// NewDemo starts a demo simulator. Its first data set spans the three
// hours before the clock's start: about forty alerts, some of them
// uploaded late by endpoints that were offline (detected hours before
// they were inserted), a burst sharing one millisecond, and incidents in
// several states. Every record is older than a collector's two-minute
// lag, so a first run reads all of it.
func NewDemo() *Demo {
	clock := NewClock(time.Now().UTC().Truncate(time.Millisecond))
	srv := New(Options{Now: clock.Now})
	srv.AddTenant(DemoFQDN, Tenant{Seed: 42})
	id, key := srv.AddKey(DemoFQDN, Key{})
	d := &Demo{Server: srv, Clock: clock, FQDN: DemoFQDN, KeyID: id, Key: key, SecurityLevel: "advanced"}
	now := clock.Now()
	base := now.Add(-3 * time.Hour)
	var specs []AlertSpec
	for i := 0; i < 36; i++ {
		at := base.Add(time.Duration(i) * 4 * time.Minute)
		sp := AlertSpec{Inserted: at, Lag: 20 * time.Second}
		if i%9 == 4 {
			sp.Detected = at.Add(-6 * time.Hour) // uploaded by an endpoint back online
		}
		specs = append(specs, sp)
	}
	burst := now.Add(-40 * time.Minute).Truncate(time.Millisecond)
	for i := 0; i < 5; i++ {
		specs = append(specs, AlertSpec{Inserted: burst, Severity: "high"})
	}
	srv.AddAlerts(DemoFQDN, specs)
	for i, st := range []string{"", "under_investigation", "resolved_true_positive", ""} {
		created := base.Add(time.Duration(i) * 30 * time.Minute)
		inc := srv.AddIncident(DemoFQDN, IncidentSpec{Created: created, AlertCount: 2 + i})
		if st != "" {
			srv.ChangeIncident(DemoFQDN, inc, IncidentChange{At: created.Add(40 * time.Minute), Status: st, AssignTo: "Ana Analyst",
				ResolveComment: map[bool]string{true: "Contained; host reimaged"}[st == "resolved_true_positive"]})
		}
	}
	return d
}

// Advance plays the next ten minutes: new alerts arrive, one of them a
// late upload detected hours ago, and an incident moves on in its
// lifecycle; then the clock moves ten minutes on.
func (d *Demo) Advance() {
	d.round++
	t0 := d.Clock.Now()
	d.AddAlerts(d.FQDN, []AlertSpec{
		{Inserted: t0.Add(1 * time.Minute), Lag: 30 * time.Second},
		{Inserted: t0.Add(3 * time.Minute), Severity: "critical", Lag: 10 * time.Second},
		{Inserted: t0.Add(5 * time.Minute), Detected: t0.Add(-5 * time.Hour)},
	})
	vs := d.IncidentVersions(d.FQDN)
	d.ChangeIncident(d.FQDN, vs[0].ID, IncidentChange{At: t0.Add(4 * time.Minute), Status: "under_investigation", AddAlerts: 1, AssignTo: "Ana Analyst"})
	d.Clock.Advance(10 * time.Minute)
}

// Env returns the seed's variables for the demo tenant, plus XDR_BASE_URL
// for the address override (the name is a suggestion for the wiring).
func (d *Demo) Env() map[string]string {
	return map[string]string{
		"XDR_FQDN":           d.FQDN,
		"XDR_API_KEY_ID":     d.KeyID,
		"XDR_API_KEY":        d.Key,
		"XDR_SECURITY_LEVEL": d.SecurityLevel,
		"XDR_BASE_URL":       d.URL,
	}
}
