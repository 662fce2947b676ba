package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/hostrun"
	"github.com/wazuh-pull/wazuh-pull/shared/wazuhlab"
)

// The restart suite for the other vendors: the Proofpoint SIEM stream and
// the Cortex XDR alerts stream run as a <wodle name="command"> of a real
// wazuh-modulesd 4.14.7 (shared/wazuhlab) while modulesd is stopped with
// SIGTERM and killed with SIGKILL in the middle of forwarding a run, and
// started again. A simpler form of restartSuite (wodle_engine_test.go):
//
//   - vendorRounds rounds, at least one SIGTERM and one SIGKILL, each at a
//     point drawn from a logged seed (WODLE_SEED) in the first half of a
//     run's lines, while modulesd still forwards that run (its run
//     summary, the run's last line, not archived yet);
//   - runs of vendorPerRun events (--max-events), a backlog of
//     vendorBacklog events: the rounds never see the wodle catch up (a run
//     that does fails the test, rather than topping the backlog up), and
//     catching up takes several runs after them;
//   - at the end, once a run found nothing left to read: every event the
//     simulator holds is in archives.json at least once, identified by
//     its content (Proofpoint: type/GUID/recipient or type/click id, as
//     proofpointtest.LineIdentity recomputes it; Cortex XDR: alert_id);
//   - duplicates at most one run per restart (docs/wodle.md, "Restarts
//     cost duplicates, never loss": a restart during forwarding discards
//     the run's pending position and the next run reads that run again,
//     forwarded part included). A run is at most vendorPerRun events, or
//     one page when a page is larger (a Proofpoint window; none is, here).
//
// Every wait follows archives.json; the only bound is a stall limit
// derived from the wodle's schedule. WODLE_SEED also draws the simulator's
// data, so a failure replays with the same events. WODLE_COMMIT=immediate
// runs the suite with the commit-on-read of the code before pending
// positions existed: it then fails, naming the events lost.
const (
	vendorRounds   = 3
	vendorPerRun   = 500
	vendorBacklog  = 3000
	vendorInterval = 4 * time.Second // the wodle's <interval>
	vendorRuntime  = time.Second     // localrun --max-runtime
	vendorMaxEPS   = 1000
)

func TestWodleSurvivesModulesdRestartsProofpoint(t *testing.T) {
	vendorRestartSuite(t, vendorCase{
		name:  "proofpoint",
		lines: wodleLines{ns: "pp", typeKey: "event_type", stream: "siem", identity: proofpointtest.LineIdentity},
		setup: func(t *testing.T, dir string, seed uint64) (map[string]string, func() []string, func() int) {
			sim := proofpointtest.New(proofpointtest.Options{})
			t.Cleanup(sim.Close)
			cred := sim.AddTenant("acme", proofpointtest.Tenant{})
			// 30 hours of traffic ending an hour ago (older than the
			// overlap and the safety lag: settled, read once), about 100
			// events an hour (a message makes about 1.6 events, one per
			// recipient): one-hour windows well below a run.
			to := time.Now().Add(-time.Hour).UTC().Truncate(time.Minute)
			const span = 30 * time.Hour
			perHour := float64(vendorBacklog) / span.Hours()
			n := sim.Generate("acme", proofpointtest.Traffic{From: to.Add(-span), To: to,
				MessagesPerHour: perHour * 0.42, ClicksPerHour: perHour / 3, MaxIndexLag: -1, Seed: seed})
			t.Logf("proofpoint: %d SIEM events from %s to %s", n, to.Add(-span).Format(time.RFC3339), to.Format(time.RFC3339))
			env := map[string]string{
				"PP_PRINCIPAL":      cred.Principal,
				"PP_SECRET":         cred.Secret,
				"PP_BASE_URL":       sim.URL,
				"PP_STATE_FILE":     filepath.Join(dir, "state.json"),
				"PP_SECRETS_FILE":   filepath.Join(dir, "absent.secrets"),
				"PP_LOOKBACK_HOURS": "32",
			}
			ids := func() []string {
				var out []string
				for _, e := range sim.Events("acme") {
					if e.Status != "falsePositive" {
						out = append(out, e.Identity)
					}
				}
				return out
			}
			largestWindow := func() int {
				w := 0
				for _, r := range sim.Requests() {
					w = max(w, r.Events)
				}
				return w
			}
			return env, ids, largestWindow
		},
	})
}

