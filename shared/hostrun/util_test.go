package hostrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFileRefusesLinks: a link planted where the log file goes must
// not make a root process append to another file.
func TestLogFileRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "localrun.log")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if f, err := openLogFile(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		f.Close()
		t.Fatalf("link accepted: %v", err)
	}
	if _, err := openLogFile(dir); err == nil {
		t.Fatal("a directory accepted as log file")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("victim changed: %q", b)
	}
	f, err := openLogFile(filepath.Join(dir, "real.log"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
