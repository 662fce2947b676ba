// Package rsyslogtest runs a private rsyslogd with the project's shipped
// mutual-TLS relay configuration (rules/relay), in front of a stand-in for
// wazuh-remoted, so that tests can check end to end what a real relay does
// with our lines. Everything listens on loopback only and is torn down by
// t.Cleanup. Senders need PKI.Client* (identity ClientName), unless
// Options.PermittedPeers names others.
//
// rsyslogd must be installed (apt-get install rsyslog rsyslog-gnutls
// rsyslog-openssl, or make deps); without it Start fails the test, it does
// not skip.
package rsyslogtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/rules/relay"
)

// InstallHint says how to get rsyslogd; it is part of the failure message.
const InstallHint = "apt-get install rsyslog rsyslog-gnutls rsyslog-openssl (or make deps)"

// Options change how the relay is rendered.
type Options struct {
	// Queue is the relay's queue durability; "" = relay.QueueDirect, the
	// shipped default.
	Queue relay.Queue
	// ExpiredCert makes the relay present PKI.ExpiredServerCertPEM.
	ExpiredCert bool
	// CountOnly makes the downstream count lines instead of keeping them,
	// for benchmarks that send millions.
	CountOnly bool
	// StartTimeout bounds each start; default 1 minute. It only bounds a
	// failure: a start returns as soon as both listeners answer, and a
	// restart on a busy machine (TLS set-up, a SIGKILLed predecessor's
	// queue) can take many seconds.
	StartTimeout time.Duration
	// PermittedPeers are the sender identities the relay accepts; default
	// ClientName (PKI.Client*).
	PermittedPeers []string
	// RemotedPort, when set, makes the relay forward to that port on
	// 127.0.0.1 (a real wazuh-remoted, see shared/wazuhlab) instead of a
	// Downstream stand-in; Relay.Downstream is then nil.
	RemotedPort int
}

// Relay is a running private rsyslogd plus its downstream.
type Relay struct {
	PKI        *PKI
	Downstream *Downstream
	// Addr is the relay's one input: mutual TLS, a client certificate for
	// a permitted peer required. MTLSAddr is the same address, under the
	// name it had when the relay also took anonymous clients.
	Addr, MTLSAddr string
	Dir            string // config, certificates, queue and log
	ConfPath       string // the rendered shipped configuration
	LogPath        string // rsyslogd's own output, across restarts

	t       testing.TB
	opts    Options
	bin     string
	pidPath string
	ports   []int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// sbinDirs are searched after PATH: a non-root PATH often lacks them.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// FindRsyslogd returns the rsyslogd path, looking on PATH and then in the
// sbin directories.
func FindRsyslogd() (string, error) {
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, "rsyslogd")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("rsyslogd not found on PATH: install it with %s", InstallHint)
}

// Start renders the shipped relay configuration for loopback, starts
// rsyslogd and waits until its input listens.
func Start(t testing.TB, opts Options) *Relay {
	t.Helper()
	bin, err := FindRsyslogd()
	if err != nil {
		t.Fatalf("rsyslogtest: %v", err)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = time.Minute
	}
	dir := t.TempDir()
	var down *Downstream
	if opts.RemotedPort == 0 {
		down = StartDownstream(t, !opts.CountOnly)
	}
	r := &Relay{
		PKI:        NewPKI(t),
		Downstream: down,
		Dir:        dir,
		ConfPath:   filepath.Join(dir, "rsyslog-wazuh-relay.conf"),
		LogPath:    filepath.Join(dir, "rsyslogd.log"),
		t:          t,
		opts:       opts,
		bin:        bin,
		pidPath:    filepath.Join(dir, "rsyslogd.pid"),
		ports:      freePorts(t, 1),
	}
	if len(r.opts.PermittedPeers) == 0 {
		r.opts.PermittedPeers = []string{ClientName}
	}
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.ports[0]))
	r.MTLSAddr = r.Addr
	r.writeConfig()
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("rsyslogd output (%s):\n%s", r.LogPath, r.Log())
		}
	})
	r.start()
	return r
}

