package e2e

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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

// binary is localrun, built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "proofpoint-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "localrun")
	build := exec.Command("go", "build", "-o", binary, "github.com/wazuh-pull/wazuh-pull/localrun")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build builds it
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building localrun:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// host is a simulator tenant and the wodle's directory.
type host struct {
	t    *testing.T
	sim  *proofpointtest.Server
	cred proofpointtest.Credentials
	dir  string
	env  map[string]string
}

func newHost(t *testing.T, opts proofpointtest.Options) *host {
	t.Helper()
	h := &host{t: t, sim: proofpointtest.New(opts), dir: t.TempDir()}
	t.Cleanup(h.sim.Close)
	h.cred = h.sim.AddTenant("acme", proofpointtest.Tenant{})
	h.env = map[string]string{
		"PP_PRINCIPAL":    h.cred.Principal,
		"PP_SECRET":       h.cred.Secret,
		"PP_BASE_URL":     h.sim.URL,
		"PP_STATE_FILE":   filepath.Join(h.dir, "state.json"),
		"PP_SECRETS_FILE": filepath.Join(h.dir, "absent.secrets"),
		"PATH":            os.Getenv("PATH"),
	}
	return h
}

// proc is a running localrun whose stdout is read line by line.
type proc struct {
	cmd    *exec.Cmd
	lines  chan []byte
	done   chan struct{}
	stderr bytes.Buffer
}

func (h *host) start(args ...string) *proc {
	h.t.Helper()
	cmd := exec.Command(binary, args...)
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, lines: make(chan []byte, 1<<16), done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		defer close(p.lines)
		r := bufio.NewReaderSize(out, 1<<20)
		for {
			l, err := r.ReadBytes('\n')
			if len(l) > 0 {
				p.lines <- l
			}
			if err != nil {
				if err != io.EOF {
					h.t.Errorf("reading stdout: %v", err)
				}
				return
			}
		}
	}()
	return p
}

type result struct {
	exit   int
	lines  [][]byte
	stderr string
}

func (p *proc) wait(t *testing.T, read [][]byte) result {
	t.Helper()
	for l := range p.lines {
		read = append(read, l)
	}
	<-p.done
	p.cmd.Wait()
	res := result{lines: read, stderr: p.stderr.String(), exit: p.cmd.ProcessState.ExitCode()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.exit = -int(ws.Signal())
	}
	return res
}

func (h *host) run(args ...string) result {
	h.t.Helper()
	return h.start(args...).wait(h.t, nil)
}

// pp is the namespace object of a line; a line that is not the seed's
// envelope fails the test.
func pp(t *testing.T, l []byte) map[string]any {
	t.Helper()
	if len(l) == 0 || l[len(l)-1] != '\n' {
		t.Fatalf("partial line %q", l)
	}
	var m map[string]any
	if err := json.Unmarshal(l, &m); err != nil || m["integration"] != "proofpoint" {
		t.Fatalf("not a Proofpoint line (%v): %.200s", err, l)
	}
	return m["pp"].(map[string]any)
}

// tally counts the events of lines by identity and returns the error
// codes and run summaries.
func tally(t *testing.T, got map[string]int, lines [][]byte) (errs []string, sums []map[string]any) {
	t.Helper()
	for _, l := range lines {
		m := pp(t, l)
		switch m["event_type"] {
		case "error":
			errs = append(errs, fmt.Sprint(m["error_code"]))
		case "run_summary":
			sums = append(sums, m)
		default:
			if id := proofpointtest.LineIdentity(m); id != "" {
				got[id]++
			} else {
				t.Fatalf("unexpected line %.200s", l)
			}
		}
	}
	return errs, sums
}

func (h *host) expected(after time.Time) map[string]bool {
	want := map[string]bool{}
	for _, e := range h.sim.Events("acme") {
		if e.Status != "falsePositive" && !e.Created.Before(after) {
			want[e.Identity] = true
		}
	}
	return want
}

