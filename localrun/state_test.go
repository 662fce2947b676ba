package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// TestTwoProcessesNeverRunTheSameStream starts overlapping localrun
// processes on one state file, round after round. A stream is run by one
// process at a time, so with no crash every event is delivered exactly
// once in total, and a process that finds a stream busy says so.
func TestTwoProcessesNeverRunTheSameStream(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
		h.sim.Generate("acme", s, 6000, time.Now().Add(-10*time.Hour), 5*time.Second)
	}
	d := newDelivery()
	sawLocked := false
	for round := 0; round < 6; round++ {
		// Slow pages keep each process inside its streams for a while.
		h.sim.Inject(onepasswordtest.Fault{Kind: onepasswordtest.FaultSlow, Delay: 150 * time.Millisecond, Count: 4})
		var wg sync.WaitGroup
		results := make([]result, 3)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = h.run("--page-limit", "500", "--max-events", "4000")
			}(i)
			time.Sleep(20 * time.Millisecond)
		}
		wg.Wait()
		for _, res := range results {
			if res.exit != exitOK && res.exit != exitLocked {
				t.Fatalf("exit %d: %s", res.exit, res.stderr)
			}
			if _, dups := d.add(res.lines); dups > 0 {
				t.Fatalf("round %d: %d events delivered by two processes", round, dups)
			}
			for _, s := range summaries(t, res.lines) {
				for _, name := range []string{"audit", "signin", "itemusage"} {
					if s[name+"_stop"] == "locked" {
						sawLocked = true
						if res.exit != exitLocked && res.exit != exitOK {
							t.Fatalf("locked stream but exit %d", res.exit)
						}
					}
				}
			}
		}
	}
	for i := 0; ; i++ {
		res := h.run()
		if _, dups := d.add(res.lines); dups > 0 || res.exit != exitOK {
			t.Fatalf("catch-up run: exit %d, %d duplicates", res.exit, dups)
		}
		if sum := summaries(t, res.lines)[0]; sum["audit_backlog"] == false && sum["signin_backlog"] == false && sum["itemusage_backlog"] == false {
			break
		}
		if i > 20 {
			t.Fatal("did not catch up")
		}
	}
	for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
		for _, id := range h.sim.EventIDs("acme", s) {
			if d.count[id] != 1 {
				t.Fatalf("%s event delivered %d times", s, d.count[id])
			}
		}
	}
	if !sawLocked {
		t.Fatal("no process ever found a stream locked: the overlap did not happen")
	}
}

// seedCursor asks the simulator for a real cursor after the first n events,
// as the seed wodle would have stored it.
func seedCursor(t *testing.T, h *harness, path string, n int) string {
	t.Helper()
	body := `{"limit":` + itoa(n) + `,"start_time":"` + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339) + `"}`
	req, _ := http.NewRequest("POST", h.sim.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Cursor string            `json:"cursor"`
		Items  []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || len(page.Items) != n {
		t.Fatalf("seed cursor: %v, %d items", err, len(page.Items))
	}
	return page.Cursor
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestAdoptsTheSeedStateFile: switching from the seed wodle neither
// re-reads nor skips anything, and the seed's keys are left in place.
func TestAdoptsTheSeedStateFile(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, 700, time.Now().Add(-2*time.Hour), time.Second)
	cur := seedCursor(t, h, "/api/v2/auditevents", 300)
	seed := `{"audit_cursor": "` + cur + `", "audit_last_poll": "2026-03-22T10:00:00Z"}`
	os.WriteFile(h.env["OP_STATE_FILE"], []byte(seed), 0o640)
	res := h.run("--source", "audit")
	if res.exit != 0 {
		t.Fatalf("exit %d", res.exit)
	}
	d := newDelivery()
	d.add(res.lines)
	ids := h.sim.EventIDs("acme", onepasswordtest.StreamAuditEvents)
	for i, id := range ids {
		if want := map[bool]int{true: 0, false: 1}[i < 300]; d.count[id] != want {
			t.Fatalf("event %d delivered %d times, want %d (the seed had delivered the first 300)", i, d.count[id], want)
		}
	}
	state, _ := os.ReadFile(h.env["OP_STATE_FILE"])
	if !bytes.Contains(state, []byte(`"audit_cursor": "`+cur+`"`)) {
		t.Fatalf("seed keys not preserved: %s", state)
	}
}

// TestBackfillLeavesTheCursorAlone: --all reads the lookback window and
// neither reads nor moves the stored cursor.
func TestBackfillLeavesTheCursorAlone(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	h.sim.Generate("acme", onepasswordtest.StreamItemUsages, 100, time.Now().Add(-100*time.Minute), time.Minute)
	if res := h.run("--source", "itemusage"); res.exit != 0 {
		t.Fatalf("exit %d", res.exit)
	}
	before, _ := os.ReadFile(h.env["OP_STATE_FILE"])
	res := h.run("--source", "itemusage", "--all", "--lookback", "1")
	after, _ := os.ReadFile(h.env["OP_STATE_FILE"])
	if res.exit != 0 || !bytes.Equal(before, after) {
		t.Fatalf("exit %d; state changed: %v", res.exit, !bytes.Equal(before, after))
	}
	n := 0
	for _, l := range res.lines {
		if uuidOf(l) != "" {
			n++
		}
	}
	if n < 55 || n > 62 {
		t.Fatalf("--all --lookback 1 delivered %d events, want the last hour (~60)", n)
	}
}

// TestNothingOnStderrByDefault: Wazuh turns a wodle's stderr into events,
// so even a failing run prints nothing there unless asked.
func TestNothingOnStderrByDefault(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	h.sim.Inject(onepasswordtest.Fault{Kind: onepasswordtest.FaultInternalError, Count: 50})
	res := h.run("--http-attempts", "1")
	if res.exit != exitFailed || res.stderr != "" {
		t.Fatalf("exit %d, stderr %q", res.exit, res.stderr)
	}
}

func TestConfigurationErrors(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	for _, c := range []struct {
		args []string
		env  map[string]string
		code string
	}{
		{args: []string{"--source", "nope"}, code: "CONFIG_INVALID"},
		{args: []string{"--max-bytes", "999999999"}, code: "CONFIG_INVALID"},
		{env: map[string]string{"OP_PAGE_LIMIT": "1001"}, code: "CONFIG_INVALID"},
		{env: map[string]string{"OP_BEARER_TOKEN": ""}, code: "CONFIG_MISSING_CREDENTIAL"},
		{env: map[string]string{"OP_BASE_URL": "http://events.example.com"}, code: "CONFIG_INVALID"},
	} {
		saved := map[string]string{}
		for k, v := range c.env {
			saved[k] = h.env[k]
			h.env[k] = v
		}
		res := h.run(c.args...)
		for k, v := range saved {
			h.env[k] = v
		}
		errs := errorsOf(t, res.lines)
		if res.exit != exitUsage || len(errs) == 0 || errs[0]["error_code"] != c.code {
			t.Errorf("%v %v: exit %d, errors %s; want exit 2 and %s", c.args, c.env, res.exit, codes(errs), c.code)
		}
	}
}
