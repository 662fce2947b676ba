package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestLambda runs the real bootstrap, built for this machine the way
// make package builds it for arm64, under the Lambda Runtime Interface
// Emulator, against moto, the 1Password simulator and a real rsyslog TLS
// relay. The subtests share one build.
func TestLambda(t *testing.T) {
	bootstrap := rietest.Build(t, pkgPath, t.TempDir())
	t.Run("delivers and commits", func(t *testing.T) { t.Parallel(); testDeliversAndCommits(t, bootstrap) })
	t.Run("invalid input", func(t *testing.T) { t.Parallel(); testInvalidInput(t, bootstrap) })
	t.Run("invalid configuration", func(t *testing.T) { t.Parallel(); testInvalidConfig(t, bootstrap) })
	t.Run("secret rotation", func(t *testing.T) { t.Parallel(); testSecretRotation(t, bootstrap) })
	t.Run("catch-up stops at the deadline margin", func(t *testing.T) { testCatchUp(t, bootstrap, "1s") })
	t.Run("catch-up killed by the timeout", func(t *testing.T) { testCatchUp(t, bootstrap, "0s") })
	t.Run("eight concurrent runners", func(t *testing.T) { testConcurrentRunners(t, bootstrap) })
}

func testDeliversAndCommits(t *testing.T, bootstrap string) {
	w := newWorld(t)
	w.generate(2500, time.Second)
	r := w.start(bootstrap, 60, "OP_PAGE_LIMIT=500")

	out := lambdatest.Invoke(t, r, payload("audit"))
	if !out.Success || !out.Ran || out.Locked || out.Events != 2500 || out.Pages != 5 || !out.CursorAdvanced ||
		out.Backlog || out.Stop != "caught_up" || !out.SummaryDelivered || len(out.Errors) != 0 {
		t.Fatalf("summary = %+v; want 2500 events in 5 pages, caught up, cursor advanced", out)
	}
	if out.LagSeconds == nil || *out.LagSeconds < 55 || *out.LagSeconds > 600 || out.NewestEvent == "" {
		t.Errorf("lag = %v, newest %q; the newest event is about a minute old", out.LagSeconds, out.NewestEvent)
	}
	w.WaitLines(2500 + 1)
	got := w.delivered()
	for _, id := range w.sim.EventIDs(tenant, onepasswordtest.StreamAuditEvents) {
		if got[id] != 1 {
			t.Fatalf("event %s delivered %d times, want once", id, got[id])
		}
	}
	summary := findSummary(t, w.Relay.Lines(), out.RunID)
	for k, want := range map[string]any{"audit_ran": true, "audit_success": true, "audit_events": 2500.0, "audit_stop": "caught_up", "audit_backlog": false} {
		if summary[k] != want {
			t.Errorf("run_summary %s = %v, want %v (summary %v)", k, summary[k], want, summary)
		}
	}
	if _, listed := summary["signin_ran"]; listed {
		t.Errorf("run_summary lists the signin stream, which runs in its own invocation: %v", summary)
	}

	rec := w.record("audit")
	if rec.version != 5 || rec.leased || rec.lastTS.Format(time.RFC3339Nano) != out.NewestEvent {
		t.Errorf("DynamoDB record = %+v; want version 5 (one commit per page), lease released, last_ts %s", rec, out.NewestEvent)
	}
	// Steady state: one conditional write per page, plus one per dedup
	// chunk the page's keys needed; plus the lease taken and released,
	// and one read, per invocation.
	if n, chunks := w.ddb.Count("DynamoDB.UpdateItem"), w.dedupChunks("audit"); n != 5+2+chunks || chunks > 5 {
		t.Errorf("%d UpdateItem calls for 5 pages and %d dedup chunks, want %d (lock, 5 commits, chunks, release): %v", n, chunks, 7+chunks, w.ddb.Counts())
	}
	if n := w.ddb.Count("DynamoDB.GetItem"); n != 1 {
		t.Errorf("%d GetItem calls, want 1", n)
	}

	// A warm invocation: no init, no secret read, only the new events.
	w.generate(300, time.Millisecond)
	out2 := lambdatest.Invoke(t, r, payload("audit"))
	if !out2.Success || out2.Events != 300 {
		t.Fatalf("second invocation = %+v, want 300 events", out2)
	}
	if n := len(r.WaitInitDurations(lambdatest.Context(t), 1)); n != 1 {
		t.Errorf("%d init phases for two invocations, want 1 (warm start)", n)
	}
	if n := w.SecretReads(); n != 2 {
		t.Errorf("%d GetSecretValue calls over two invocations, want 2 (credentials and TLS material, then cached)", n)
	}

	// One EMF line per invocation, with the numbers of the summary. The
	// emulator may answer before the function's last output line has been
	// read from its pipe: wait for it.
	var emf []map[string]any
	var logs []map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		emf, logs = nil, nil
		for _, m := range r.JSONLines() {
			if _, ok := m["_aws"]; ok {
				emf = append(emf, m)
			} else if m["msg"] != nil {
				logs = append(logs, m)
			}
		}
		if len(emf) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(emf) != 2 {
		t.Fatalf("%d EMF lines, want 2", len(emf))
	}
	if emf[0]["Events"] != 2500.0 || emf[0]["Pages"] != 5.0 || emf[0]["Backlog"] != 0.0 || emf[0]["stream"] != "audit" || emf[0]["tenant"] != tenant {
		t.Errorf("EMF line = %v", emf[0])
	}
	cw := emf[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if cw["Namespace"] != "WazuhPull" {
		t.Errorf("namespace = %v", cw["Namespace"])
	}
	var done int
	for _, l := range logs {
		if l["msg"] == "stream done" && l["run_id"] != nil {
			done++
		}
	}
	if done != 2 {
		t.Errorf("%d structured 'stream done' log lines, want 2; logs: %v", done, logs)
	}

	noSecrets(t, "emulator output", r.Log(), w.token, string(w.Relay.PKI.ClientKeyPEM))
	noSecrets(t, "delivered lines", strings.Join(w.Relay.Lines(), "\n"), w.token)
	noSecrets(t, "stored cursor", rec.cursor, w.token)
}

func findSummary(t *testing.T, lines []string, runID string) map[string]any {
	t.Helper()
	for _, s := range lines {
		l := decodeLine(t, s)
		if l.Op.EventType == "run_summary" && l.Op.Meta.RunID == runID {
			return l.fields["op"].(map[string]any)
		}
	}
	t.Fatalf("no run_summary for run %s", runID)
	return nil
}

func testInvalidInput(t *testing.T, bootstrap string) {
	w := newWorld(t)
	r := w.start(bootstrap, 30)
	for _, c := range []struct{ payload, want string }{
		{`{}`, `"stream" is required`},
		{`{"stream":"audit"}`, `"tenant" is required`},
		{`{"stream":"auditevents","tenant":"acme"}`, `"stream" "auditevents" is not a 1password stream: use one of audit, signin, itemusage`},
		{`{"stream":"audit","tenant":"acme/other"}`, `"tenant": "acme/other" may only contain letters, digits, '-' and '_'`},
		{`{"stream":"audit","tenant":"acme","tenent":"x"}`, `unknown field "tenent"`},
		{`{"stream":1,"tenant":"acme"}`, `field "stream" must be a string`},
		{`"audit"`, `payload is a JSON string; want an object`},
		{`not json`, `payload is not valid JSON`},
	} {
		res, err := r.Invoke(ctx(t), []byte(c.payload))
		if err != nil {
			t.Fatal(err)
		}
		if res.ErrorType != "InputError" || !strings.Contains(res.ErrorMessage, c.want) {
			t.Errorf("payload %s: %s; want InputError containing %q", c.payload, res, c.want)
		}
	}
	if rec := w.record("audit"); rec.version != 0 || rec.leased {
		t.Errorf("an invalid invocation touched state: %+v", rec)
	}
	if n := len(r.WaitInitDurations(lambdatest.Context(t), 1)); n != 1 {
		t.Errorf("%d init phases: an invalid input must not crash the function", n)
	}
	// Invalid invocations still count in the vendor-wide error metric.
	var refused int
	for _, m := range r.JSONLines() {
		if m["Errors_CONFIG_INVALID"] == 1.0 && m["stream"] == nil {
			refused++
		}
	}
	if refused != 8 {
		t.Errorf("%d vendor-level error metric lines for 8 invalid invocations", refused)
	}
}

func testInvalidConfig(t *testing.T, bootstrap string) {
	w := newWorld(t)
	canary := "op-token-" + onepasswordtest.TokenCanary
	r := w.start(bootstrap, 30,
		lambdarun.EnvStateTable+"=",
		lambdarun.EnvSyslogURL+"=udp://127.0.0.1:514",
		lambdarun.EnvDeadlineMargin+"=10",
		"OP_BEARER_TOKEN="+canary,
		"OP_PAGE_LIMIT=5000",
	)
	res, err := r.Invoke(ctx(t), payload("audit"))
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorType != "ConfigError" {
		t.Fatalf("invocation with a bad configuration: %s; want ConfigError", res)
	}
	for _, want := range []string{
		lambdarun.EnvStateTable + ": is required",
		lambdarun.EnvSyslogURL + ": udp:// is not supported",
		lambdarun.EnvDeadlineMargin + `: "10" is not a duration`,
		"OP_BEARER_TOKEN: must not be set in Lambda",
		"OP_PAGE_LIMIT: \"5000\" is not a whole number from 1 to 1000",
	} {
		if !strings.Contains(res.ErrorMessage, want) {
			t.Errorf("error %q does not say %q", res.ErrorMessage, want)
		}
	}
	noSecrets(t, "configuration error", res.ErrorMessage, canary)
	noSecrets(t, "emulator output", r.Log(), canary)
}

func testSecretRotation(t *testing.T, bootstrap string) {
	w := newWorld(t)
	w.generate(200, time.Second)
	r := w.start(bootstrap, 60)
	if out := lambdatest.Invoke(t, r, payload("signin")); !out.Success {
		t.Fatalf("first invocation: %+v", out)
	}
	if out := lambdatest.Invoke(t, r, payload("audit")); !out.Success || out.Events != 200 {
		t.Fatalf("first invocation: %+v", out)
	}
	reads := w.SecretReads()

	// Rotation: the old token dies, the secret gets a new one. The warm
	// function still has the old token cached (TTL 15 minutes).
	w.sim.RevokeToken(w.token)
	fresh := w.sim.AddToken(tenant, onepasswordtest.Token{})
	w.RotateSecret(w.secretID(), w.secret(fresh))
	w.generate(100, time.Millisecond)
	w.sim.ResetRequests()

	out := lambdatest.Invoke(t, r, payload("audit"))
	if !out.Success || out.Events != 100 || len(out.Errors) != 0 {
		t.Fatalf("invocation after rotation = %+v; want success with the 100 new events and no error", out)
	}
	w.CheckReauthenticated(t, w.sim.Answered(401), reads)
	noSecrets(t, "emulator output", r.Log(), w.token, fresh)
}

// testCatchUp runs a backlog that takes several invocations with a
// 2-second function timeout. With a margin, invocations stop on their own
// before the deadline; with none, the emulator's timeout interrupts
// invocations (SIGTERM, then SIGKILL) and the next one starts cold.
// Either way nothing may be lost, and an invocation may re-send at most
// the page it was delivering when it was stopped.
//
// Nothing here depends on how fast the machine is. An invocation whose
// finishing work (confirmation, commit, lease release, run summary) did
// not fit in the margin because moto or rsyslog answered slowly is "cut":
// the emulator timed it out, or its commit ran into the invocation's
// deadline (STATE_WRITE_ERROR). Both are the product's documented
// behaviour and may cost one page of duplicates each. Progress is checked
// per invocation, not against a clock.
func testCatchUp(t *testing.T, bootstrap, margin string) {
	const pageSize, total, timeout = 100, 4000, 2
	marginDur, err := time.ParseDuration(margin)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	w.generate(total, time.Second)
	r := w.start(bootstrap, timeout,
		"OP_PAGE_LIMIT=100",
		lambdarun.EnvDeadlineMargin+"="+margin,
		// 8 requests a second: a catch-up of 5 s of fetching, longer
		// than any one invocation.
		lambdarun.EnvRateLimit+"=480",
		// Unpaced syslog: this is about the deadline margin, which a
		// paced stop would pre-empt (pacing: shared/lambdarun's tests).
		lambdarun.EnvSyslogBudget+"=-1",
	)
	prev := w.record("audit")
	tally := lambdatest.CatchUp{
		RIE: r, Payload: payload("audit"), BacklogAtDeadline: true,
		// The commit of a delivered page was still running when the
		// invocation's deadline came: the page is sent again next time.
		Cut: func(res *rietest.Result) bool {
			return strings.Contains(res.ErrorMessage, "("+pipeline.CodeStateWrite+")") &&
				res.Elapsed >= time.Duration(timeout)*time.Second-marginDur
		},
		Moved: func() bool {
			rec := w.record("audit")
			if rec.version < prev.version || rec.lastTS.Before(prev.lastTS) {
				t.Fatalf("cursor moved backwards: %+v after %+v", rec, prev)
			}
			moved := rec.version > prev.version
			prev = rec
			return moved
		},
	}.Run(t)
	ids := w.sim.EventIDs(tenant, onepasswordtest.StreamAuditEvents)
	got := w.deliveredAll(ids)
	dups := 0
	for _, id := range ids {
		if got[id] == 0 {
			t.Fatalf("event %s was never delivered", id)
		}
		dups += got[id] - 1
	}
	t.Logf("margin %s: %d invocations, %d stopped at the deadline, %d timed out, %d commits cut by the deadline, %d found the stream locked, %d duplicates; init durations %v",
		margin, tally.Invocations, tally.StoppedAtDeadline, tally.TimedOut, tally.Cut, tally.Locked, dups, r.InitDurations())
	if tally.Invocations < 2 {
		t.Errorf("the backlog took %d invocations; the test needs one longer than an invocation", tally.Invocations)
	}
	// At most one page per cut invocation.
	tally.CheckDuplicates(t, dups, pageSize)
	// Without a margin, a cut commit is not an interruption by the timeout.
	tally.CheckMargin(t, margin, tally.TimedOut)
}

// testConcurrentRunners invokes eight execution environments (eight
// emulators, eight bootstrap processes) at once on the same stream, for
// several rounds. The DynamoDB lease lets one of them collect; the others
// exit cleanly with a "locked" summary. Every event arrives exactly once
// and the cursor never moves backwards, even while they race.
func testConcurrentRunners(t *testing.T, bootstrap string) {
	const runners, rounds, perRound = 8, 3, 2000
	w := newWorld(t)
	rs := make([]*rietest.RIE, runners)
	for i := range rs {
		rs[i] = w.start(bootstrap, 60, "OP_PAGE_LIMIT=100")
	}
	t.Logf("%d emulators started", runners)

	// Watch the record while the runners race.
	prev := w.record("audit")
	stopWatch := lambdatest.Watch(t, func() error {
		rec := w.record("audit")
		if rec.version < prev.version || rec.lastTS.Before(prev.lastTS) {
			return fmt.Errorf("cursor moved backwards: %+v after %+v", rec, prev)
		}
		prev = rec
		return nil
	})

	totalLocked := 0
	for round := 1; round <= rounds; round++ {
		w.generate(perRound, time.Second)
		roundStart := time.Now()
		outs := lambdatest.InvokeAll(t, rs, payload("audit"))
		var events int64
		var collected, locked, idle int
		for i, o := range outs {
			switch {
			case o.Locked:
				locked++
				if o.Ran || !o.Success || o.Events != 0 || o.CursorAdvanced || o.Stop != "locked" {
					t.Errorf("round %d runner %d: locked but %+v", round, i, o)
				}
			case o.Events > 0:
				collected++
			default:
				idle++ // ran after the winner had finished: nothing left
			}
			if !o.Success {
				t.Errorf("round %d runner %d failed: %+v", round, i, o)
			}
			events += o.Events
		}
		t.Logf("round %d (%v): %d collected, %d locked, %d found nothing left", round, time.Since(roundStart).Round(time.Millisecond), collected, locked, idle)
		if collected != 1 || events != perRound {
			t.Fatalf("round %d: %d runners collected %d events; want one runner with all %d", round, collected, events, perRound)
		}
		totalLocked += locked
	}
	if err := stopWatch(); err != nil {
		t.Fatal(err)
	}
	if totalLocked == 0 {
		t.Errorf("no runner ever found the stream locked; the test did not exercise the lease")
	}
	ids := w.sim.EventIDs(tenant, onepasswordtest.StreamAuditEvents)
	got := w.deliveredAll(ids)
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("event %s delivered %d times, want exactly once", id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("%d distinct events delivered, the simulator has %d", len(got), len(ids))
	}
	// The locked runners said so in Wazuh too.
	var lockedSummaries int
	for _, s := range w.Relay.Lines() {
		l := decodeLine(t, s)
		if l.Op.EventType == "run_summary" && l.fields["op"].(map[string]any)["audit_stop"] == "locked" {
			lockedSummaries++
		}
	}
	if lockedSummaries != totalLocked {
		t.Errorf("%d locked run_summary events, %d locked invocations", lockedSummaries, totalLocked)
	}
}
