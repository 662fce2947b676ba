// Package rietest runs a function's bootstrap binary under the AWS Lambda
// Runtime Interface Emulator (aws-lambda-rie) on loopback ports, so tests
// exercise the real runtime API: init phase, invocation deadlines,
// timeouts with SIGTERM, and the JSON the function really returns.
//
// The emulator serves one invocation at a time (two concurrent invokes
// crash it), so RIE.Invoke serialises; run several emulators for
// concurrency. A timed-out or failed invocation still answers HTTP 200:
// read Result.
//
// aws-lambda-rie must be installed (make deps, or the go install command
// in InstallHint); without it Start fails the test, it does not skip.
package rietest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the emulator version the project pins (the Makefile's
// RIE_VERSION; see docs/testing.md for what the tests rely on about it).
const Version = "v0.0.0-20261030222936-bef5c4ba774d"

// InstallHint says how to get aws-lambda-rie; every failure to find it
// says so.
const InstallHint = "make deps (or: go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@" + Version + ")"

// Find returns the aws-lambda-rie path: PATH first, then GOBIN and
// GOPATH/bin, where go install puts it (a plain `go test` may not have
// them on PATH; make does).
func Find() (string, error) {
	return find(exec.LookPath, os.Getenv("GOBIN"), filepath.SplitList(build.Default.GOPATH))
}

func find(lookPath func(string) (string, error), gobin string, gopaths []string) (string, error) {
	if p, err := lookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	var dirs []string
	if gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, gp := range gopaths {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "aws-lambda-rie")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("aws-lambda-rie is not installed (looked on PATH and in %s); install it with %s", strings.Join(dirs, ", "), InstallHint)
}

// Build builds the function package pkg (an import path) for the host
// architecture, the way make package builds it for arm64 (static,
// -tags lambda.norpc, trimmed), into dir, and returns the binary's path.
func Build(t testing.TB, pkg, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rietest: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Options configure an emulator.
type Options struct {
	// Bootstrap is the function binary.
	Bootstrap string
	// Env is added to the test process's environment (KEY=VALUE); later
	// entries win. The emulator passes it on to the function.
	Env []string
	// Timeout is the function timeout, whole seconds (default 30).
	Timeout int
	// StartTimeout bounds waiting for the emulator to listen (default 10s).
	StartTimeout time.Duration
}

// RIE is a running emulator.
type RIE struct {
	// URL is the invocation endpoint.
	URL string

	t       testing.TB
	cmd     *exec.Cmd
	exited  chan struct{}
	out     *logBuffer
	client  *http.Client
	invokes sync.Mutex // the emulator handles one invocation at a time
}

// Start launches aws-lambda-rie with opts.Bootstrap on two free loopback
// ports (the invoke endpoint and the runtime API) and stops both when the
// test ends.
func Start(t testing.TB, opts Options) *RIE {
	t.Helper()
	bin, err := Find()
	if err != nil {
		t.Fatalf("rietest: %v", err)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	ports := freePorts(t, 2)
	invokeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	r := &RIE{
		URL:    "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		t:      t,
		exited: make(chan struct{}),
		out:    &logBuffer{max: 32 << 20},
		client: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
	}
	cmd := exec.Command(bin,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		"--log-level", "info",
		opts.Bootstrap)
	cmd.Dir = filepath.Dir(opts.Bootstrap)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(opts.Timeout))
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Stdout, cmd.Stderr = r.out, r.out
	// SIGKILL on our death, so a test binary killed by -timeout leaves no
	// emulator holding ports. The function process is the emulator's
	// child in its own process group; Stop ends it too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("rietest: start %s: %v", bin, err)
	}
	r.cmd = cmd
	go func() { cmd.Wait(); close(r.exited) }()
	t.Cleanup(r.Stop)
	deadline := time.Now().Add(opts.StartTimeout)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-r.exited:
			t.Fatalf("rietest: aws-lambda-rie exited during start-up; output:\n%s", r.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rietest: aws-lambda-rie not listening on %s after %v; output:\n%s", invokeAddr, opts.StartTimeout, r.Log())
		}
	}
	return r
}

// Result is the emulator's answer to one invocation.
type Result struct {
	Status  int
	Body    []byte
	Elapsed time.Duration
	// TimedOut is true when the function ran past its timeout.
	TimedOut bool
	// ErrorType and ErrorMessage are set when the handler returned an
	// error (or the runtime failed).
	ErrorType    string
	ErrorMessage string
}

