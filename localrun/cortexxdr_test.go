package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
)

// The real localrun binary, `localrun cortexxdr`, against the Cortex XDR
// simulator on the real clock. The collector's lag is set to one second
// (XDR_LAG), so that what a test adds is read by its next run.

const xdrFQDN = "acme.xdr.eu.paloaltonetworks.com"

type xdrHarness struct {
	t   *testing.T
	sim *cortexxdrtest.Server
	key string
	dir string
	env map[string]string
}

func newXDRHarness(t *testing.T, opts cortexxdrtest.Options, tn cortexxdrtest.Tenant) *xdrHarness {
	t.Helper()
	if opts.RateLimit == 0 {
		opts.RateLimit = -1 // these tests run unpaced (--rate-limit -1)
	}
	sim := cortexxdrtest.New(opts)
	t.Cleanup(sim.Close)
	sim.AddTenant(xdrFQDN, tn)
	id, key := sim.AddKey(xdrFQDN, cortexxdrtest.Key{})
	h := &xdrHarness{t: t, sim: sim, key: key, dir: t.TempDir()}
	h.env = map[string]string{
		"XDR_FQDN":           "https://api-" + xdrFQDN + "/",
		"XDR_API_KEY_ID":     id,
		"XDR_API_KEY":        key,
		"XDR_BASE_URL":       sim.URL,
		"XDR_STATE_FILE":     filepath.Join(h.dir, "state.json"),
		"XDR_SECRETS_FILE":   filepath.Join(h.dir, "absent.secrets"),
		"XDR_LOOKBACK_HOURS": "24",
		"XDR_LAG":            "1s",
		"PATH":               os.Getenv("PATH"),
	}
	return h
}

func (h *xdrHarness) start(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"cortexxdr", "--rate-limit", "-1"}, args...)...)
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	sort.Strings(cmd.Env)
	return cmd
}

// xdrRun is one finished process: its complete lines (a line cut by a
// kill is dropped, as Wazuh drops it) and how it ended.
type xdrRun struct {
	exit   int
	lines  [][]byte
	stderr string
}