func TestWodleSurvivesModulesdRestartsCortexXDR(t *testing.T) {
	vendorRestartSuite(t, vendorCase{
		name: "cortexxdr",
		lines: wodleLines{ns: "xdr", typeKey: "type", stream: "alerts", identity: func(x map[string]any) string {
			switch id := x["alert_id"].(type) {
			case string:
				return id
			case float64:
				return strconv.FormatFloat(id, 'f', -1, 64)
			}
			return ""
		}},
		setup: func(t *testing.T, dir string, seed uint64) (map[string]string, func() []string, func() int) {
			sim := cortexxdrtest.New(cortexxdrtest.Options{RateLimit: -1})
			t.Cleanup(sim.Close)
			sim.AddTenant(xdrFQDN, cortexxdrtest.Tenant{Seed: int64(seed >> 1)})
			id, key := sim.AddKey(xdrFQDN, cortexxdrtest.Key{})
			// Full alerts (~5.7 KB each) inserted over 5 hours ending an
			// hour ago, read in pages of 100.
			to := time.Now().Add(-time.Hour)
			const span = 5 * time.Hour
			specs := make([]cortexxdrtest.AlertSpec, vendorBacklog)
			for i := range specs {
				specs[i].Inserted = to.Add(-span + time.Duration(i)*span/vendorBacklog)
			}
			sim.AddAlerts(xdrFQDN, specs)
			env := map[string]string{
				"XDR_FQDN":           "https://api-" + xdrFQDN + "/",
				"XDR_API_KEY_ID":     id,
				"XDR_API_KEY":        key,
				"XDR_BASE_URL":       sim.URL,
				"XDR_STATE_FILE":     filepath.Join(dir, "state.json"),
				"XDR_SECRETS_FILE":   filepath.Join(dir, "absent.secrets"),
				"XDR_LOOKBACK_HOURS": "8",
			}
			return env, func() []string { return sim.AlertIDs(xdrFQDN) }, func() int { return 100 }
		},
	})
}

// vendorCase is one vendor's stream as the suite drives and reads it.
type vendorCase struct {
	name  string     // localrun's subcommand
	lines wodleLines // the stream (--source) and how its lines read
	// setup fills a simulator (its data drawn from seed) and returns
	// localrun's environment, the identities of the events the simulator
	// holds and the largest page it served.
	setup func(t *testing.T, dir string, seed uint64) (env map[string]string, ids func() []string, largestPage func() int)
}

