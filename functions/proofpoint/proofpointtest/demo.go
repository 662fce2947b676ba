package proofpointtest

import "time"

// Demo is a running simulator with one tenant ("demo") and realistic data,
// for `localrun demo`: the last three hours of SIEM traffic (a fifth of the
// messages to several recipients, some retroactive clicks, all indexed
// by now) and a few Very Attacked People and top clickers.
type Demo struct {
	Server *Server
	// URL is the base URL (http://127.0.0.1:port).
	URL string
	// Principal and Secret are the tenant's credentials.
	Principal, Secret string
	// Env holds the variables of a run against the simulator.
	Env map[string]string
	// Between adds events before a second run: a few that happened
	// minutes ago but were indexed only now, which only a collector that
	// re-reads its recent windows finds.
	Between func()
}

// Close stops the simulator.
func (d *Demo) Close() { d.Server.Close() }

// StartDemo starts the demo simulator on loopback, on the real clock, with
// about events SIEM events.
func StartDemo(events int) *Demo {
	srv := New(Options{})
	cred := srv.AddTenant("demo", Tenant{})
	now := time.Now().UTC()
	// About 1.6 events per message (a fifth to several recipients) and
	// one click for every two messages.
	msgs := float64(events) / 3 / 2.1
	srv.Generate("demo", Traffic{From: now.Add(-3 * time.Hour), To: now.Add(-15 * time.Minute), MessagesPerHour: msgs, ClicksPerHour: msgs / 2, MaxIndexLag: 10 * time.Minute, Seed: 42})
	srv.GeneratePeople("demo", 5, 3, 42)
	return &Demo{
		Server: srv, URL: srv.URL, Principal: cred.Principal, Secret: cred.Secret,
		Env: map[string]string{
			"PP_PRINCIPAL":      cred.Principal,
			"PP_SECRET":         cred.Secret,
			"PP_BASE_URL":       srv.URL,
			"PP_LOOKBACK_HOURS": "3",
		},
		Between: func() {
			t := time.Now().UTC()
			srv.Generate("demo", Traffic{From: t.Add(-12 * time.Minute), To: t.Add(-4 * time.Minute), MessagesPerHour: 15, ClicksPerHour: 8, IndexedAt: t, Seed: 43})
		},
	}
}
