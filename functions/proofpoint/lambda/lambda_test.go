package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestLambda runs the real bootstrap under the Lambda Runtime Interface
// Emulator, against moto, the TAP simulator and a real rsyslog TLS relay.
// The subtests share one build.
func TestLambda(t *testing.T) {
	bootstrap := rietest.Build(t, pkgPath, t.TempDir())
	t.Run("delivers, commits and snapshots people", func(t *testing.T) { t.Parallel(); testDeliversAndCommits(t, bootstrap) })
	t.Run("secret rotation", func(t *testing.T) { t.Parallel(); testSecretRotation(t, bootstrap) })
	t.Run("catch-up stops at the deadline margin", func(t *testing.T) { testCatchUp(t, bootstrap, "1s") })
	t.Run("catch-up killed by the timeout", func(t *testing.T) { testCatchUp(t, bootstrap, "0s") })
	t.Run("concurrent invocations", func(t *testing.T) { testConcurrent(t, bootstrap) })
}

func testDeliversAndCommits(t *testing.T, bootstrap string) {
	w := newWorld(t)
	now := time.Now().UTC()
	w.sim.Generate(tenant, proofpointtest.Traffic{From: now.Add(-5 * time.Hour), To: now.Add(-40 * time.Minute), MessagesPerHour: 40, ClicksPerHour: 20})
	w.sim.GeneratePeople(tenant, 4, 2, 1)
	want := w.expected()
	r := w.start(bootstrap, 60, "PP_LOOKBACK_HOURS=6")

	out := lambdatest.Invoke(t, r, payload("siem"))
	if !out.Success || out.Events != int64(len(want)) || out.Pages != 7 || out.Backlog || out.Stop != "caught_up" || len(out.Errors) != 0 {
		t.Fatalf("summary = %+v; want %d events in 7 windows (6 h less the safety lag), caught up", out, len(want))
	}
	w.WaitLines(len(want) + 1)
	got := w.delivered()
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("%s delivered %d times", id, got[id])
		}
	}
	rec := w.record("siem")
	if rec.version != 7 || rec.leased || rec.siem.Start.IsZero() || len(rec.siem.Budget) == 0 {
		t.Errorf("record %+v: want one commit per window, the lease released, a position and the request count", rec)
	}
	if used := w.sim.PoolUsed(tenant, "siem"); used != 7 {
		t.Errorf("%d requests for 7 windows", used)
	}

	// People: one snapshot, then nothing until the interval has passed.
	out = lambdatest.Invoke(t, r, payload("people"))
	if !out.Success || out.Events != 6 {
		t.Fatalf("people = %+v, want 6 users", out)
	}
	reqs := w.sim.RequestCount()
	if out = lambdatest.Invoke(t, r, payload("people")); !out.Success || out.Events != 0 || w.sim.RequestCount() != reqs {
		t.Fatalf("second people invocation = %+v, %d requests: the snapshot is not due", out, w.sim.RequestCount()-reqs)
	}
	noSecrets(t, "emulator output", r.Log(), w.cred.Secret, w.cred.Principal)
	noSecrets(t, "delivered lines", strings.Join(w.Relay.Lines(), "\n"), w.cred.Secret)
	noSecrets(t, "stored cursor", rec.cursor, w.cred.Secret)
}

func testSecretRotation(t *testing.T, bootstrap string) {
	w := newWorld(t)
	now := time.Now().UTC()
	w.sim.Generate(tenant, proofpointtest.Traffic{From: now.Add(-2 * time.Hour), To: now.Add(-time.Hour), MessagesPerHour: 30, ClicksPerHour: 10})
	r := w.start(bootstrap, 60, "PP_LOOKBACK_HOURS=3")
	if out := lambdatest.Invoke(t, r, payload("siem")); !out.Success || out.Events == 0 {
		t.Fatalf("first invocation: %+v", out)
	}
	reads := w.SecretReads()
	// Rotation: TAP refuses the old secret; the secret gets the new one.
	// The warm function still has the old one cached.
	old := w.cred
	w.cred = w.sim.RotateSecret(tenant)
	w.RotateSecret(w.secretID(), w.secret(w.cred))
	w.sim.Generate(tenant, proofpointtest.Traffic{From: now.Add(-20 * time.Minute), To: now.Add(-5 * time.Minute), MessagesPerHour: 60, ClicksPerHour: 20, IndexedAt: time.Now()})
	w.sim.ResetRequests()
	out := lambdatest.Invoke(t, r, payload("siem"))
	if !out.Success || out.Events == 0 || len(out.Errors) != 0 {
		t.Fatalf("invocation after rotation = %+v; want the new events and no error", out)
	}
	w.CheckReauthenticated(t, w.sim.Answered(401), reads)
	w.deliveredOnce(t)
	noSecrets(t, "emulator output", r.Log(), old.Secret, w.cred.Secret)
}