func (r *Relay) writeConfig() {
	t := r.t
	t.Helper()
	certPEM, keyPEM := r.PKI.ServerCertPEM, r.PKI.ServerKeyPEM
	if r.opts.ExpiredCert {
		certPEM, keyPEM = r.PKI.ExpiredServerCertPEM, r.PKI.ExpiredServerKeyPEM
	}
	work := filepath.Join(r.Dir, "queue")
	files := map[string][]byte{"ca.pem": r.PKI.CAPEM, "server.pem": certPEM, "server.key": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(r.Dir, name), b, 0o600); err != nil {
			t.Fatalf("rsyslogtest: %v", err)
		}
	}
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatalf("rsyslogtest: %v", err)
	}
	conf, err := relay.Render(relay.Params{
		WorkDir:        work,
		ListenAddress:  "127.0.0.1",
		Port:           r.ports[0],
		CAFile:         filepath.Join(r.Dir, "ca.pem"),
		CertFile:       filepath.Join(r.Dir, "server.pem"),
		KeyFile:        filepath.Join(r.Dir, "server.key"),
		PermittedPeers: r.opts.PermittedPeers,
		RemotedHost:    "127.0.0.1",
		RemotedPort:    r.remotedPort(),
		Queue:          r.opts.Queue,
	})
	if err != nil {
		t.Fatalf("rsyslogtest: rendering the shipped relay config: %v", err)
	}
	if err := os.WriteFile(r.ConfPath, []byte(conf), 0o600); err != nil {
		t.Fatalf("rsyslogtest: %v", err)
	}
}

// remotedPort is where the relay forwards: the Downstream, or the real
// remoted of Options.RemotedPort.
func (r *Relay) remotedPort() int {
	if r.Downstream == nil {
		return r.opts.RemotedPort
	}
	return r.Downstream.Port()
}

// start launches rsyslogd and waits for its listeners. -n keeps it in the
// foreground, -f and -i point it at our own config and pid file, so it never
// touches the system instance; the config loads no imuxsock or imklog.
func (r *Relay) start() {
	t := r.t
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		t.Fatalf("rsyslogtest: rsyslogd is already running")
	}
	os.Remove(r.pidPath) // a SIGKILLed instance leaves it behind
	logf, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("rsyslogtest: %v", err)
	}
	fmt.Fprintf(logf, "--- rsyslogtest: starting rsyslogd at %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(r.bin, "-n", "-f", r.ConfPath, "-i", r.pidPath)
	cmd.Dir = r.Dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("rsyslogtest: starting %s: %v", r.bin, err)
	}
	logf.Close() // the child has its own descriptor
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	r.cmd, r.done = cmd, done

	deadline := time.Now().Add(r.opts.StartTimeout)
	for _, addr := range []string{r.Addr} {
		for !r.listening(addr) {
			select {
			case <-done:
				r.cmd = nil
				t.Fatalf("rsyslogtest: rsyslogd exited during startup (%v); output:\n%s", cmd.ProcessState, r.Log())
			case <-time.After(25 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogtest: rsyslogd not accepting TLS on %s after %v; output:\n%s", addr, r.opts.StartTimeout, r.Log())
			}
		}
	}
}

// Stop sends SIGTERM and waits for rsyslogd to exit (SIGKILL after 15s).
// It does nothing when rsyslogd is not running.
func (r *Relay) Stop() { r.signal(syscall.SIGTERM, 15*time.Second) }

// Kill sends SIGKILL and waits for rsyslogd to exit.
func (r *Relay) Kill() { r.signal(syscall.SIGKILL, 10*time.Second) }

// Restart starts rsyslogd again (after Stop or Kill, or stopping it first)
// with the same configuration, ports and queue directory.
func (r *Relay) Restart() {
	r.t.Helper()
	r.Stop()
	r.start()
}

// Running reports whether rsyslogd is up.
func (r *Relay) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd != nil
}

func (r *Relay) signal(sig syscall.Signal, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(wait):
		r.t.Errorf("rsyslogtest: rsyslogd did not exit %v after %v; killing it", wait, sig)
		r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// Log returns rsyslogd's output so far.
func (r *Relay) Log() string {
	b, err := os.ReadFile(r.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const max = 16 << 10
	if len(b) > max {
		b = append([]byte("…"), b[len(b)-max:]...)
	}
	return string(bytes.TrimSpace(b))
}

// Lines returns the lines the downstream received (see Downstream.Lines).
func (r *Relay) Lines() []string { return r.Downstream.Lines() }

// WaitLines waits for at least n lines at the downstream.
func (r *Relay) WaitLines(n int, timeout time.Duration) ([]string, error) {
	return r.Downstream.WaitLines(n, timeout)
}

// freePorts reserves n distinct free loopback ports. They are released
// before rsyslogd binds them; a clash is unlikely and shows as a start
// failure naming the ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("rsyslogtest: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