// Decode unmarshals a successful invocation's body into v.
func (res *Result) Decode(v any) error {
	if res.TimedOut || res.ErrorType != "" {
		return fmt.Errorf("rietest: invocation did not succeed: %s", res)
	}
	if err := json.Unmarshal(res.Body, v); err != nil {
		return fmt.Errorf("rietest: decode %q: %w", res.Body, err)
	}
	return nil
}

func (res *Result) String() string {
	switch {
	case res.TimedOut:
		return fmt.Sprintf("timed out after %v", res.Elapsed.Round(time.Millisecond))
	case res.ErrorType != "":
		return fmt.Sprintf("error %s: %s", res.ErrorType, res.ErrorMessage)
	}
	return fmt.Sprintf("HTTP %d %s", res.Status, res.Body)
}

// Invoke sends payload and waits for the answer. Invocations of one
// emulator are serialised.
func (r *RIE) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	r.invokes.Lock()
	defer r.invokes.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rietest: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("rietest: invoke: read answer: %w", err)
	}
	res := &Result{Status: resp.StatusCode, Body: body, Elapsed: time.Since(start)}
	if bytes.HasPrefix(body, []byte("Task timed out after")) {
		res.TimedOut = true
		return res, nil
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) == nil && fe.ErrorType != "" {
		res.ErrorType, res.ErrorMessage = fe.ErrorType, fe.ErrorMessage
	}
	if resp.StatusCode != http.StatusOK && res.ErrorType == "" {
		return res, fmt.Errorf("rietest: invoke answered HTTP %d: %q", resp.StatusCode, body)
	}
	return res, nil
}

// Log returns what the emulator and the function printed so far (the
// function's stdout and stderr are the emulator's).
func (r *RIE) Log() string { return r.out.String() }

// JSONLines returns the output lines that are JSON objects (the function's
// structured logs and metric lines).
func (r *RIE) JSONLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.Log()))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDurations returns the init phase durations the emulator measured
// (process start to the runtime's first request for work), one per cold
// start so far.
func (r *RIE) InitDurations() []time.Duration {
	var out []time.Duration
	for _, m := range initReport.FindAllStringSubmatch(r.Log(), -1) {
		ms, err := strconv.ParseFloat(m[1], 64)
		if err == nil {
			out = append(out, time.Duration(ms*float64(time.Millisecond)))
		}
	}
	return out
}

// WaitInitDurations waits until the emulator's output holds at least n
// init reports, or ctx ends, and returns the reports there are. The
// emulator's output reaches the log through a pipe, which a loaded machine
// may drain after the invocation's answer has arrived.
func (r *RIE) WaitInitDurations(ctx context.Context, n int) []time.Duration {
	for {
		d := r.InitDurations()
		if len(d) >= n {
			return d
		}
		select {
		case <-ctx.Done():
			return d
		case <-r.exited:
			return r.InitDurations()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop kills the function process and the emulator. Calling it twice is
// fine.
func (r *RIE) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	// The function runs in its own process group (the emulator's
	// supervisor sets one); end it first, or it would linger until its
	// next runtime API call fails.
	for _, pid := range children(r.cmd.Process.Pid) {
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.t.Errorf("rietest: aws-lambda-rie did not exit after SIGKILL")
	}
}

// FunctionPID is the process id of the function (the emulator's child
// running the bootstrap), 0 before the first invocation started it.
func (r *RIE) FunctionPID() int {
	if kids := children(r.cmd.Process.Pid); len(kids) > 0 {
		return kids[0]
	}
	return 0
}

// children lists the direct child processes of pid (Linux /proc).
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("rietest: find a free port: %v", err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range lns {
		l.Close()
	}
	return ports
}

// logBuffer keeps up to max bytes of output.
type logBuffer struct {
	mu   sync.Mutex
	max  int
	buf  bytes.Buffer
	lost int
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
			b.lost += len(p) - room
		} else {
			b.buf.Write(p)
		}
	} else {
		b.lost += len(p)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lost > 0 {
		return b.buf.String() + fmt.Sprintf("\n… %d bytes of output not kept\n", b.lost)
	}
	return b.buf.String()
}