func vendorRestartSuite(t *testing.T, v vendorCase) {
	seed, commit, rng := restartSettings(t, 0x7e5d)
	started := time.Now()

	dir := t.TempDir()
	env, simIDs, largestPage := v.setup(t, dir, seed)
	env["PATH"] = os.Getenv("PATH")
	for k, def := range map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			env[k] = def
		}
	}

	// How long a daemon may take to stop, as wazuh-control and the lab wait.
	const stopBound = 10 * time.Second
	l := wazuhlab.Open(t, wazuhlab.Options{InternalOptions: map[string]string{"wazuh_modules.max_eps": strconv.Itoa(vendorMaxEPS)}, StopTimeout: stopBound}, wazuhlab.Analysisd)
	// A wrapper script that sets the environment and runs localrun (not
	// exec'd: localrun looks through the shell for modulesd).
	wrapper := filepath.Join(dir, "wodle.sh")
	var script strings.Builder
	script.WriteString("#!/bin/sh\n")
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&script, "%s='%s'; export %s\n", k, env[k], k)
	}
	logFile := filepath.Join(dir, "localrun.log")
	fmt.Fprintf(&script, "%s %s --source %s --rate-limit -1 --commit %s --max-events %d --wodle-interval %ds --max-runtime %s --debug 2 --log-file %s\n",
		binary, v.name, v.lines.stream, commit, vendorPerRun, int(vendorInterval/time.Second), vendorRuntime, logFile)
	if err := os.WriteFile(wrapper, []byte(script.String()), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tag := v.name
	if err := l.AddWodle(ctx, wazuhlab.Wodle{Tag: tag, Command: "/bin/sh " + wrapper, Interval: fmt.Sprintf("%ds", int(vendorInterval/time.Second)), Timeout: 60}); err != nil {
		t.Fatal(err)
	}
	tail, err := l.TailArchives()
	if err != nil {
		t.Fatal(err)
	}
	a := &archive{t: t, kind: v.lines, tail: tail, location: "command_" + tag, runs: map[string]*archivedRun{}, events: map[string]int{}, fed: map[string]bool{},
		// A line must arrive within one schedule period: the next run is
		// due within <interval>, ends within --max-runtime plus the
		// shutdown grace, and modulesd forwards its first line at once.
		// Tripled for a busy machine.
		stall: 3 * (vendorInterval + vendorRuntime + hostrun.ShutdownGrace)}
	if err := l.Start(ctx, wazuhlab.Modulesd); err != nil {
		t.Fatal(err)
	}

	// Both signals whatever the seed, in an order and with a third drawn
	// from it.
	sigs := []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}
	for len(sigs) < vendorRounds {
		sigs = append(sigs, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}[rng.IntN(2)])
	}
	rng.Shuffle(len(sigs), func(i, j int) { sigs[i], sigs[j] = sigs[j], sigs[i] })
	type kill struct {
		sig    syscall.Signal
		run    string
		target int // the run's lines archived when the signal went
	}
	var kills []kill
	targeted := map[string]bool{}
	for round, sig := range sigs {
		// In the first half of a run, which every run with a backlog
		// reaches: it prints vendorPerRun events, or less the part of a
		// page that would not fit (Proofpoint stops before a one-hour
		// window that would pass the bound; these hold 100-odd events).
		target := 1 + rng.IntN(vendorPerRun/2)
		run := a.waitForwarding(target, targeted, func() {
			// Idle runs would keep the waits going: the backlog must
			// outlast the rounds.
			t.Fatalf("round %d: a run caught up: a backlog of %d is too small for %d rounds", round, vendorBacklog, vendorRounds)
		})
		at := a.runs[run].lines
		stopModulesd(ctx, t, l, sig, stopBound, round)
		targeted[run] = true
		kills = append(kills, kill{sig: sig, run: run, target: at})
		if err := l.Start(ctx, wazuhlab.Modulesd); err != nil {
			t.Fatal(err)
		}
	}
	a.waitIdle()

	ids := simIDs()
	known := make(map[string]bool, len(ids))
	var lost []string
	dups := 0
	for _, id := range ids {
		known[id] = true
		switch n := a.events[id]; {
		case n == 0:
			lost = append(lost, id)
		case n > 1:
			dups += n - 1
		}
	}
	var unknown []string
	for id := range a.events {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	for i, k := range kills {
		// Lines modulesd sent before it went may reach archives.json
		// later: analysisd still had them in its queue.
		t.Logf("round %d: %v after %d lines of run %s; %d of its lines archived in all", i, k.sig, k.target, k.run, a.runs[k.run].lines)
	}
	perRun := max(vendorPerRun, largestPage())
	bound := len(kills) * perRun
	t.Logf("%s: %d vendor events, %d runs, %d lines archived in %v; %d lost, %d duplicates (bound %d = %d restarts × %d events per run)",
		v.name, len(ids), len(a.order), a.lines, time.Since(started).Round(time.Second), len(lost), dups, bound, len(kills), perRun)
	if len(a.bad) > 0 {
		t.Errorf("%d archived lines were not decoded as %s lines; first: %.300s", len(a.bad), v.name, a.bad[0])
	}
	if len(a.errs) > 0 {
		t.Errorf("%d error events archived; first: %.300s", len(a.errs), a.errs[0])
	}
	if len(unknown) > 0 {
		t.Errorf("%d archived events the simulator does not hold, e.g. %v", len(unknown), unknown[:min(5, len(unknown))])
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d events never reached archives.json (first %v)", len(lost), len(ids), lost[:min(5, len(lost))])
		a.explainLoss(logFile)
	}
	if dups > bound {
		t.Errorf("%d duplicates, more than one run (%d events) per restart (%d)", dups, perRun, len(kills))
	}
	a.checkSummaries(commit, vendorPerRun, "--max-events", vendorMaxEPS, l.Home)
}

// explainLoss logs, for a failure, what each run archived and localrun's
// log lines that show the runs' plans and decisions on positions.
func (a *archive) explainLoss(logFile string) {
	t := a.t
	for _, id := range a.order {
		r := a.runs[id]
		t.Logf("run %s: %d lines, %d events archived, summary %v", id, r.lines, r.events, r.summary)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Logf("localrun log: %v", err)
		return
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var rec struct {
			Msg   string `json:"msg"`
			Level string `json:"level"`
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		if rec.Level != "DEBUG" || slices.ContainsFunc([]string{"pending", "cursor", "commit", "promot", "discard"}, func(s string) bool { return strings.Contains(string(line), s) }) {
			t.Logf("localrun: %s", line)
		}
	}
}
