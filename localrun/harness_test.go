package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// binary is the localrun executable built once for the package's tests:
// the end-to-end tests exercise the real process (signals, exit statuses,
// stdout pipe), not a function call.
var binary string

func TestMain(m *testing.M) {
	// The package's procs/onep import started this test binary on one P,
	// as it starts localrun; the tests themselves (simulators in this
	// process beside the localrun processes they start) run as other
	// packages' tests do.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.SetDefaultGOMAXPROCS()
	}
	dir, err := os.MkdirTemp("", "localrun-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "localrun")
	build := exec.Command("go", "build", "-o", binary, ".")
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

// harness is a simulator account plus a state directory.
type harness struct {
	t     testing.TB
	sim   *onepasswordtest.Server
	token string
	dir   string
	env   map[string]string
}

func newHarness(t testing.TB, opts onepasswordtest.Options) *harness {
	t.Helper()
	if opts.RateLimitPerMinute == 0 {
		opts.RateLimitPerMinute, opts.RateLimitPerHour = -1, -1
	}
	sim := onepasswordtest.New(opts)
	t.Cleanup(sim.Close)
	h := &harness{t: t, sim: sim, dir: t.TempDir()}
	h.token = sim.AddAccount("acme", onepasswordtest.Account{Seed: 11})
	h.env = map[string]string{
		"OP_BEARER_TOKEN":   h.token,
		"OP_BASE_URL":       sim.URL,
		"OP_STATE_FILE":     filepath.Join(h.dir, "state.json"),
		"OP_SECRETS_FILE":   filepath.Join(h.dir, "absent.secrets"),
		"OP_LOOKBACK_HOURS": "48",
		"PATH":              os.Getenv("PATH"),
	}
	return h
}

func (h *harness) environ() []string {
	var out []string
	for k, v := range h.env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// result is one finished localrun process.
type result struct {
	exit   int
	lines  [][]byte
	stderr string
	wall   time.Duration
	rusage *syscall.Rusage
}

// proc is a running localrun process whose stdout is read continuously,
// like Wazuh's wodle reader does.
type proc struct {
	cmd    *exec.Cmd
	lines  chan []byte
	done   chan struct{}
	stderr bytes.Buffer
	start  time.Time
	all    [][]byte
}

func (h *harness) startProc(args ...string) *proc {
	h.t.Helper()
	cmd := exec.Command(binary, append([]string{"onepassword"}, args...)...)
	cmd.Env = h.environ()
	p := &proc{cmd: cmd, lines: make(chan []byte, 1<<16), done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		defer close(p.lines)
		r := bufio.NewReaderSize(out, 1<<20)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				p.lines <- line
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

// wait collects every line and the exit status.
func (p *proc) wait(t testing.TB) result {
	t.Helper()
	for l := range p.lines {
		p.all = append(p.all, l)
	}
	<-p.done
	err := p.cmd.Wait()
	res := result{lines: p.all, stderr: p.stderr.String(), wall: time.Since(p.start)}
	if p.cmd.ProcessState != nil {
		res.exit = p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.exit = -int(ws.Signal())
		}
		res.rusage, _ = p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	} else if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return res
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.startProc(args...).wait(h.t)
}

// decode parses every line; a line that is not one JSON object fails the test.
func decode(t testing.TB, lines [][]byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines {
		if len(l) == 0 || l[len(l)-1] != '\n' {
			t.Fatalf("partial line: %q", l)
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(l))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("line is not JSON: %v: %q", err, l)
		}
		out = append(out, m)
	}
	return out
}

// op returns the namespace object of a decoded line.
func op(m map[string]any) map[string]any {
	o, _ := m["op"].(map[string]any)
	return o
}

// uuidOf finds the event uuid in a line without decoding it (fast enough
// for a million lines).
func uuidOf(line []byte) string {
	const key = `{"integration":"1password","op":{"uuid":"`
	if !bytes.HasPrefix(line, []byte(key)) {
		return ""
	}
	rest := line[len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return string(rest[:end])
}

func eventType(line []byte) string {
	i := bytes.LastIndex(line, []byte(`"event_type":"`))
	if i < 0 {
		return ""
	}
	rest := line[i+len(`"event_type":"`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// summaries returns the run_summary events of a run.
func summaries(t testing.TB, lines [][]byte) []map[string]any {
	var out []map[string]any
	for _, m := range decode(t, lines) {
		if op(m)["event_type"] == "run_summary" {
			out = append(out, op(m))
		}
	}
	return out
}

func errorsOf(t testing.TB, lines [][]byte) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if eventType(l) == "error" {
			out = append(out, op(decode(t, [][]byte{l})[0]))
		}
	}
	return out
}

func codes(errs []map[string]any) string {
	var c []string
	for _, e := range errs {
		c = append(c, fmt.Sprint(e["error_code"]))
	}
	return strings.Join(c, ",")
}