// testCatchUp catches up three days (74 windows) with a 2-second function
// timeout and requests paced at 4 a second, so it takes many invocations.
// With a margin each invocation stops on its own; with none the timeout
// kills invocations and the next starts cold. Nothing may be lost; an
// interrupted invocation may repeat at most the window it was delivering.
func testCatchUp(t *testing.T, bootstrap, margin string) {
	w := newWorld(t)
	now := time.Now().UTC()
	w.sim.Generate(tenant, proofpointtest.Traffic{From: now.Add(-72 * time.Hour), To: now.Add(-time.Hour), MessagesPerHour: 12, ClicksPerHour: 6})
	r := w.start(bootstrap, 2, "PP_LOOKBACK_HOURS=73", lambdarun.EnvDeadlineMargin+"="+margin, lambdarun.EnvRateLimit+"=240")
	prev := w.record("siem")
	tally := lambdatest.CatchUp{
		RIE: r, Payload: payload("siem"),
		// The deadline (or a slow moto on a busy machine) cut the last
		// commit or confirmation short: the window was not recorded as
		// delivered and the next invocation repeats it, like after a
		// timeout.
		Cut: func(res *rietest.Result) bool {
			return strings.Contains(res.ErrorMessage, "(STATE_WRITE_ERROR)") || strings.Contains(res.ErrorMessage, "(DELIVERY_FAILED)")
		},
		Moved: func() bool {
			rec := w.record("siem")
			if rec.version < prev.version || rec.siem.Start.Before(prev.siem.Start) {
				t.Fatalf("position moved backwards: %+v after %+v", rec.siem, prev.siem)
			}
			moved := rec.version > prev.version
			prev = rec
			return moved
		},
	}.Run(t)
	want := w.expected()
	w.WaitLines(len(want))
	got := w.delivered()
	maxWindow, dups := 0, 0
	for _, rq := range w.sim.Requests() {
		maxWindow = max(maxWindow, rq.Events)
	}
	for id := range want {
		if got[id] == 0 {
			t.Fatalf("%s was never delivered", id)
		}
		dups += got[id] - 1
	}
	t.Logf("margin %s: %d invocations, %d stopped at the deadline, %d timed out, %d cut, %d locked, %d duplicates",
		margin, tally.Invocations, tally.StoppedAtDeadline, tally.TimedOut, tally.Cut, tally.Locked, dups)
	if tally.Invocations < 3 {
		t.Errorf("the catch-up took %d invocations; the test needs one longer than an invocation", tally.Invocations)
	}
	// At most one window per interrupted invocation.
	tally.CheckDuplicates(t, dups, maxWindow)
	tally.CheckMargin(t, margin, tally.Interrupted())
	if tally.Interrupted() > tally.Invocations/2 && margin != "0s" {
		t.Errorf("%d of %d invocations were cut short despite the margin", tally.Interrupted(), tally.Invocations)
	}
	// Every request counted: the stored budget knows what TAP counted.
	if used, stored := w.sim.PoolUsed(tenant, "siem"), prev.siem.Budget; len(stored) == 0 || used < 74 {
		t.Errorf("%d requests, stored budget %s", used, stored)
	}
}

// testConcurrent invokes four execution environments at once on the
// siem stream, for three rounds of late-indexed events: the lease lets
// one collect, the others exit cleanly as locked, and every event
// arrives exactly once.
func testConcurrent(t *testing.T, bootstrap string) {
	const runners, rounds = 4, 3
	w := newWorld(t)
	rs := make([]*rietest.RIE, runners)
	for i := range rs {
		rs[i] = w.start(bootstrap, 60, "PP_LOOKBACK_HOURS=2")
	}
	totalLocked := 0
	for round := 1; round <= rounds; round++ {
		now := time.Now().UTC()
		// Events of the last minutes that TAP indexed only now.
		w.sim.Generate(tenant, proofpointtest.Traffic{From: now.Add(-25 * time.Minute), To: now.Add(-3 * time.Minute), MessagesPerHour: 200, ClicksPerHour: 100, IndexedAt: now, Seed: uint64(round)})
		outs := lambdatest.InvokeAll(t, rs, payload("siem"))
		collected, locked := 0, 0
		for i, o := range outs {
			switch {
			case o.Locked:
				locked++
				if o.Ran || !o.Success || o.Events != 0 || o.Stop != "locked" {
					t.Errorf("round %d runner %d: locked but %+v", round, i, o)
				}
			case o.Events > 0:
				collected++
			}
			if !o.Success {
				t.Errorf("round %d runner %d failed: %+v", round, i, o)
			}
		}
		if collected < 1 {
			t.Fatalf("round %d: no runner collected: %+v", round, outs)
		}
		totalLocked += locked
		t.Logf("round %d: %d collected, %d locked", round, collected, locked)
	}
	if totalLocked == 0 {
		t.Error("no runner ever found the stream locked; the test did not exercise the lease")
	}
	want, got := w.deliveredOnce(t)
	if len(got) != len(want) {
		t.Errorf("%d distinct events delivered, the simulator served %d", len(got), len(want))
	}
}
