package onepasswordtest

import "time"

// DemoScenario is the simulator of `localrun demo`: one account with a few
// hours of every stream, an unusual event and an oversized one; Between
// adds new events, one of them late (older than events already served),
// which the stored cursor still finds.
type DemoScenario struct {
	Server *Server
	// Env holds the variables of a run against the simulator.
	Env     map[string]string
	Between func()
}

// StartDemo starts the demo simulator with about events events per stream.
func StartDemo(events int) *DemoScenario {
	sim := New(Options{})
	token := sim.AddAccount("demo", Account{Seed: 42})
	now := time.Now()
	for _, s := range []string{StreamAuditEvents, StreamSignInAttempts, StreamItemUsages} {
		sim.Generate("demo", s, events, now.Add(-2*time.Hour), 2*time.Hour/time.Duration(events+1))
	}
	sim.IngestSpecial("demo", StreamAuditEvents, now.Add(-time.Minute))
	sim.IngestOversized("demo", StreamSignInAttempts, now.Add(-time.Minute), 80<<10)
	return &DemoScenario{
		Server: sim,
		Env: map[string]string{
			"OP_BEARER_TOKEN":   token,
			"OP_BASE_URL":       sim.URL,
			"OP_LOOKBACK_HOURS": "3",
		},
		Between: func() {
			sim.Generate("demo", StreamSignInAttempts, 3, time.Now(), time.Second)
			sim.GenerateOne("demo", StreamAuditEvents, now.Add(-90*time.Minute))
		},
	}
}
