package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
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

// TestRun packages a static Linux binary for this machine, built the way
// make package builds functions (CGO_ENABLED=0, -trimpath), and checks
// what it reports and what it wrote; the same binary is then refused for
// the other architecture, and no zip is left behind.
func TestRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Fatalf("Lambda packages are Linux binaries; run this test on Linux (GOOS=%s)", runtime.GOOS)
	}
	dir := t.TempDir()
	bin := buildStatic(t, dir)
	out := filepath.Join(dir, "fn.zip")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-arch", runtime.GOARCH, "-o", out, bin}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	binInfo, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s: %d bytes (bootstrap %d bytes, ", out, fi.Size(), binInfo.Size())
	if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(stdout.String(), "-rwxr-xr-x") {
		t.Errorf("stdout = %q, want it to start with %q and name the mode", stdout.String(), want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q on success", stderr.String())
	}
	// The zip holds the binary, byte for byte, as the only entry.
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip entries: %v", zr.File)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	zr.Close()
	orig, _ := os.ReadFile(bin)
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("the zipped bootstrap differs from the binary (%v)", err)
	}
	// Deterministic: packaging again gives the same bytes.
	first, _ := os.ReadFile(out)
	if code := run([]string{"-arch", runtime.GOARCH, "-o", out, bin}, &stdout, &stderr); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr.String())
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(first, again) {
		t.Errorf("packaging the same binary twice gave different zips")
	}

	// The wrong architecture is refused and the zip removed.
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"-arch", other, "-o", out, bin}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "machine") {
		t.Errorf("wrong arch: exit %d, %s", code, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused package was left behind")
	}
}

// TestRunRefusesDynamicBinaries packages an executable that needs the
// dynamic loader (the system's own sh): refused, saying why, no zip left.
func TestRunRefusesDynamicBinaries(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh on PATH: %v", err)
	}
	sh, err = filepath.EvalSymlinks(sh)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "fn.zip")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-arch", runtime.GOARCH, "-o", out, sh}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "dynamic loader") {
		t.Fatalf("%s: exit %d, stderr %q; want exit 1 naming the dynamic loader", sh, code, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused package was left behind")
	}
}

// buildStatic builds a small static program for this machine as make
// package builds functions.
func buildStatic(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
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
