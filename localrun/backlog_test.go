package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// TestMillionEventBacklogInWodleRuns catches up a 1 000 000-event backlog
// through stdout the way Wazuh runs a wodle: every run stops at --max-bytes
// (far below Wazuh's 64 MiB output limit), commits and exits 0, and the
// runs that follow deliver the rest. One run is interrupted by SIGTERM.
func TestMillionEventBacklogInWodleRuns(t *testing.T) {
	const total = 1_000_000
	const maxBytes = 32 << 20
	h := newHarness(t, onepasswordtest.Options{})
	h.env["OP_LOOKBACK_HOURS"] = "120"
	h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, total, time.Now().Add(-100*time.Hour), 300*time.Millisecond)
	d := newDelivery()
	logFile := filepath.Join(h.dir, "run.log")
	args := []string{"--source", "audit", "--rate-limit", "-1", "--debug", "1", "--log-file", logFile}
	var peakRSS int64
	for run := 0; ; run++ {
		p := h.startProc(args...)
		var lines [][]byte
		bytes := 0
		for l := range p.lines {
			lines = append(lines, l)
			bytes += len(l)
			if run == 3 && len(lines) == 20_000 {
				p.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		p.all = lines
		res := p.wait(t)
		if bytes > maxBytes {
			t.Fatalf("run %d wrote %d bytes, more than --max-bytes %d", run, bytes, maxBytes)
		}
		if rss := lastPeakRSS(t, logFile); rss > peakRSS {
			peakRSS = rss
		}
		_, dups := d.add(res.lines)
		if dups > 1000 {
			t.Fatalf("run %d repeated %d events", run, dups)
		}
		if run == 3 {
			if res.exit != exitInterrupted {
				t.Fatalf("SIGTERM run exit %d", res.exit)
			}
			continue
		}
		if res.exit != 0 {
			t.Fatalf("run %d exit %d: %s", run, res.exit, res.stderr)
		}
		sum := summaries(t, lines[len(lines)-1:])
		if len(sum) != 1 {
			t.Fatalf("run %d did not end with its run_summary", run)
		}
		if sum[0]["audit_backlog"] == false {
			t.Logf("caught up after %d runs; peak RSS %d KiB", run+1, peakRSS)
			break
		}
		if sum[0]["audit_stop"] != "max_bytes" {
			t.Fatalf("run %d stopped for %v, want max_bytes", run, sum[0]["audit_stop"])
		}
		if run > 60 {
			t.Fatal("did not catch up")
		}
	}
	if miss := d.missing(h.sim.EventIDs("acme", onepasswordtest.StreamAuditEvents)); len(miss) > 0 {
		t.Fatalf("%d events lost", len(miss))
	}
	if peakRSS > 50*1024 {
		t.Errorf("peak RSS %d KiB, over 50 MB", peakRSS)
	}
}

// lastPeakRSS reads the peak RSS that the last finished run logged. A log
// line that is not JSON, a read error, or no "run finished" record with a
// positive peak fails the test: a silent 0 would pass any memory target.
func lastPeakRSS(t testing.TB, logFile string) int64 {
	t.Helper()
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var peak int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var rec struct {
			Msg  string `json:"msg"`
			Peak int64  `json:"peak_rss_kib"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s line %d is not JSON: %v: %.200q", logFile, n, err, sc.Bytes())
		}
		if rec.Msg == "run finished" {
			peak = rec.Peak
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", logFile, err)
	}
	if peak <= 0 {
		t.Fatalf("%s: no \"run finished\" record with a peak RSS", logFile)
	}
	return peak
}

// TestRunStopsAtMaxRuntimeAndMaxEvents: a wodle run ends on its own before
// Wazuh's timeout, commits what it delivered and exits 0; the next run
// continues.
func TestRunStopsAtMaxRuntimeAndMaxEvents(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, 5000, time.Now().Add(-5*time.Hour), time.Second)
	d := newDelivery()
	// Every page takes at least 300 ms, however fast the machine: within
	// a budget of maxRuntime at most maxRuntime/300 ms pages can be
	// fetched, so a run that delivers more did not stop at its deadline.
	// The budget is several times what a run of one such page takes on
	// this machine now (start, page, commit, exit), at least a second, so
	// that a busy machine still delivers a page before the deadline, and
	// at most 10 s: the 49 pages left need 14.7 s, so the run cannot
	// finish the backlog before its deadline.
	const pageDelay, pageSize = 300 * time.Millisecond, 100
	h.sim.Inject(onepasswordtest.Fault{Kind: onepasswordtest.FaultSlow, Delay: pageDelay, Count: 1000})
	began := time.Now()
	res := h.run("--source", "audit", "--page-limit", fmt.Sprint(pageSize), "--max-events", fmt.Sprint(pageSize))
	if n, _ := d.add(res.lines); res.exit != 0 || n != pageSize {
		t.Fatalf("one-page run: exit %d, %d events", res.exit, n)
	}
	maxRuntime := min(10*time.Second, max(time.Second, 4*time.Since(began))).Round(time.Millisecond)
	res = h.run("--source", "audit", "--page-limit", fmt.Sprint(pageSize), "--max-runtime", maxRuntime.String())
	sum := summaries(t, res.lines)
	if res.exit != 0 || len(sum) != 1 || sum[0]["audit_stop"] != "deadline" || sum[0]["audit_backlog"] != true {
		t.Fatalf("exit %d summary %v", res.exit, sum)
	}
	events, _ := d.add(res.lines)
	if events == 0 {
		t.Fatal("nothing delivered before the deadline")
	}
	if most := int(maxRuntime/pageDelay) * pageSize; events > most {
		t.Fatalf("%d events delivered with --max-runtime %v and %v pages: at most %d fit, fetching went past the deadline", events, maxRuntime, pageDelay, most)
	}
	h.sim.ClearFaults()
	res = h.run("--source", "audit", "--max-events", "1000", "--page-limit", "250")
	n, dups := d.add(res.lines)
	if sum := summaries(t, res.lines)[0]; res.exit != 0 || sum["audit_stop"] != "max_events" || n != 1000 || dups != 0 {
		t.Fatalf("exit %d, %d events, %d duplicates, summary %v", res.exit, n, dups, sum)
	}
	for i := 0; i < 10 && len(d.missing(h.sim.EventIDs("acme", onepasswordtest.StreamAuditEvents))) > 0; i++ {
		res = h.run("--source", "audit")
		if _, dups := d.add(res.lines); dups != 0 {
			t.Fatalf("%d duplicates", dups)
		}
	}
	if miss := d.missing(h.sim.EventIDs("acme", onepasswordtest.StreamAuditEvents)); len(miss) > 0 {
		t.Fatalf("%d events lost", len(miss))
	}
}

// TestRunUsesItsWholeBudget: with the backlog in one stream (audit) and
// little in the others, a run still prints up to --max-bytes: what the
// streams that caught up leave of their share goes round again to audit
// (pipeline.Runner.Run). Every event arrives once over the runs.
func TestRunUsesItsWholeBudget(t *testing.T) {
	const maxBytes = 4 << 20
	h := newHarness(t, onepasswordtest.Options{})
	from := time.Now().Add(-40 * time.Hour)
	h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, 20_000, from, 300*time.Millisecond)
	h.sim.Generate("acme", onepasswordtest.StreamSignInAttempts, 300, from, time.Second)
	h.sim.Generate("acme", onepasswordtest.StreamItemUsages, 300, from, time.Second)
	d := newDelivery()
	args := []string{"--source", "all", "--rate-limit", "-1", "--max-bytes", fmt.Sprint(maxBytes)}
	for run := 0; ; run++ {
		res := h.run(args...)
		if res.exit != 0 {
			t.Fatalf("run %d: exit %d: %s", run, res.exit, res.stderr)
		}
		bytes, longest := 0, 0
		for _, l := range res.lines {
			bytes += len(l)
			longest = max(longest, len(l))
		}
		if _, dups := d.add(res.lines); dups > 0 {
			t.Fatalf("run %d repeated %d events", run, dups)
		}
		sum := summaries(t, res.lines)
		if len(sum) != 1 {
			t.Fatalf("run %d: %d run summaries", run, len(sum))
		}
		if sum[0]["audit_backlog"] == false {
			break
		}
		if run == 0 {
			if sum[0]["signin_backlog"] != false || sum[0]["itemusage_backlog"] != false || sum[0]["audit_stop"] != "max_bytes" {
				t.Fatalf("first run's summary %v: signin and itemusage should catch up, audit stop at the budget", sum[0])
			}
			// Short of the budget by less than one more audit page (1 000
			// events, none longer than the longest line seen).
			if bytes > maxBytes || bytes < maxBytes-1000*longest {
				t.Fatalf("first run printed %d bytes of a %d budget (longest line %d): the streams that caught up left theirs unused", bytes, maxBytes, longest)
			}
		}
		if run > 30 {
			t.Fatal("did not catch up")
		}
	}
	for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
		if miss := d.missing(h.sim.EventIDs("acme", s)); len(miss) > 0 {
			t.Fatalf("%s: %d events lost", s, len(miss))
		}
	}
}
