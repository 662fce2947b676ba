package awstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InstallHint is how to get moto_server; every failure to start it says so.
const InstallHint = "pip install 'moto[server]'"

const motoStartTimeout = 30 * time.Second

// Moto is a running moto_server on a loopback port.
type Moto struct {
	// Endpoint is the server's base URL, http://127.0.0.1:<port>.
	Endpoint string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *limitedBuffer
}

// StartMoto starts a private moto_server for this test and stops it when
// the test ends. A missing moto_server fails the test: a silently skipped
// store test would hide a broken store.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	m, err := startMoto()
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	t.Cleanup(m.Stop)
	return m
}

// shared is the one moto_server of a test binary that runs Main. It is the
// only package-level mutable state: start-up costs about a second, and
// tests that use unique table and secret names can share one server.
var shared struct {
	enabled bool // set by Main before any test runs; read-only afterwards
	once    sync.Once
	moto    *Moto
	err     error
}

// Main is a TestMain body: it gives the process the dummy AWS environment,
// runs the tests, and stops the shared moto_server if one was started.
func Main(m *testing.M) {
	if err := SetProcessEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "awstest: set test environment: %v\n", err)
		os.Exit(2)
	}
	shared.enabled = true
	code := m.Run()
	if shared.moto != nil {
		shared.moto.Stop()
	}
	os.Exit(code)
}

// SharedMoto returns the test binary's shared moto_server, starting it on
// first use. Tests must use unique resource names (UniqueName). Without
// Main there is nobody to stop a shared server, so the test gets a private
// one instead.
func SharedMoto(t testing.TB) *Moto {
	t.Helper()
	if !shared.enabled {
		return StartMoto(t)
	}
	shared.once.Do(func() { shared.moto, shared.err = startMoto() })
	if shared.err != nil {
		t.Fatalf("awstest: %v", shared.err)
	}
	return shared.moto
}

func startMoto() (*Moto, error) {
	path, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server (moto 5.x) is not on PATH; install it with %s: %w", InstallHint, err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m, err := launch(path)
		if err == nil {
			return m, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// launch starts moto_server on a port the kernel picks when moto binds it
// (port 0), read back from the line its server prints. A port picked
// beforehand and handed over could be taken by another test process in
// between: moto then failed to bind and exited, while that process's
// server answered the readiness probe, so the tests talked to a stranger
// (404s, then refused connections when it went away).
func launch(path string) (*Moto, error) {
	m := &Moto{
		exited: make(chan struct{}),
		log:    &limitedBuffer{max: 16 << 10},
	}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", "0")
	cmd.Stdout = m.log
	cmd.Stderr = m.log
	// Own process group, so Stop also reaches anything the launcher
	// (a pyenv shim, a venv wrapper) forked; SIGKILL on our death, so a test
	// binary killed by -timeout does not leave a server holding a port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// moto reads these for its own boto3 calls; dummy values keep it from
	// looking for real credentials.
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION="+Region, "AWS_EC2_METADATA_DISABLED=true")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server (install it with %s): %w", InstallHint, err)
	}
	m.cmd = cmd
	go func() {
		cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitReady(); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// listening is the line moto's server (werkzeug) prints once it is bound.
var listening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:[0-9]+)`)

// waitReady waits for moto to print the port it bound, then for it to
// answer there.
func (m *Moto) waitReady() error {
	client := LoopbackHTTPClient()
	client.Timeout = time.Second
	deadline := time.Now().Add(motoStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			return fmt.Errorf("moto_server exited during start-up (is moto 5.x installed? %s); output:\n%s", InstallHint, m.log.String())
		default:
		}
		if m.Endpoint == "" {
			if found := listening.FindStringSubmatch(m.log.String()); found != nil {
				m.Endpoint = found[1]
			} else {
				time.Sleep(50 * time.Millisecond)
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/", nil)
		resp, err := client.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("moto_server did not print its port and answer on it within %s; output:\n%s", motoStartTimeout, m.log.String())
}

// Stop kills the server and waits for it to exit. Calling it twice is fine.
func (m *Moto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	// The whole group: see launch.
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
	}
}

// Output returns the beginning of the server's log, for diagnostics.
func (m *Moto) Output() string { return m.log.String() }

// UniqueName returns a name for a table or secret that no other test in
// the process (or a previous run against the same server) uses. It keeps
// to the characters both DynamoDB table names and Secrets Manager names
// allow.
func UniqueName(t testing.TB, prefix string) string {
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := b.String()
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	return prefix + "-" + name + "-" + strings.ToLower(rand.Text()[:10])
}

// limitedBuffer keeps the first max bytes written to it: start-up errors
// come first, and moto logs one line per request afterwards.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