func exactlyOnce(t *testing.T, got map[string]int, want map[string]bool) {
	t.Helper()
	var problems []string
	for id := range want {
		if got[id] != 1 {
			problems = append(problems, fmt.Sprintf("%s ×%d", id, got[id]))
		}
	}
	for id := range got {
		if !want[id] {
			problems = append(problems, "unexpected "+id)
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Fatalf("%d of %d events wrong, e.g. %v", len(problems), len(want), problems[:min(5, len(problems))])
	}
}

// TestLiveWodleRunsDeliverEveryEventOnce runs `localrun proofpoint` as a
// wodle every two seconds while TAP keeps indexing events, up to 15
// seconds late, some to several recipients, some clicks retroactive. The
// overlap (36 s) and safety lag (3 s) are scaled down with the lag so the
// test takes under a minute of real time: every event must come out
// exactly once.
func TestLiveWodleRunsDeliverEveryEventOnce(t *testing.T) {
	h := newHost(t, proofpointtest.Options{Empty: proofpointtest.EmptyMixed})
	t0 := time.Now().UTC()
	n := h.sim.Generate("acme", proofpointtest.Traffic{From: t0.Add(-40 * time.Second), To: t0.Add(20 * time.Second), MessagesPerHour: 3600, ClicksPerHour: 1800, MaxIndexLag: 15 * time.Second, Retroactive: 0.2})
	h.env["PP_LOOKBACK_HOURS"] = "0.05" // 3 minutes
	h.env["PP_OVERLAP_MINUTES"] = "0.6"
	h.env["PP_SAFETY_LAG_SECONDS"] = "3"
	h.env["PP_SOURCE"] = "siem"
	got := map[string]int{}
	runs := 0
	for end := t0.Add(20*time.Second + 15*time.Second + 3*time.Second + 2*time.Second); time.Now().Before(end); time.Sleep(2 * time.Second) {
		res := h.run("proofpoint")
		runs++
		errs, sums := tally(t, got, res.lines)
		if res.exit != 0 || len(errs) > 0 || len(sums) != 1 || sums[0]["siem_success"] != true {
			t.Fatalf("run %d: exit %d, errors %v, summaries %v, stderr %s", runs, res.exit, errs, sums, res.stderr)
		}
	}
	exactlyOnce(t, got, h.expected(t0.Add(-3*time.Minute)))
	reqs := h.sim.Requests()
	for _, r := range reqs {
		if r.Status != 200 && r.Status != 204 {
			t.Fatalf("request %s answered %d", r.Query, r.Status)
		}
	}
	if len(reqs) > runs+1 {
		t.Errorf("%d requests for %d runs: a wodle run should make one", len(reqs), runs)
	}
	t.Logf("%d events, %d runs, %d requests", n, runs, len(reqs))
}

// TestKilledCatchUpLosesNothing SIGKILLs `localrun proofpoint` at seeded
// random points of a three-day catch-up (a request in flight, lines being
// printed) and reruns it until it has caught up. Every event arrives,
// and each kill repeats at most one window. Replay with CRASH_SEED=<seed>.
func TestKilledCatchUpLosesNothing(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("CRASH_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x99))
	h := newHost(t, proofpointtest.Options{})
	now := time.Now().UTC()
	h.sim.Generate("acme", proofpointtest.Traffic{From: now.Add(-72 * time.Hour), To: now.Add(-time.Hour), MessagesPerHour: 40, ClicksPerHour: 20})
	h.env["PP_LOOKBACK_HOURS"] = "73"
	h.env["PP_SOURCE"] = "siem"
	got := map[string]int{}
	const kills = 10
	killed := 0
	phases := map[string]int{}
	for run := 0; killed < kills && run < 40; run++ {
		phase := []string{"fetch", "print"}[rng.IntN(2)]
		if phase == "fetch" {
			h.sim.Inject(proofpointtest.Fault{Endpoint: "/v2/siem/all", Kind: proofpointtest.FaultSlow, Delay: 500 * time.Millisecond})
		}
		p := h.start("proofpoint")
		var lines [][]byte
		kill := func() {
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err == nil {
				killed++
				phases[phase]++
			}
		}
		if phase == "fetch" {
			time.Sleep(time.Duration(100+rng.IntN(250)) * time.Millisecond)
			kill()
		} else {
			target := 1 + rng.IntN(300)
			for l := range p.lines {
				lines = append(lines, l)
				if len(lines) == target {
					kill()
					break
				}
			}
		}
		res := p.wait(t, lines)
		h.sim.ClearFaults()
		// A killed process may end its output with a partial line: Wazuh
		// drops it; so does this test.
		if n := len(res.lines); n > 0 && !bytes.HasSuffix(res.lines[n-1], []byte("\n")) {
			res.lines = res.lines[:n-1]
		}
		tally(t, got, res.lines)
		t.Logf("run %d: %s kill, exit %d, %d lines", run, phase, res.exit, len(res.lines))
	}
	if killed < kills {
		t.Fatalf("only %d kills landed", killed)
	}
	for run := 0; ; run++ {
		res := h.run("proofpoint")
		errs, sums := tally(t, got, res.lines)
		if res.exit != 0 || len(errs) > 0 {
			t.Fatalf("final run %d: exit %d, errors %v: %s", run, res.exit, errs, res.stderr)
		}
		if len(sums) == 1 && sums[0]["siem_backlog"] == false {
			break
		}
		if run > 10 {
			t.Fatal("did not catch up")
		}
	}
	maxWindow := 0
	for _, r := range h.sim.Requests() {
		maxWindow = max(maxWindow, r.Events)
	}
	dups := 0
	for id, n := range got {
		if n > 1 {
			dups += n - 1
			got[id] = 1
		}
	}
	exactlyOnce(t, got, h.expected(now.Add(-73*time.Hour)))
	if dups > kills*maxWindow {
		t.Fatalf("%d duplicates after %d kills; a window holds at most %d events", dups, kills, maxWindow)
	}
	t.Logf("kills by phase %v, %d duplicates (largest window %d events)", phases, dups, maxWindow)
}

// TestCheck runs `localrun check proofpoint`: credentials, API and both
// streams reported, no secret printed; a wrong secret fails.
func TestCheck(t *testing.T) {
	h := newHost(t, proofpointtest.Options{})
	res := h.run("check", "proofpoint")
	out := strings.Join(func() []string {
		var s []string
		for _, l := range res.lines {
			s = append(s, string(l))
		}
		return s
	}(), "")
	if res.exit != 0 || !strings.Contains(out, "TAP API ") || !strings.Contains(out, "stream siem") || !strings.Contains(out, "stream people") || strings.Count(out, "will run") != 2 {
		t.Fatalf("exit %d:\n%s%s", res.exit, out, res.stderr)
	}
	h.env["PP_SECRET"] = "wrong-" + proofpointtest.SecretCanary
	res = h.run("check", "proofpoint", "--source", "siem")
	all := res.stderr
	for _, l := range res.lines {
		all += string(l)
	}
	if res.exit == 0 || !strings.Contains(all, "401") || strings.Contains(all, proofpointtest.SecretCanary) {
		t.Fatalf("wrong secret: exit %d:\n%s", res.exit, all)
	}
}