func (h *xdrHarness) run(args ...string) xdrRun {
	h.t.Helper()
	cmd := h.start(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	return xdrRun{exit: cmd.ProcessState.ExitCode(), lines: splitLines(out), stderr: stderr.String()}
}

func splitLines(out []byte) [][]byte {
	var lines [][]byte
	for _, l := range bytes.SplitAfter(out, []byte{'\n'}) {
		if len(l) > 0 && l[len(l)-1] == '\n' {
			lines = append(lines, l)
		}
	}
	return lines
}

// xdrLine is the part of a line the tests look at.
type xdrLine struct {
	Integration string `json:"integration"`
	X           struct {
		Type      string `json:"type"`
		ErrorCode string `json:"error_code"`
		Source    string `json:"error_source"`
		Meta      struct {
			Tenant string `json:"tenant"`
			Stream string `json:"stream"`
			Key    string `json:"dedup_key"`
		} `json:"wazuh_pull"`
	} `json:"xdr"`
	fields map[string]any
}

func xdrLines(t *testing.T, lines [][]byte) []xdrLine {
	t.Helper()
	var out []xdrLine
	for _, l := range lines {
		var x xdrLine
		if err := json.Unmarshal(l, &x); err != nil || x.Integration != "cortex_xdr" || x.X.Type == "" {
			t.Fatalf("not a Cortex XDR line: %v: %q", err, l)
		}
		json.Unmarshal(l, &x.fields)
		out = append(out, x)
	}
	return out
}

// count adds the lines' events to counts (by type, then dedup key) and
// returns the run summaries and error events.
func count(t *testing.T, lines [][]byte, counts map[string]map[string]int) (sums, errs []map[string]any) {
	for _, x := range xdrLines(t, lines) {
		switch x.X.Type {
		case "run_summary":
			sums = append(sums, x.fields["xdr"].(map[string]any))
		case "error":
			errs = append(errs, x.fields["xdr"].(map[string]any))
		default:
			if counts[x.X.Type] == nil {
				counts[x.X.Type] = map[string]int{}
			}
			counts[x.X.Type][x.X.Meta.Key]++
		}
	}
	return sums, errs
}

func TestCortexXDRLiveRuns(t *testing.T) {
	h := newXDRHarness(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{})
	now := time.Now()
	var specs []cortexxdrtest.AlertSpec
	for i := 0; i < 450; i++ {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: now.Add(-3 * time.Hour).Add(time.Duration(i) * 20 * time.Second)})
	}
	ids := h.sim.AddAlerts(xdrFQDN, specs)
	inc := h.sim.AddIncident(xdrFQDN, cortexxdrtest.IncidentSpec{Created: now.Add(-2 * time.Hour)})
	counts := map[string]map[string]int{}
	for round := 0; round < 3; round++ {
		res := h.run()
		if res.exit != 0 || res.stderr != "" {
			t.Fatalf("round %d: exit %d, stderr %q", round, res.exit, res.stderr)
		}
		if bytes.Contains(bytes.Join(res.lines, nil), []byte(h.key)) {
			t.Fatal("the API key reached stdout")
		}
		sums, errs := count(t, res.lines, counts)
		if len(sums) != 1 || len(errs) != 0 || sums[0]["alerts_success"] != true || sums[0]["incidents_success"] != true || sums[0]["error_source"] != "orchestrator" {
			t.Fatalf("round %d: summaries %v, errors %v", round, sums, errs)
		}
		// What happens before the next run: new alerts (a burst in one
		// millisecond, and one an endpoint uploads hours after detecting
		// it) and the incident's next state. All dated at least the lag
		// before the next run.
		at := time.Now().Add(-time.Second).Truncate(time.Millisecond)
		var more []cortexxdrtest.AlertSpec
		for i := 0; i < 150; i++ {
			more = append(more, cortexxdrtest.AlertSpec{Inserted: at})
		}
		more = append(more, cortexxdrtest.AlertSpec{Inserted: at, Detected: at.Add(-7 * time.Hour)})
		ids = append(ids, h.sim.AddAlerts(xdrFQDN, more)...)
		h.sim.ChangeIncident(xdrFQDN, inc, cortexxdrtest.IncidentChange{At: at, Status: []string{"under_investigation", "resolved_true_positive", "resolved_other"}[round]})
		time.Sleep(1100 * time.Millisecond)
	}
	res := h.run()
	count(t, res.lines, counts)
	for _, id := range ids {
		if counts["alert"][id] != 1 {
			t.Fatalf("alert %s delivered %d times", id, counts["alert"][id])
		}
	}
	if len(counts["alert"]) != len(ids) {
		t.Fatalf("%d alerts delivered, %d exist", len(counts["alert"]), len(ids))
	}
	for _, v := range h.sim.IncidentVersions(xdrFQDN) {
		if counts["incident"][v.Key()] != 1 {
			t.Fatalf("incident change %s (%s) delivered %d times", v.Key(), v.Status, counts["incident"][v.Key()])
		}
	}
	state, _ := os.ReadFile(h.env["XDR_STATE_FILE"])
	if !bytes.Contains(state, []byte(`"default/cortex_xdr/alerts"`)) || bytes.Contains(state, []byte(h.key)) {
		t.Fatalf("state file: %.400s", state)
	}
}

// The seed wodle's state file, with its numeric cursors, is adopted in
// place: what the seed never delivered arrives, the seed's keys stay.
func TestCortexXDRAdoptsTheSeedStateFile(t *testing.T) {
	h := newXDRHarness(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true})
	seedLast := time.Now().Add(-5 * time.Hour)
	var before, after []cortexxdrtest.AlertSpec
	for i := 0; i < 100; i++ {
		at := seedLast.Add(-time.Duration(100-i) * 3 * time.Minute)
		before = append(before, cortexxdrtest.AlertSpec{Inserted: at, Detected: at.Add(-2 * time.Second)})
	}
	delivered := h.sim.AddAlerts(xdrFQDN, before)
	cursor := before[len(before)-1].Detected.UnixMilli() + 1
	for i := 0; i < 100; i++ {
		at := seedLast.Add(time.Duration(i) * time.Minute)
		sp := cortexxdrtest.AlertSpec{Inserted: at}
		if i%4 == 0 {
			sp.Detected = seedLast.Add(-10 * time.Hour) // late upload: before the seed's cursor
		}
		after = append(after, sp)
	}
	missed := h.sim.AddAlerts(xdrFQDN, after)
	seedState := fmt.Sprintf("{\n  \"alerts_cursor\": %d,\n  \"incidents_cursor\": %d\n}", cursor, seedLast.UnixMilli()+1)
	if err := os.WriteFile(h.env["XDR_STATE_FILE"], []byte(seedState), 0o640); err != nil {
		t.Fatal(err)
	}
	res := h.run()
	if res.exit != 0 {
		t.Fatalf("exit %d: %s", res.exit, res.stderr)
	}
	counts := map[string]map[string]int{}
	count(t, res.lines, counts)
	for _, id := range missed {
		if counts["alert"][id] != 1 {
			t.Fatalf("alert %s the seed never delivered arrived %d times", id, counts["alert"][id])
		}
	}
	resent := 0
	for _, id := range delivered {
		resent += counts["alert"][id]
	}
	if resent == 0 || resent > 21 {
		t.Fatalf("%d alerts the seed delivered were re-sent; want those of its last hour (20 or 21)", resent)
	}
	var top map[string]json.RawMessage
	b, _ := os.ReadFile(h.env["XDR_STATE_FILE"])
	if err := json.Unmarshal(b, &top); err != nil || string(top["alerts_cursor"]) != fmt.Sprint(cursor) || top["streams"] == nil {
		t.Fatalf("state file after adoption: %s", b)
	}
	if res = h.run(); len(res.lines) != 1 {
		t.Fatalf("second run re-sent %d lines", len(res.lines)-1)
	}
}

