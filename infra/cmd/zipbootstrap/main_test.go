package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
)

// Every test process gets the dummy AWS environment, whether or not it
// talks to AWS.
func TestMain(m *testing.M) { awstest.Main(m) }

// TestRun packages this test binary itself: a real ELF executable for
// the host, built with the same toolchain.
func TestRun(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "linux" {
		t.Fatalf("Lambda packages are Linux binaries; run this test on Linux (GOOS=%s)", runtime.GOOS)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "fn.zip")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-arch", runtime.GOARCH, "-o", out, self}, &stdout, &stderr)
	// A test binary may be dynamically linked (cgo in the standard
	// library's net package); then the check must say so and leave no zip.
	if code != 0 {
		if !strings.Contains(stderr.String(), "dynamic loader") {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("a refused package was left behind")
		}
		return
	}
	if !strings.Contains(stdout.String(), out+": ") {
		t.Errorf("stdout = %q", stdout.String())
	}
	// The wrong architecture is refused and the zip removed.
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	stderr.Reset()
	if code := run([]string{"-arch", other, "-o", out, self}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "machine") {
		t.Errorf("wrong arch: exit %d, %s", code, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused package was left behind")
	}
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	for _, args := range [][]string{{}, {"-o", "x.zip"}, {"bootstrap"}, {"-arch", "sparc", "-o", "x.zip", "bootstrap"}} {
		stderr.Reset()
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
	if code := run([]string{"-o", filepath.Join(t.TempDir(), "x.zip"), "/nonexistent/bootstrap"}, &stdout, &stderr); code != 1 {
		t.Errorf("missing binary: exit %d", code)
	}
}

// TestStaticBuildPasses builds a small static program the way make
// package builds functions and checks that it is accepted.
func TestStaticBuildPasses(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644)
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-arch", runtime.GOARCH, "-o", filepath.Join(dir, "fn.zip"), bin}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}
