package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// runVia runs localrun through another program (prefix), which then is
// the process that reads its output, and returns what it printed.
func (h *harness) runVia(prefix []string, args ...string) result {
	h.t.Helper()
	cmd := exec.Command(prefix[0], append(append(prefix[1:], binary, "onepassword"), args...)...)
	cmd.Env = h.environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	res := result{stderr: stderr.String()}
	if cmd.ProcessState == nil {
		h.t.Fatalf("%s: %v", prefix[0], err)
	}
	res.exit = cmd.ProcessState.ExitCode()
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		res.lines = append(res.lines, append(sc.Bytes(), '\n'))
	}
	return res
}

// wodleSummary returns the run summary's "wodle" object.
func wodleSummary(t *testing.T, lines [][]byte) (map[string]any, map[string]any) {
	t.Helper()
	s := summaries(t, lines)
	if len(s) != 1 {
		t.Fatalf("%d run summaries, want 1", len(s))
	}
	w, _ := s[0]["wodle"].(map[string]any)
	if w == nil {
		t.Fatalf("run summary without a wodle object: %v", s[0])
	}
	return s[0], w
}

// storedAudit reads the audit stream's record from the state file.
func storedAudit(t *testing.T, h *harness) (cursor json.RawMessage, pending map[string]json.RawMessage) {
	t.Helper()
	b, err := os.ReadFile(h.env["OP_STATE_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Streams map[string]struct {
			Cursor  json.RawMessage            `json:"cursor"`
			Pending map[string]json.RawMessage `json:"pending"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	rec := doc.Streams["default/1password/audit"]
	return rec.Cursor, rec.Pending
}

// TestPendingCommitFollowsTheReader runs localrun outside wazuh-modulesd,
// where the default is today's commit-on-read, and with --commit pending,
// where the process that reads the output (this test, or a `timeout`
// wrapper, which is not a shell) decides: a pending position is promoted
// by the next run the same reader starts and discarded by any other, whose
// run reads those events again. Nothing is lost either way.
func TestPendingCommitFollowsTheReader(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	const total, perRun = 3000, 600
	h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, total, time.Now().Add(-20*time.Hour), 2*time.Second)
	d := newDelivery()
	base := []string{"--source", "audit", "--page-limit", "100", "--rate-limit", "-1", "--max-events", "600"}
	self := filepath.Base(os.Args[0])
	if len(self) > 15 {
		self = self[:15] // the kernel keeps 15 bytes of a command name
	}

	// Default outside modulesd: the cursor moves when the reader took the lines.
	res := h.run(base...)
	_, w := wodleSummary(t, res.lines)
	if w["commit"] != "immediate" || w["reader"] != self || w["max_events_from"] != "--max-events" || w["max_events"] != json.Number("600") {
		t.Fatalf("default run outside modulesd: wodle summary %v; want commit immediate, reader %s, max_events 600 from --max-events", w, self)
	}
	if cursor, pending := storedAudit(t, h); len(cursor) == 0 || pending != nil {
		t.Fatalf("immediate run stored cursor %s and pending %v; want a cursor and no pending position", cursor, pending)
	}
	d.add(res.lines)

	pending := append([]string{"--commit", "pending"}, base...)
	type step struct {
		via     []string // nil: started by this test
		outcome any      // what became of the pending position left before
		dups    int
	}
	steps := []step{
		{outcome: nil, dups: 0},        // writes a pending position
		{outcome: "promoted", dups: 0}, // same reader: promoted, continues after it
		{via: []string{"timeout", "120"}, outcome: "discarded", dups: perRun}, // another reader: reads the last run again
		{outcome: "discarded", dups: perRun},                                  // and so does this one: its pending came from timeout
		{outcome: "promoted", dups: 0},
	}
	for i, st := range steps {
		var res result
		if st.via == nil {
			res = h.run(pending...)
		} else {
			res = h.runVia(st.via, pending...)
		}
		if res.exit != exitOK {
			t.Fatalf("step %d: exit %d: %s", i, res.exit, res.stderr)
		}
		sum, w := wodleSummary(t, res.lines)
		var outcome any
		if p, ok := w["pending"].(map[string]any); ok {
			outcome = p["audit"]
		}
		wantReader := self
		if st.via != nil {
			wantReader = st.via[0]
		}
		if w["commit"] != "pending" || w["reader"] != wantReader || outcome != st.outcome {
			t.Fatalf("step %d: wodle summary %v; want commit pending, reader %s, pending outcome %v", i, w, wantReader, st.outcome)
		}
		events, dups := d.add(res.lines)
		if events != perRun || dups != st.dups || sum["audit_events"] != json.Number("600") {
			t.Fatalf("step %d: %d events, %d repeated (summary %v); want %d events, %d repeated", i, events, dups, sum["audit_events"], perRun, st.dups)
		}
		if _, p := storedAudit(t, h); p == nil || !strings.Contains(string(p["reader"]), wantReader) {
			t.Fatalf("step %d: stored pending position %v, want one tagged with %s", i, p, wantReader)
		}
	}
	for i := 0; ; i++ {
		res := h.run(pending...)
		if res.exit != exitOK {
			t.Fatalf("catch-up: exit %d", res.exit)
		}
		if _, dups := d.add(res.lines); dups > 0 {
			t.Fatalf("catch-up run %d repeated %d events", i, dups)
		}
		if sum, _ := wodleSummary(t, res.lines); sum["audit_backlog"] == false {
			break
		}
		if i > total/perRun {
			t.Fatal("did not catch up")
		}
	}
	if miss := d.missing(h.sim.EventIDs("acme", onepasswordtest.StreamAuditEvents)); len(miss) > 0 {
		t.Fatalf("%d events never delivered", len(miss))
	}
}

// TestWodleOptionsAreChecked: a wrong --commit or --wodle-interval is a
// usage error reported on stdout too, before anything is collected.
func TestWodleOptionsAreChecked(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--commit", "sometimes"}, want: "--commit"},
		{env: map[string]string{"WAZUH_PULL_COMMIT": "later"}, want: "--commit"},
		{args: []string{"--commit", "pending", "--sink", "tcp://127.0.0.1:9"}, want: "stdout sink only"},
		{args: []string{"--wodle-interval", "5 minutes"}, want: "--wodle-interval"},
		{env: map[string]string{"WAZUH_PULL_WODLE_INTERVAL": "0"}, want: "--wodle-interval"},
	} {
		for k, v := range c.env {
			h.env[k] = v
		}
		res := h.run(c.args...)
		for k := range c.env {
			delete(h.env, k)
		}
		if res.exit != exitUsage || !strings.Contains(res.stderr, c.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want %d naming %s", c.args, c.env, res.exit, res.stderr, exitUsage, c.want)
			continue
		}
		errs := errorsOf(t, res.lines)
		if len(errs) != 1 || errs[0]["error_code"] != "CONFIG_INVALID" {
			t.Errorf("%v %v: error events %v, want one CONFIG_INVALID", c.args, c.env, errs)
		}
	}
}
