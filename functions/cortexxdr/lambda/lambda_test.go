package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestLambda runs the real bootstrap under the Lambda Runtime Interface
// Emulator, against moto, the Cortex XDR simulator and a real rsyslog TLS
// relay. The subtests share one build.
func TestLambda(t *testing.T) {
	bootstrap := rietest.Build(t, pkgPath, t.TempDir())
	t.Run("delivers and commits", func(t *testing.T) { t.Parallel(); testDeliversAndCommits(t, bootstrap) })
	t.Run("secret rotation", func(t *testing.T) { t.Parallel(); testSecretRotation(t, bootstrap) })
	t.Run("catch-up killed by the timeout", func(t *testing.T) { testCatchUp(t, bootstrap, "0s") })
	t.Run("catch-up stops at the deadline margin", func(t *testing.T) { testCatchUp(t, bootstrap, "1s") })
	t.Run("eight concurrent runners", func(t *testing.T) { testConcurrentRunners(t, bootstrap) })
}

func testDeliversAndCommits(t *testing.T, bootstrap string) {
	w := newWorld(t)
	ids := w.backlog(450, time.Second)
	inc := w.sim.AddIncident(fqdn, cortexxdrtest.IncidentSpec{Created: time.Now().Add(-time.Hour)})
	w.sim.ChangeIncident(fqdn, inc, cortexxdrtest.IncidentChange{At: time.Now().Add(-3 * time.Second), Status: "under_investigation"})
	r := w.start(bootstrap, 60)

	out := lambdatest.Invoke(t, r, payload("alerts"))
	if !out.Success || out.Events != 450 || out.Stop != "caught_up" || !out.SummaryDelivered || out.Vendor != "cortex_xdr" || len(out.Errors) != 0 {
		t.Fatalf("alerts summary = %+v", out)
	}
	if out2 := lambdatest.Invoke(t, r, payload("incidents")); !out2.Success || out2.Events != 1 {
		t.Fatalf("incidents summary = %+v", out2)
	}
	w.WaitLines(450 + 1 + 2)
	got := w.delivered("alert")
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, got[id])
		}
	}
	if n := w.delivered("incident"); len(n) != 1 {
		t.Fatalf("incident changes %v", n)
	}
	// A warm invocation brings only what arrived since.
	more := w.arrive(30)
	if out3 := lambdatest.Invoke(t, r, payload("alerts")); !out3.Success || out3.Events != 30 || out3.Duplicates != 0 {
		t.Fatalf("second invocation = %+v", out3)
	}
	w.WaitLines(450 + 30 + 1 + 3)
	got = w.delivered("alert")
	for _, id := range append(ids, more...) {
		if got[id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, got[id])
		}
	}
	if rec := w.record("alerts"); rec.leased || rec.version == 0 {
		t.Errorf("record %+v", rec)
	}
	noSecrets(t, "emulator output", r.Log(), w.key, string(w.Relay.PKI.ClientKeyPEM))
	noSecrets(t, "delivered lines", strings.Join(w.Relay.Lines(), "\n"), w.key)
	noSecrets(t, "stored cursor", w.record("alerts").cursor, w.key)
}

// Rotation: the key is deleted and the secret gets a new one while the
// warm function still caches the old; one 401, one secret read, no loss.
func testSecretRotation(t *testing.T, bootstrap string) {
	w := newWorld(t)
	w.backlog(120, time.Second)
	r := w.start(bootstrap, 60)
	if out := lambdatest.Invoke(t, r, payload("alerts")); !out.Success || out.Events != 120 {
		t.Fatalf("first invocation: %+v", out)
	}
	reads := w.SecretReads()
	id, key := w.sim.AddKey(fqdn, cortexxdrtest.Key{})
	w.sim.DeleteKey(fqdn, w.keyID)
	w.RotateSecret(w.secretID(), w.creds(id, key))
	w.arrive(40)
	w.sim.ResetRequests()
	out := lambdatest.Invoke(t, r, payload("alerts"))
	if !out.Success || out.Events != 40 || len(out.Errors) != 0 {
		t.Fatalf("invocation after rotation = %+v", out)
	}
	w.CheckReauthenticated(t, w.sim.Answered(401), reads)
	noSecrets(t, "emulator output", r.Log(), w.key, key)
}

