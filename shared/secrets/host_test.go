package secrets

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPriorityChain(t *testing.T) {
	dir := t.TempDir()
	credDir := filepath.Join(dir, "creds")
	os.Mkdir(credDir, 0o700)
	file := filepath.Join(dir, ".secrets")
	os.WriteFile(file, []byte("# comment\nOP_BEARER_TOKEN='from-file'\nOTHER=\"x y\"\n"), 0o640)
	vars := map[string]string{"bearer_token": "OP_BEARER_TOKEN"}
	e := map[string]string{"OP_BEARER_TOKEN": "from-env", "CREDENTIALS_DIRECTORY": credDir}
	h := &Host{Vars: vars, SecretsFile: file, Getenv: env(e), Redactor: redact.New()}

	got, err := h.Get(context.Background())
	if err != nil || got["bearer_token"] != "from-file" {
		t.Fatalf("file over env: %v %v", got, err)
	}
	os.WriteFile(filepath.Join(credDir, "op_bearer_token"), []byte("from-systemd\n"), 0o600)
	if got, _ := h.Get(context.Background()); got["bearer_token"] != "from-systemd" {
		t.Fatalf("systemd over file: %v", got)
	}
	h.SecretsFile = filepath.Join(dir, "missing")
	os.Remove(filepath.Join(credDir, "op_bearer_token"))
	if got, err := h.Get(context.Background()); err != nil || got["bearer_token"] != "from-env" {
		t.Fatalf("missing file is skipped: %v %v", got, err)
	}
	if s := h.Redactor.String("from-systemd from-file from-env"); strings.Contains(s, "from-") {
		t.Fatalf("resolved values not registered for redaction: %s", s)
	}
}

func TestWritableSecretsFileRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".secrets")
	os.WriteFile(file, []byte("OP_BEARER_TOKEN=CANARY-zz9\n"), 0o600)
	os.Chmod(file, 0o666)
	_, err := ReadSecretsFile(file)
	if err == nil || !strings.Contains(err.Error(), "writable") || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseSecrets(t *testing.T) {
	m, err := ParseSecrets([]byte("A=1\n  export B = \"two words\" \nC='q'\nD=\"unbalanced\n\n# x=y\nE=a=b\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "q", "D": `"unbalanced`, "E": "a=b"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if _, err := ParseSecrets([]byte("SECRETVALUE-no-equals\n")); err == nil || strings.Contains(err.Error(), "SECRETVALUE") {
		t.Fatalf("bad line: err = %v", err)
	}
}

func FuzzParseSecrets(f *testing.F) {
	f.Add([]byte("A=1\nB='2'\n# c\n"))
	f.Add([]byte("export X=\"y\"\n=bad\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSecrets(b)
		if err != nil {
			// An error names a line number only: no content of the file.
			if strings.Contains(err.Error(), "=") && len(b) > 0 {
				for _, line := range strings.Split(string(b), "\n") {
					if len(line) > 8 && strings.Contains(err.Error(), line) {
						t.Fatalf("error quotes the input: %v", err)
					}
				}
			}
			return
		}
		for k, v := range m {
			if k == "" || strings.ContainsAny(k, "\n=") || strings.Contains(v, "\n") {
				t.Fatalf("bad pair %q=%q", k, v)
			}
		}
		again, _ := ParseSecrets(b)
		if len(again) != len(m) {
			t.Fatal("not deterministic")
		}
	})
}

// A world-readable secrets file still works (the seed accepted it) but is
// reported, once per Host, without its content.
func TestWorldReadableSecretsFileWarns(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".secrets")
	os.WriteFile(file, []byte("OP_BEARER_TOKEN=CANARY-zz9\n"), 0o600)
	var logs strings.Builder
	h := &Host{
		Vars: map[string]string{"bearer_token": "OP_BEARER_TOKEN"}, SecretsFile: file, Getenv: env(nil),
		Redactor: redact.New(), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	for _, mode := range []os.FileMode{0o600, 0o640} {
		os.Chmod(file, mode)
		if got, err := h.Get(context.Background()); err != nil || got["bearer_token"] != "CANARY-zz9" {
			t.Fatalf("mode %v: %v %v", mode, got, err)
		}
	}
	if logs.Len() != 0 {
		t.Fatalf("warned about a file others cannot read: %s", logs.String())
	}
	os.Chmod(file, 0o644)
	for range 2 {
		if got, err := h.Get(context.Background()); err != nil || got["bearer_token"] != "CANARY-zz9" {
			t.Fatalf("world-readable file refused: %v %v", got, err)
		}
	}
	out := logs.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "readable by every user") || !strings.Contains(out, file) || strings.Contains(out, "CANARY") {
		t.Fatalf("want one warning naming the file and not its content, got:\n%s", out)
	}
	for _, mode := range []os.FileMode{0o660, 0o646} {
		os.Chmod(file, mode)
		if _, err := h.Get(context.Background()); err == nil || !strings.Contains(err.Error(), "writable") {
			t.Fatalf("mode %v: err = %v, want a refusal", mode, err)
		}
	}
}

func TestHostRegistersOnlySecretFields(t *testing.T) {
	red := redact.New()
	h := &Host{Vars: map[string]string{"token": "T_TOKEN", "base_url": "T_BASE_URL"}, Public: []string{"base_url"}, Redactor: red,
		Getenv: func(k string) string {
			return map[string]string{"T_TOKEN": "secret-token-123", "T_BASE_URL": "https://api.example.org"}[k]
		}}
	if _, err := h.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := red.String("token secret-token-123 at https://api.example.org"); strings.Contains(got, "secret-token-123") || !strings.Contains(got, "https://api.example.org") {
		t.Fatalf("redacted: %q", got)
	}
}