// SIGKILL at random moments of a catch-up: each restart resumes from the
// last page committed, so nothing is lost and at most the page written
// when the process died is sent again.
func TestCortexXDRSurvivesSIGKILLMidCatchUp(t *testing.T) {
	h := newXDRHarness(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Compact: true})
	h.env["XDR_WINDOW_SIZE"] = "300"
	now := time.Now()
	var specs []cortexxdrtest.AlertSpec
	for i := 0; i < 4000; i++ {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: now.Add(-4 * time.Hour).Add(time.Duration(i) * 3 * time.Second)})
	}
	ids := h.sim.AddAlerts(xdrFQDN, specs)
	counts := map[string]map[string]int{}
	rng := rand.New(rand.NewPCG(uint64(now.UnixNano()), 1))
	kills := 0
	for ; kills < 3; kills++ {
		cmd := h.start("--source", "alerts")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Read until a random number of lines arrived, then kill.
		target := 200 + rng.IntN(800)
		r := bufio.NewReaderSize(out, 1<<20)
		var lines [][]byte
		for len(lines) < target {
			l, err := r.ReadBytes('\n')
			if err != nil {
				break
			}
			lines = append(lines, l)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		rest, _ := io.ReadAll(r) // what it wrote before dying is still in the pipe
		cmd.Wait()
		lines = append(lines, splitLines(rest)...)
		count(t, lines, counts)
	}
	res := h.run("--source", "alerts")
	if res.exit != 0 {
		t.Fatalf("final run: exit %d, %s", res.exit, res.stderr)
	}
	count(t, res.lines, counts)
	dups := 0
	for _, id := range ids {
		if counts["alert"][id] == 0 {
			t.Fatalf("alert %s lost", id)
		}
		dups += counts["alert"][id] - 1
	}
	if dups > kills*100 {
		t.Fatalf("%d duplicates after %d kills: more than a page per kill", dups, kills)
	}
	t.Logf("%d kills, %d duplicates", kills, dups)
}

func TestCortexXDRCheck(t *testing.T) {
	h := newXDRHarness(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{Unlicensed: []string{"incidents"}})
	h.sim.AddAlert(xdrFQDN, cortexxdrtest.AlertSpec{Inserted: time.Now().Add(-10 * time.Minute)})
	cmd := exec.Command(binary, "check", "cortexxdr")
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, _ := cmd.Output()
	text := string(out)
	for _, want := range []string{
		"(tenant " + xdrFQDN + ")",
		"tenant default: key " + h.env["XDR_API_KEY_ID"] + ", advanced",
		"tenant default: stream alerts    will run (1 records in the last hour)",
		"tenant default: stream incidents API_HTTP_UNEXPECTED: The Cortex XDR tenant's licence does not include this API (HTTP 402)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("check report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, h.key) {
		t.Fatal("the check report shows the API key")
	}
	h.env["XDR_API_KEY"] = "wrong"
	cmd = exec.Command(binary, "check", "cortexxdr")
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, _ = cmd.Output()
	if cmd.ProcessState.ExitCode() != exitFailed || !strings.Contains(string(out), "API_HTTP_401") {
		t.Fatalf("wrong key: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}