// testCatchUp runs a backlog longer than one invocation with a 2-second
// function timeout. With a margin, invocations stop on their own; with
// none, the timeout kills them (SIGTERM, then SIGKILL). Nothing may be
// lost, and an invocation may re-send at most the page it was delivering.
func testCatchUp(t *testing.T, bootstrap, margin string) {
	const pageSize = 100
	w := newWorld(t)
	ids := w.backlog(3000, time.Second)
	r := w.start(bootstrap, 2,
		lambdarun.EnvDeadlineMargin+"="+margin,
		// 8 requests a second: some 5 s of fetching, longer than an invocation.
		lambdarun.EnvRateLimit+"=480",
	)
	prev := w.record("alerts")
	tally := lambdatest.CatchUp{
		RIE: r, Payload: payload("alerts"), BacklogAtDeadline: true,
		// The deadline (or a slow moto on a busy machine) cut the last
		// commit or confirmation short: that page was not recorded as
		// delivered and the next invocation repeats it, as after a
		// timeout.
		Cut: func(res *rietest.Result) bool {
			return strings.Contains(res.ErrorMessage, "(STATE_WRITE_ERROR)") || strings.Contains(res.ErrorMessage, "(DELIVERY_FAILED)")
		},
		Moved: func() bool {
			rec := w.record("alerts")
			if rec.before(prev) {
				t.Fatalf("cursor moved backwards: %+v after %+v", rec, prev)
			}
			moved := prev.before(rec)
			prev = rec
			return moved
		},
	}.Run(t)
	got := w.deliveredAll("alert", ids)
	dups := 0
	for _, id := range ids {
		if got[id] == 0 {
			t.Fatalf("alert %s was never delivered", id)
		}
		dups += got[id] - 1
	}
	t.Logf("margin %s: %d invocations, %d stopped at the deadline, %d timed out, %d cut, %d found the stream locked, %d duplicates",
		margin, tally.Invocations, tally.StoppedAtDeadline, tally.TimedOut, tally.Cut, tally.Locked, dups)
	if tally.Invocations < 2 {
		t.Errorf("the backlog took %d invocations; the test needs one longer than an invocation", tally.Invocations)
	}
	// At most one page per interrupted invocation.
	tally.CheckDuplicates(t, dups, pageSize)
	tally.CheckMargin(t, margin, tally.Interrupted())
}

// testConcurrentRunners invokes eight execution environments at once on
// the same stream, for several rounds: the DynamoDB lease lets one collect,
// the others say the stream is locked; every alert arrives exactly once.
func testConcurrentRunners(t *testing.T, bootstrap string) {
	const runners, rounds, perRound = 8, 3, 800
	w := newWorld(t)
	rs := make([]*rietest.RIE, runners)
	for i := range rs {
		rs[i] = w.start(bootstrap, 60)
	}
	prev := w.record("alerts")
	stopWatch := lambdatest.Watch(t, func() error {
		rec := w.record("alerts")
		if rec.before(prev) {
			return fmt.Errorf("cursor moved backwards: %+v after %+v", rec, prev)
		}
		prev = rec
		return nil
	})
	var ids []string
	totalLocked := 0
	for round := 1; round <= rounds; round++ {
		ids = append(ids, w.arrive(perRound)...)
		outs := lambdatest.InvokeAll(t, rs, payload("alerts"))
		var events int64
		collected, locked := 0, 0
		for i, o := range outs {
			switch {
			case o.Locked:
				locked++
				if o.Ran || o.Events != 0 || o.Stop != "locked" {
					t.Errorf("round %d runner %d: locked but %+v", round, i, o)
				}
			case o.Events > 0:
				collected++
			}
			if !o.Success {
				t.Errorf("round %d runner %d failed: %+v", round, i, o)
			}
			events += o.Events
		}
		t.Logf("round %d: %d collected, %d locked", round, collected, locked)
		if collected != 1 || events != perRound {
			t.Fatalf("round %d: %d runners collected %d alerts; want one runner with all %d", round, collected, events, perRound)
		}
		totalLocked += locked
	}
	if err := stopWatch(); err != nil {
		t.Fatal(err)
	}
	if totalLocked == 0 {
		t.Errorf("no runner ever found the stream locked")
	}
	got := w.deliveredAll("alert", ids)
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("alert %s delivered %d times, want once", id, got[id])
		}
	}
}
