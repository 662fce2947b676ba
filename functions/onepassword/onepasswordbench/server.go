package onepasswordbench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Options configure a served tenant.
type Options struct {
	Seed   uint64
	Events int // over the three streams
	// Step is the mean time between two events of a stream (default
	// 300 ms); the last events are a minute old.
	Step  time.Duration
	Token string
	// ContentLength sends Content-Length instead of chunked bodies.
	ContentLength bool
}

// Server is a running opbenchd.
type Server struct {
	URL string
	Gen *Gen // the same events, for the benchmark's own checks
	cmd *exec.Cmd
}

// Build compiles opbenchd into dir and returns its path.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "opbenchd")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordbench/opbenchd")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building opbenchd: %v\n%s", err, out)
	}
	return bin
}

// Start runs the server binary bin for opts; it stops when the benchmark
// ends.
func Start(tb testing.TB, bin string, opts Options) *Server {
	tb.Helper()
	if opts.Step == 0 {
		opts.Step = 300 * time.Millisecond
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	perStream := (opts.Events + 2) / 3
	start := time.Now().Add(-time.Duration(perStream+1)*opts.Step - time.Minute).UTC().Truncate(time.Second)
	args := []string{"-seed", strconv.FormatUint(opts.Seed, 10), "-events", strconv.Itoa(opts.Events),
		"-start", strconv.FormatInt(start.UnixNano(), 10), "-step", opts.Step.String(), "-token", opts.Token}
	if opts.ContentLength {
		args = append(args, "-content-length")
	}
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting opbenchd: %v", err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
	if err != nil || !ok {
		tb.Fatalf("opbenchd did not start: %q, %v", line, err)
	}
	return &Server{URL: url, Gen: NewGen(opts.Seed, start, opts.Step, opts.Events), cmd: cmd}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

func (s *Server) String() string { return fmt.Sprintf("opbenchd %s", s.URL) }
