package lambdatest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdazip"
)

// BuildPackage runs the two steps of `make package` for the function's
// main package pkg (an import path) into dir: the static arm64
// cross-build with the Makefile's flags, then infra/cmd/zipbootstrap,
// which zips and checks. It returns the zip, named zipName.
func BuildPackage(t testing.TB, pkg, dir, zipName string) string {
	t.Helper()
	bin := filepath.Join(dir, "bootstrap")
	zip := filepath.Join(dir, zipName)
	build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w -X main.version=test", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-build for arm64: %v\n%s", err, out)
	}
	pack := exec.Command("go", "run", "github.com/wazuh-pull/wazuh-pull/infra/cmd/zipbootstrap", "-arch", "arm64", "-o", zip, bin)
	if out, err := pack.CombinedOutput(); err != nil {
		t.Fatalf("zipbootstrap: %v\n%s", err, out)
	}
	return zip
}

// CheckPackage checks the function's deployment package the way Lambda
// will use it: provided.al2023 on arm64 executes the single file
// "bootstrap". It builds one (BuildPackage), and checks as well the one a
// `make package` left in dist/zipName, which is what would be deployed.
func CheckPackage(t *testing.T, pkg, zipName string) {
	t.Helper()
	zips := []string{BuildPackage(t, pkg, t.TempDir(), zipName)}
	if gomod, err := exec.Command("go", "env", "GOMOD").Output(); err == nil {
		dist := filepath.Join(filepath.Dir(strings.TrimSpace(string(gomod))), "dist", zipName)
		if _, err := os.Stat(dist); err == nil {
			zips = append(zips, dist)
		}
	}
	for _, z := range zips {
		info, err := lambdazip.Check(z, lambdazip.Want{Machine: elf.EM_AARCH64, MaxZipBytes: 15 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if info.Machine != elf.EM_AARCH64 || info.Mode.Perm() != 0o755 || info.ZipBytes >= 15<<20 {
			t.Errorf("%s: %+v", z, info)
		}
		t.Logf("%s: zip %d bytes, bootstrap %d bytes, %v, %v", z, info.ZipBytes, info.BootstrapBytes, info.Machine, info.Mode)
	}
}
